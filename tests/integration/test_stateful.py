"""Random triggers by random actors at random candidacies, with invariants after every step."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from ats.adapters.db.models import AuditEntryRow, CandidacyRow
from ats.domain.roles import FIRING_ROLES
from ats.domain.workflow import WorkflowDefinition
from ats.errors import InvalidInput, TransitionRefused
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger

VACANCIES = ["DVZ-SEC-W1", "CGVS-PROT-W1", "DVZ-MIG-DUB-W1", "RVV-LAW-W3", "FEDASIL-PSY-W2"]
FACT_VALUES = st.one_of(
    st.integers(min_value=-5, max_value=120).map(str),
    st.sampled_from(["true", "false", "master", "bachelor", "secondary", "law", "psychology", "x"]),
)
_emails = itertools.count()


def test_random_triggers_keep_every_invariant(app: App) -> None:
    """States stay in the definition, versions only grow, one audit entry per success, none per refusal."""
    outcomes = {"moved": 0, "refused": 0}

    class Candidacies(RuleBasedStateMachine):
        candidacies = Bundle("candidacies")

        def __init__(self) -> None:
            super().__init__()
            self.expected: dict[int, int] = {}  # candidacy id -> version the model expects

        @initialize()
        def reset(self) -> None:
            self.expected.clear()

        @rule(target=candidacies, vacancy=st.sampled_from(VACANCIES))
        def apply(self, vacancy: str) -> int:
            email = f"person{next(_emails)}@example.org"
            candidacy_id = int(
                app.handle(Apply(vacancy=vacancy, name="Test Person", email=email, language="fr"))
            )
            self.expected[candidacy_id] = 1
            return candidacy_id

        @rule(
            candidacy_id=candidacies,
            data=st.data(),
            reason=st.one_of(st.none(), st.just("because"), st.just("  ")),
        )
        def fire(self, candidacy_id: int, data: st.DataObject, reason: str | None) -> None:
            definition = _definition(app, candidacy_id)
            state = _row(app, candidacy_id)["state"]
            leaving = [t.trigger for t in definition.transitions if state in t.sources]
            # Mostly triggers that leave the current state, so that some succeed.
            trigger = data.draw(
                st.one_of(
                    st.sampled_from(leaving or ["no_such_trigger"]),
                    st.sampled_from([*definition.triggers, "no_such_trigger"]),
                )
            )
            allowed = sorted(
                {r for t in definition.transitions if t.trigger == trigger for r in t.roles}
            )
            role = data.draw(
                st.one_of(
                    st.sampled_from(allowed or ["recruiter"]), st.sampled_from(sorted(FIRING_ROLES))
                )
            )
            names = data.draw(
                st.lists(st.sampled_from(sorted(definition.facts) or ["none"]), max_size=3)
            )
            facts = {name: data.draw(FACT_VALUES) for name in names}
            before = _row(app, candidacy_id)
            try:
                event = app.handle(
                    FireTrigger(
                        candidacy_id=candidacy_id,
                        trigger=trigger,
                        actor=f"hypothesis:{role}",
                        role=role,
                        reason=reason,
                        facts=facts,
                    )
                )
            except (TransitionRefused, InvalidInput):
                assert _row(app, candidacy_id) == before, "a refused action changed something"
                outcomes["refused"] += 1
                return
            after = _row(app, candidacy_id)
            spec = definition.transition(trigger, before["state"])
            assert spec is not None
            assert role in spec.roles
            assert (event.src, event.dst) == (before["state"], spec.dest)
            assert after["state"] == spec.dest
            assert after["version"] == before["version"] + 1
            assert after["audits"] == before["audits"] + 1
            self.expected[candidacy_id] = after["version"]
            outcomes["moved"] += 1

        @invariant()
        def rows_match_the_model(self) -> None:
            for candidacy_id, version in self.expected.items():
                row = _row(app, candidacy_id)
                definition = _definition(app, candidacy_id)
                assert row["state"] in definition.states
                assert row["version"] == version
                assert row["audits"] == version, "one audit entry per transition, apply included"

    run_state_machine_as_test(
        Candidacies,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,  # the same walk on every run, so CI never flickers
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # The run must have exercised both paths, or it proved nothing about them.
    assert outcomes["moved"] > 0
    assert outcomes["refused"] > 0


def _definition(app: App, candidacy_id: int) -> WorkflowDefinition:
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        assert found is not None
        return app.registry.definition(uow, found[0].workflow_version_id)


def _row(app: App, candidacy_id: int) -> dict[str, Any]:
    candidacy, audit = CandidacyRow.__table__, AuditEntryRow.__table__
    with app.engine.connect() as connection:
        row = (
            connection.execute(select(candidacy).where(candidacy.c.id == candidacy_id))
            .mappings()
            .one()
        )
        audits = connection.execute(
            select(func.count()).select_from(audit).where(audit.c.candidacy_id == candidacy_id)
        ).scalar_one()
    return {**row, "audits": audits}
