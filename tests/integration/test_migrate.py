"""Workflow versions: candidacies stay pinned; migration is explicit, checked and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ruamel.yaml import YAML

from ats.clock import ManualClock
from ats.domain.workflow import Catalog, WorkflowDefinition, parse_workflow
from ats.errors import MigrationRefused
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger, MigrateWorkflow
from ats.service.handlers import load_workflows
from ats.service.timers import sweep
from tests.conftest import REPO


def _version_two(app: App) -> WorkflowDefinition:
    """security-escort with `screened` renamed to `screening_done`, stored as version 2."""
    source = (REPO / "workflows" / "security-escort.yaml").read_text(encoding="utf-8")
    source = source.replace("screened", "screening_done")
    definition = parse_workflow(
        YAML(typ="rt").load(source), file="security-escort v2", catalog=Catalog()
    )
    loaded = load_workflows(app, [(definition, source)])
    assert [(w.number, w.new) for w in loaded] == [(2, True)]
    return definition


def _screened_candidacy(app: App, email: str) -> int:
    candidacy_id = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="Jo Smets", email=email, language="nl"))
    )
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="screen",
            actor="r",
            role="recruiter",
            facts={"diploma_level": "bachelor"},
        )
    )
    return candidacy_id


def test_a_candidacy_stays_on_the_version_it_started_on(app: App) -> None:
    """Loading a new version changes nothing for candidacies already under way."""
    before = _screened_candidacy(app, "jo@example.org")
    _version_two(app)
    assert queries.candidacy(app, before)["workflow"] == "security-escort v1"
    after = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="Lea", email="lea@example.org", language="fr"))
    )
    assert queries.candidacy(app, after)["workflow"] == "security-escort v2"


def test_migration_refuses_states_without_a_target_and_changes_nothing(app: App) -> None:
    candidacy_id = _screened_candidacy(app, "jo@example.org")
    _version_two(app)
    with pytest.raises(MigrationRefused, match=r"screened \(1 candidacies\)"):
        app.handle(MigrateWorkflow(workflow="security-escort", from_number=1, dry_run=False))
    with pytest.raises(MigrationRefused, match="has no state 'nowhere'"):
        app.handle(
            MigrateWorkflow(
                workflow="security-escort",
                from_number=1,
                state_map={"screened": "nowhere"},
                dry_run=False,
            )
        )
    detail = queries.candidacy(app, candidacy_id)
    assert (detail["workflow"], detail["state"], detail["version"]) == (
        "security-escort v1",
        "screened",
        2,
    )


def test_a_dry_run_plans_and_the_real_run_moves_with_an_audit_entry(app: App) -> None:
    moving = _screened_candidacy(app, "jo@example.org")
    staying = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="An", email="an@example.org", language="nl"))
    )
    _version_two(app)
    command = MigrateWorkflow(
        workflow="security-escort", from_number=1, state_map={"screened": "screening_done"}
    )
    plan = app.handle(command)
    assert not plan.applied
    assert plan.counts() == {("screened", "screening_done"): 1, ("applied", "applied"): 1}
    assert queries.candidacy(app, moving)["workflow"] == "security-escort v1"

    done = app.handle(
        MigrateWorkflow(
            workflow="security-escort",
            from_number=1,
            state_map={"screened": "screening_done"},
            dry_run=False,
        )
    )
    assert done.applied
    detail = queries.candidacy(app, moving)
    assert (detail["workflow"], detail["state"], detail["version"]) == (
        "security-escort v2",
        "screening_done",
        3,
    )
    last = queries.history(app, moving)[-1]
    assert (last["trigger"], last["from"], last["to"]) == ("migrate", "screened", "screening_done")
    assert queries.candidacy(app, staying)["workflow"] == "security-escort v2"
    # The migrated candidacy carries on under the new version's rules.
    app.handle(
        FireTrigger(
            candidacy_id=moving,
            trigger="invite_to_selor",
            actor="r",
            role="recruiter",
            facts={"selor_session_at": "2031-07-24T09:00", "selor_session_place": "Selor"},
        )
    )
    assert queries.candidacy(app, moving)["state"] == "selor_test"


def test_migrating_backwards_is_refused(app: App) -> None:
    _version_two(app)
    with pytest.raises(MigrationRefused, match="forward only"):
        app.handle(MigrateWorkflow(workflow="security-escort", from_number=2, to_number=1))


def test_reloading_an_older_file_makes_its_version_current_again(app: App) -> None:
    """Reverting a workflow file is honoured: new candidacies start on the restored version."""
    _version_two(app)
    source = (REPO / "workflows" / "security-escort.yaml").read_text(encoding="utf-8")
    original = parse_workflow(YAML(typ="rt").load(source), file="v1", catalog=Catalog())
    loaded = load_workflows(app, [(original, source)])
    assert [(w.number, w.new) for w in loaded] == [(1, False)]
    fresh = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="Lea", email="lea@example.org", language="fr"))
    )
    assert queries.candidacy(app, fresh)["workflow"] == "security-escort v1"


def test_a_migration_within_a_state_does_not_repeat_a_sent_reminder(
    app: App, clock: ManualClock
) -> None:
    candidacy_id = _screened_candidacy(app, "jo@example.org")
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="invite_to_selor",
            actor="r",
            role="recruiter",
            facts={"selor_session_at": "2031-07-24T09:00", "selor_session_place": "Selor"},
        )
    )
    clock.advance(timedelta(days=24))
    assert sweep(app, worker="t").reminded == 1
    _version_two(app)
    app.handle(
        MigrateWorkflow(
            workflow="security-escort",
            from_number=1,
            state_map={"screened": "screening_done"},
            dry_run=False,
        )
    )
    clock.advance(timedelta(days=1))
    assert sweep(app, worker="t").reminded == 0, "the reminder went out before the migration"
    clock.advance(timedelta(days=10))
    assert sweep(app, worker="t").fired == 1, "the deadline still stands"
