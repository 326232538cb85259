"""The transition transaction on real databases: compare-and-set, audit, refusals, conflicts."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ats.adapters.db.migrate import schema_drift
from ats.adapters.db.models import AuditEntryRow, CandidacyRow
from ats.adapters.db.store import Candidacies
from ats.clock import ManualClock
from ats.domain.audit import GENESIS
from ats.domain.candidacy import Candidacy
from ats.errors import (
    ConflictError,
    DuplicateApplication,
    InvalidInput,
    NotFound,
    TransitionRefused,
)
from ats.service import queries
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.setup import initialise
from tests.conftest import walk


def _apply(app: App, email: str = "an.peeters@example.org", vacancy: str = "DVZ-SEC-W1") -> int:
    return int(app.handle(Apply(vacancy=vacancy, name="An Peeters", email=email, language="nl")))


def _snapshot(app: App, candidacy_id: int) -> tuple[object, ...]:
    with app.engine.connect() as connection:
        row = connection.execute(
            select(CandidacyRow.__table__).where(CandidacyRow.__table__.c.id == candidacy_id)
        ).one()
        audits = connection.execute(
            select(func.count()).select_from(AuditEntryRow.__table__)
        ).scalar_one()
    return (*row, audits)


def test_apply_opens_a_candidacy_in_the_initial_state_with_one_audit_entry(app: App) -> None:
    """Applying stores the candidacy at version 1 and a first audit entry chained to genesis."""
    candidacy_id = _apply(app)
    detail = queries.candidacy(app, candidacy_id)
    assert detail["state"] == "applied"
    assert detail["version"] == 1
    history = queries.history(app, candidacy_id)
    assert [(h["trigger"], h["from"], h["to"]) for h in history] == [("apply", None, "applied")]
    with app.engine.connect() as connection:
        entry = connection.execute(select(AuditEntryRow.__table__)).mappings().one()
    assert entry["prev_hash"] == GENESIS
    assert entry["candidate_key"] == detail["candidate"]["key"]


def test_a_second_application_to_one_vacancy_is_refused(app: App) -> None:
    """One candidacy per candidate and vacancy; the email is compared normalised."""
    _apply(app, "An.Peeters@Example.org")
    with pytest.raises(DuplicateApplication, match="already applied"):
        _apply(app, "An.Peeters@example.org")
    assert len(queries.candidacies(app)) == 1


def test_the_same_person_may_apply_to_another_vacancy(app: App) -> None:
    """A known email opens a second candidacy on another vacancy for the same candidate."""
    first = _apply(app, vacancy="DVZ-SEC-W1")
    second = _apply(app, vacancy="DVZ-RET-W1")
    keys = {queries.candidacy(app, c)["candidate"]["key"] for c in (first, second)}
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "email"),
        ("email", "x@localhost", "email"),
        ("name", "Eve\r\nBcc: all@example.org", "name"),
        ("language", "es", "language"),
        ("phone", "call me", "phone"),
    ],
)
def test_bad_application_input_is_refused_and_nothing_is_written(
    app: App, field: str, value: str, message: str
) -> None:
    """Malformed emails, header injection in names, unknown languages and phones: InvalidInput."""
    values = {
        "vacancy": "DVZ-SEC-W1",
        "name": "An Peeters",
        "email": "an@example.org",
        "language": "nl",
    }
    values[field] = value
    with pytest.raises(InvalidInput, match=message):
        app.handle(Apply(**values))  # type: ignore[arg-type]
    assert queries.candidacies(app) == []


def test_an_unknown_vacancy_is_not_found(app: App) -> None:
    with pytest.raises(NotFound, match="no vacancy"):
        _apply(app, vacancy="NOPE")


def test_firing_moves_state_bumps_version_and_appends_a_chained_audit_entry(
    app: App, clock: ManualClock
) -> None:
    """A transition is state + version by compare-and-set and one audit entry, chained."""
    candidacy_id = _apply(app)
    clock.advance(timedelta(days=2))
    event = app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="screen",
            actor="recruiter:els",
            role="recruiter",
            facts={"diploma_level": "secondary"},
        )
    )
    assert (event.src, event.dst) == ("applied", "screened")
    detail = queries.candidacy(app, candidacy_id)
    assert detail["version"] == 2
    assert detail["facts"] == {"diploma_level": "secondary"}
    history = queries.history(app, candidacy_id)
    assert history[-1]["actor"] == "recruiter:els"
    assert history[-1]["facts"] == {"diploma_level": "secondary"}
    with app.engine.connect() as connection:
        entries = (
            connection.execute(
                select(AuditEntryRow.__table__).order_by(AuditEntryRow.__table__.c.seq)
            )
            .mappings()
            .all()
        )
        head = connection.execute(select(CandidacyRow.__table__.c.audit_head)).scalar_one()
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    assert head == entries[1]["hash"]
    assert entries[1]["occurred_at"] == clock.now()


def test_a_refused_trigger_explains_itself_and_changes_nothing(app: App) -> None:
    """Wrong role, unmet guard and missing reason are all named; no row changes."""
    candidacy_id = _apply(app)
    before = _snapshot(app, candidacy_id)
    with pytest.raises(TransitionRefused) as refused:
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger="screen",
                actor="panel:jo",
                role="panel",
                facts={"diploma_level": "none"},
            )
        )
    reasons = " | ".join(refused.value.reasons)
    assert "role 'panel' may not fire 'screen'" in reasons
    assert "diploma" in reasons
    assert _snapshot(app, candidacy_id) == before

    with pytest.raises(TransitionRefused, match="needs a reason"):
        app.handle(
            FireTrigger(candidacy_id=candidacy_id, trigger="reject", actor="r", role="recruiter")
        )
    with pytest.raises(TransitionRefused, match="does not leave state 'applied'"):
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id, trigger="accept_offer", actor="r", role="candidate"
            )
        )
    with pytest.raises(TransitionRefused, match="has no trigger 'promote'"):
        app.handle(
            FireTrigger(candidacy_id=candidacy_id, trigger="promote", actor="r", role="recruiter")
        )
    with pytest.raises(InvalidInput, match="unknown fact 'height'"):
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger="screen",
                actor="r",
                role="recruiter",
                facts={"height": "180"},
            )
        )
    assert _snapshot(app, candidacy_id) == before


def test_role_refusal_alone_maps_to_http_403(app: App) -> None:
    """A refusal for the role alone is 'forbidden'; one with unmet guards is 422."""
    candidacy_id = _apply(app)
    with pytest.raises(TransitionRefused) as refused:
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger="screen",
                actor="x",
                role="panel",
                facts={"diploma_level": "master"},
            )
        )
    assert refused.value.http_status == 403


@pytest.mark.parametrize(
    "vacancy",
    [
        "DVZ-SEC-W1",
        "CGVS-PROT-W1",
        "DVZ-MIG-ECO-W1",
        "DVZ-RET-W1",
        "FEDASIL-SOC-W2",
        "FEDASIL-PSY-W2",
        "RVV-LAW-W3",
    ],
)
def test_every_function_walks_from_applied_to_hired(app: App, vacancy: str) -> None:
    """Each job function's workflow reaches hired with facts that satisfy its guards, through
    its interview panel's consensus and a second person's approval of the offer."""
    candidacy_id = _apply(app, vacancy=vacancy)
    definition = walk(app, candidacy_id, "hired", actor="tester")
    assert definition.interview is not None
    triggers = [h["trigger"] for h in queries.history(app, candidacy_id)]
    assert {definition.interview.passed, "request_offer", "approve_offer"} <= set(triggers)
    detail = queries.candidacy(app, candidacy_id)
    assert detail["state"] == "hired"
    assert len(queries.history(app, candidacy_id)) == detail["version"]


def test_a_stale_expected_version_is_a_conflict(app: App) -> None:
    candidacy_id = _apply(app)
    with pytest.raises(ConflictError, match="version 1, not 0"):
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger="withdraw",
                actor="c",
                role="candidate",
                expected_version=0,
            )
        )


def test_two_concurrent_writers_one_wins_the_other_gets_a_conflict(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read version 1 before either writes; compare-and-set lets exactly one commit."""
    candidacy_id = _apply(app)
    both_read = threading.Barrier(2)
    original_save = Candidacies.save

    def save_after_both_read(self: Candidacies, candidacy: Candidacy, **kwargs: Any) -> None:
        both_read.wait(timeout=10)
        original_save(self, candidacy, **kwargs)

    monkeypatch.setattr(Candidacies, "save", save_after_both_read)
    outcomes: list[str] = []

    def fire(trigger: str, role: str, facts: dict[str, object]) -> None:
        try:
            app.handle(
                FireTrigger(
                    candidacy_id=candidacy_id,
                    trigger=trigger,
                    actor=role,
                    role=role,
                    reason="found another job",
                    facts=facts,
                )
            )
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=fire, args=("screen", "recruiter", {"diploma_level": "master"})),
        threading.Thread(target=fire, args=("withdraw", "candidate", {})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "won"]
    assert queries.candidacy(app, candidacy_id)["version"] == 2
    assert len(queries.history(app, candidacy_id)) == 2


def test_the_database_refuses_to_update_or_delete_audit_entries(app: App) -> None:
    """Append-only is enforced by triggers in the database, not by politeness."""
    _apply(app)
    for statement in ("UPDATE audit_entries SET actor = 'mallory'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as connection:
            connection.execute(text(statement))
    with app.engine.connect() as connection:
        actors = connection.execute(text("SELECT actor FROM audit_entries")).scalars().all()
    assert len(actors) == 1
    assert actors[0].startswith("candidate:")


def test_init_is_idempotent_and_the_schema_matches_the_models(app: App) -> None:
    """A second `init` stores no new workflow version and changes no catalogue row."""
    report = initialise(app)
    assert not any(w.new for w in report.workflows)
    assert set(report.drive_changes.values()) == {0}
    assert schema_drift(app.engine) == []


def test_email_addresses_are_stored_in_a_form_every_mail_server_delivers(app: App) -> None:
    """A non-ASCII mailbox is refused; an international domain is kept as punycode."""
    with pytest.raises(InvalidInput, match="email"):
        _apply(app, "zoë@bücher.example")
    candidacy_id = _apply(app, "idn@bücher.example")
    assert queries.candidacy(app, candidacy_id)["candidate"]["email"] == "idn@xn--bcher-kva.example"
