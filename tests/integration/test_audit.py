"""Tampering with a real database through a raw connection: `verify` catches each kind.

Each test builds a small history, takes a checkpoint where it matters, drops
the guard triggers the way an intruder with database access would, changes
something, and expects `verify` to name the first bad entry.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ats.adapters.db.engine import create_database_engine
from ats.adapters.db.store import AuditLog
from ats.adapters.signing import generate_key
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.domain.audit import AUTHORISATION_FAILED, WORKFLOW_LOADED, AuditEntry
from ats.errors import TransitionRefused
from ats.service import queries
from ats.service.app import App
from ats.service.audit import checkpoint, verify
from ats.service.commands import Apply, FireTrigger
from ats.service.setup import initialise
from ats.settings import Settings

SESSION = {"selor_session_at": "2031-07-24T09:00", "selor_session_place": "Selor, Brussel"}
GUARDS = {
    "sqlite": [
        "DROP TRIGGER audit_entries_no_update",
        "DROP TRIGGER audit_entries_no_delete",
        "DROP TRIGGER audit_checkpoints_no_update",
        "DROP TRIGGER audit_checkpoints_no_delete",
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER audit_entries_no_change ON audit_entries",
        "DROP TRIGGER audit_checkpoints_no_change ON audit_checkpoints",
        "DROP TRIGGER audit_events_no_change ON audit_events",
    ],
}


def _history(app: App, clock: ManualClock) -> list[int]:
    """Three candidacies: one at 'applied', one screened, one screened then invited."""
    ids = []
    for number in range(3):
        clock.advance(timedelta(hours=1))
        ids.append(
            int(
                app.handle(
                    Apply(
                        vacancy="DVZ-SEC-W1",
                        name=f"Person {number}",
                        email=f"p{number}@example.org",
                        language="nl",
                    )
                )
            )
        )
    for candidacy_id in ids[1:]:
        clock.advance(timedelta(hours=1))
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id,
                trigger="screen",
                actor="recruiter:els",
                role="recruiter",
                facts={"diploma_level": "bachelor"},
            )
        )
    clock.advance(timedelta(hours=1))
    app.handle(
        FireTrigger(
            candidacy_id=ids[2],
            trigger="invite_to_selor",
            actor="recruiter:els",
            role="recruiter",
            facts=SESSION,
        )
    )
    return ids


def _tamper(app: App, *statements: str, **params: Any) -> None:
    with app.engine.begin() as connection:
        for statement in GUARDS[app.engine.dialect.name]:
            connection.execute(text(statement))
        for statement in statements:
            if statement.startswith("DELETE FROM audit_entries"):
                # A tamperer removes the texts kept beside the entries too (foreign key).
                where = statement.partition(" WHERE ")[2] or "1 = 1"
                texts = f"DELETE FROM audit_texts WHERE entry_id IN (SELECT id FROM audit_entries WHERE {where})"  # noqa: S608 - the test's own literals
                connection.execute(text(texts), params)
            connection.execute(text(statement), params)


def _only_damage(app: App, **kwargs: Any) -> tuple[str, int | None, str]:
    report = verify(app, **kwargs)
    assert not report.ok, "verify did not notice"
    assert len(report.damage) == 1, [str(d) for d in report.damage]
    damage = report.damage[0]
    return damage.chain, damage.seq, damage.what


def test_an_untouched_log_verifies(app: App, clock: ManualClock) -> None:
    _history(app, clock)
    checkpoint(app)
    report = verify(app)
    assert report.ok, [str(d) for d in report.damage]
    assert (report.entries, report.chains, report.checkpoints) == (6, 3, 1)
    assert report.events == 7  # the seven workflows loaded by init


def test_a_changed_field_is_a_hash_mismatch_at_that_entry(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    _tamper(
        app,
        "UPDATE audit_entries SET actor = 'recruiter:mallory' WHERE candidacy_id = :c AND seq = 2",
        c=ids[2],
    )
    assert _only_damage(app) == (f"candidacy {ids[2]}", 2, "hash mismatch: the entry was altered")


def test_a_deleted_entry_is_a_gap_naming_the_missing_one(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    _tamper(app, "DELETE FROM audit_entries WHERE candidacy_id = :c AND seq = 2", c=ids[2])
    chain, seq, what = _only_damage(app)
    assert (chain, seq) == (f"candidacy {ids[2]}", 2)
    assert "gap in sequence" in what


def test_two_swapped_entries_are_caught_at_the_first(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    _tamper(
        app,
        "UPDATE audit_entries SET seq = 100 WHERE candidacy_id = :c AND seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE candidacy_id = :c AND seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE candidacy_id = :c AND seq = 100",
        c=ids[2],
    )
    chain, seq, what = _only_damage(app)
    assert (chain, seq) == (f"candidacy {ids[2]}", 2)
    assert "prev_hash" in what or "hash mismatch" in what


def test_a_truncated_tail_is_missing(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    _tamper(app, "DELETE FROM audit_entries WHERE candidacy_id = :c AND seq = 3", c=ids[2])
    chain, seq, what = _only_damage(app)
    assert (chain, seq) == (f"candidacy {ids[2]}", 3)
    assert "missing tail" in what


def test_a_tail_cut_together_with_the_candidacy_row_is_caught_by_the_checkpoint(
    app: App, clock: ManualClock
) -> None:
    """Rewinding the candidacy row too hides the cut from the chain, not from the checkpoint."""
    ids = _history(app, clock)
    checkpoint(app)
    with app.engine.connect() as connection:
        second = connection.execute(
            text("SELECT hash FROM audit_entries WHERE candidacy_id = :c AND seq = 2"),
            {"c": ids[2]},
        ).scalar_one()
    _tamper(
        app,
        "DELETE FROM audit_entries WHERE candidacy_id = :c AND seq = 3",
        "UPDATE candidacies SET version = 2, state = 'screened', audit_head = :h WHERE id = :c",
        c=ids[2],
        h=second,
    )
    chain, seq, what = _only_damage(app)
    assert (chain, seq) == (f"candidacy {ids[2]}", 3)
    assert "checkpoint 1 recorded this entry" in what


def test_a_deleted_chain_is_caught(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    _tamper(app, "DELETE FROM audit_entries WHERE candidacy_id = :c", c=ids[1])
    chain, _, what = _only_damage(app)
    assert chain == f"candidacy {ids[1]}"
    assert "whole chain is missing" in what


def test_a_state_set_behind_the_engines_back_is_caught(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    _tamper(app, "UPDATE candidacies SET state = 'hired' WHERE id = :c", c=ids[0])
    chain, seq, what = _only_damage(app)
    assert (chain, seq) == (f"candidacy {ids[0]}", 1)
    assert "state 'hired'" in what


def test_an_illegal_step_rewritten_with_valid_hashes_is_caught(
    app: App, clock: ManualClock
) -> None:
    """Someone who recomputes hashes still cannot make an illegal step legal."""
    ids = _history(app, clock)
    with app.engine.connect() as connection:
        row = dict(
            connection.execute(
                text("SELECT * FROM audit_entries WHERE candidacy_id = :c AND seq = 2"),
                {"c": ids[1]},
            )
            .mappings()
            .one()
        )
    fields = {k: row[k] for k in AuditEntry.__dataclass_fields__}
    fields["role"] = "candidate"  # a candidate may not screen themself
    fields["occurred_at"] = datetime.fromisoformat(queries.history(app, ids[1])[1]["at_utc"])
    fields["facts"] = {"diploma_level": "bachelor"}
    forged = AuditEntry(**fields)
    _tamper(
        app,
        "UPDATE audit_entries SET role = 'candidate', hash = :h WHERE candidacy_id = :c AND seq = 2",
        "UPDATE candidacies SET audit_head = :h WHERE id = :c",
        c=ids[1],
        h=forged.hash,
    )
    chain, seq, what = _only_damage(app)
    assert (chain, seq) == (f"candidacy {ids[1]}", 2)
    assert "role 'candidate' may not fire 'screen'" in what


def test_a_database_rolled_back_to_an_older_copy_fails_against_an_exported_checkpoint(
    app: App, clock: ManualClock, settings: Settings, tmp_path: Path
) -> None:
    ids = _history(app, clock)
    checkpoint(app)
    older = tmp_path / "older.sqlite3"
    if app.engine.dialect.name == "sqlite":
        app.engine.dispose()
        shutil.copy(app.engine.url.database or "", older)
    app.handle(FireTrigger(candidacy_id=ids[0], trigger="withdraw", actor="c", role="candidate"))
    exported = checkpoint(app).export()
    assert exported["checkpoint"] == 2
    if app.engine.dialect.name == "sqlite":
        app.engine.dispose()
        shutil.copy(older, app.engine.url.database or "")
        assert verify(app).ok, "the older copy is consistent in itself"
    else:  # PostgreSQL: drop what came after the first checkpoint
        _tamper(
            app,
            "DELETE FROM audit_checkpoints WHERE seq = 2",
            "DELETE FROM audit_entries WHERE candidacy_id = :c AND seq = 2",
            "UPDATE candidacies SET version = 1, state = 'applied', audit_head = "
            "(SELECT hash FROM audit_entries WHERE candidacy_id = :c AND seq = 1) WHERE id = :c",
            c=ids[0],
        )
    chain, _, what = _only_damage(app, exported=exported)
    assert chain == "checkpoint 2"
    assert "rolled back" in what


def test_an_altered_checkpoint_is_caught(app: App, clock: ManualClock) -> None:
    _history(app, clock)
    checkpoint(app)
    _tamper(app, "UPDATE audit_checkpoints SET heads = '{}' WHERE seq = 1")
    assert _only_damage(app) == ("checkpoint 1", None, "hash mismatch: the checkpoint was altered")


def test_an_altered_event_is_caught(app: App, clock: ManualClock) -> None:
    _history(app, clock)
    _tamper(app, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    assert _only_damage(app) == ("events", 3, "hash mismatch: the event was altered")


def test_signed_checkpoints_verify_and_a_forged_signature_does_not(
    database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    key = tmp_path / "audit.pem"
    generate_key(key)
    app = bootstrap(
        Settings(
            home=Path(__file__).resolve().parents[2],
            database_url=database_url,
            audit_signing_key=str(key),
        ),
        clock=clock,
    )
    try:
        initialise(app)
        _history(app, clock)
        result = checkpoint(app)
        assert result.signed
        assert verify(app).ok
        _tamper(app, "UPDATE audit_checkpoints SET signature = 'AAAA' WHERE seq = 1")
        chain, _, what = _only_damage(app)
        assert (chain, what) == ("checkpoint 1", "signature does not verify with the audit key")
    finally:
        app.close()


def test_the_database_refuses_changes_to_events_and_checkpoints(
    app: App, clock: ManualClock
) -> None:
    _history(app, clock)
    checkpoint(app)
    for statement in (
        "UPDATE audit_events SET actor = 'x'",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET hash = 'x'",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises(DBAPIError, match="append-only"), app.engine.begin() as connection:
            connection.execute(text(statement))


def test_a_checkpoint_covers_only_chains_that_moved(app: App, clock: ManualClock) -> None:
    ids = _history(app, clock)
    first = checkpoint(app)
    assert (first.seq, first.chains, first.new) == (1, 3, True)
    assert not checkpoint(app).new
    app.handle(FireTrigger(candidacy_id=ids[0], trigger="withdraw", actor="c", role="candidate"))
    second = checkpoint(app)
    assert (second.seq, second.chains) == (2, 1)
    assert verify(app).ok


def test_workflow_loads_and_failed_authorisations_are_audit_events(
    app: App, clock: ManualClock
) -> None:
    ids = _history(app, clock)
    with pytest.raises(TransitionRefused):
        app.handle(
            FireTrigger(
                candidacy_id=ids[0],
                trigger="screen",
                actor="panel:jo",
                role="panel",
                facts={"diploma_level": "master"},
            )
        )
    with app.engine.connect() as connection:
        kinds = connection.execute(text("SELECT kind, actor FROM audit_events ORDER BY seq")).all()
    assert [k for k, _ in kinds].count(WORKFLOW_LOADED) == 7
    assert kinds[-1] == (AUTHORISATION_FAILED, "panel:jo")
    assert verify(app).ok


def test_writers_on_different_candidacies_do_not_wait_for_each_other(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one transition holds its transaction open, another candidacy still moves.

    On PostgreSQL, per-candidacy chains mean no shared row is locked; SQLite has
    one writer at a time by design, so there the point is only the chain layout.
    """
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises all writers by design; the claim is about PostgreSQL")
    first = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="A", email="a@example.org", language="nl"))
    )
    second = int(
        app.handle(Apply(vacancy="DVZ-RET-W1", name="B", email="b@example.org", language="nl"))
    )
    inside, release = threading.Event(), threading.Event()
    original = AuditLog.append

    def hold_first(self: AuditLog, entry: Any, **options: Any) -> str:
        digest = original(self, entry, **options)
        if entry.candidacy_id == first:
            inside.set()
            assert release.wait(timeout=20), "the test never released the first writer"
        return digest

    monkeypatch.setattr(AuditLog, "append", hold_first)
    errors: list[BaseException] = []

    def fire_first() -> None:
        try:
            app.handle(
                FireTrigger(candidacy_id=first, trigger="withdraw", actor="a", role="candidate")
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # The second writer gives up after 5 s of waiting on a lock instead of hanging the suite.
    schema = app.engine.url.query["options"]
    impatient = replace(
        app,
        engine=create_database_engine(
            app.engine.url.render_as_string(hide_password=False),
            connect_args={"options": f"{schema} -clock_timeout=5000"},
        ),
    )
    writer = threading.Thread(target=fire_first)
    writer.start()
    try:
        assert inside.wait(timeout=20), "the first writer never reached its audit insert"
        # The first transaction is open and has written its candidacy and entry.
        impatient.handle(
            FireTrigger(candidacy_id=second, trigger="withdraw", actor="b", role="candidate")
        )
        assert queries.candidacy(app, second)["state"] == "withdrawn"
        assert queries.candidacy(app, first)["state"] == "applied", "first is still uncommitted"
    finally:
        release.set()
        writer.join(timeout=20)
        impatient.engine.dispose()
    assert not errors
    assert queries.candidacy(app, first)["state"] == "withdrawn"


def test_an_unsigned_checkpoint_is_damage_where_checkpoints_are_verified_with_a_key(
    app: App, clock: ManualClock, database_url: str, tmp_path: Path
) -> None:
    """Rewriting history and leaving an unsigned checkpoint does not pass for signed."""
    _history(app, clock)
    checkpoint(app)  # this app has no key: the checkpoint is unsigned
    key = tmp_path / "audit.pem"
    generate_key(key)
    keyed = bootstrap(
        Settings(
            home=Path(__file__).resolve().parents[2],
            database_url=database_url,
            audit_signing_key=str(key),
        ),
        clock=clock,
    )
    try:
        chain, _, what = _only_damage(keyed)
    finally:
        keyed.close()
    assert chain == "checkpoint 1"
    assert "is not signed" in what
