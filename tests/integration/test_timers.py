"""Durable timers: armed with the transition, cancelled on leaving, fired once by the sweeper."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from ats.adapters.db.models import CandidacyRow, CandidateRow, TimerRow, WorkflowVersionRow
from ats.clock import ManualClock
from ats.domain.audit import GENESIS
from ats.service import queries
from ats.service.app import App
from ats.service.audit import verify
from ats.service.commands import Apply, FireTrigger
from ats.service.timers import TIMER_ACTOR, sweep, timers
from ats.worker import workers
from tests.conftest import REPO

TIMER = TimerRow.__table__


def _to_selor_test(app: App, email: str) -> int:
    candidacy_id = int(
        app.handle(Apply(vacancy="DVZ-SEC-W1", name="Kim", email=email, language="nl"))
    )
    session = {"selor_session_at": "2031-07-24T09:00", "selor_session_place": "Selor"}
    for trigger, facts in (("screen", {"diploma_level": "master"}), ("invite_to_selor", session)):
        app.handle(
            FireTrigger(
                candidacy_id=candidacy_id, trigger=trigger, actor="r", role="recruiter", facts=facts
            )
        )
    return candidacy_id


def _timers_of(app: App, candidacy_id: int) -> list[dict[str, Any]]:
    with app.engine.connect() as connection:
        return [
            dict(row)
            for row in connection.execute(
                select(TIMER).where(TIMER.c.candidacy_id == candidacy_id).order_by(TIMER.c.id)
            ).mappings()
        ]


def test_entering_a_state_arms_its_timeout_and_reminder_on_the_calendar(
    app: App, clock: ManualClock
) -> None:
    """selor_test: 30 days -> selor_no_show, reminder 7 days before, in the same transaction."""
    entered = clock.now()
    candidacy_id = _to_selor_test(app, "kim@example.org")
    armed = {t["kind"]: t for t in _timers_of(app, candidacy_id) if t["status"] == "armed"}
    assert set(armed) == {"timeout", "reminder"}
    assert armed["timeout"]["trigger"] == "selor_no_show"
    assert armed["timeout"]["due_at"] == entered + timedelta(days=30)
    assert armed["reminder"]["due_at"] == entered + timedelta(days=23)
    assert armed["timeout"]["state_version"] == 3


def test_leaving_the_state_cancels_its_timers_and_they_never_fire(
    app: App, clock: ManualClock
) -> None:
    candidacy_id = _to_selor_test(app, "kim@example.org")
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="pass_selor",
            actor="selor:desk",
            role="selor",
            facts={"selor_score": 75},
        )
    )
    assert {t["status"] for t in _timers_of(app, candidacy_id)} == {"cancelled"}
    clock.advance(timedelta(days=60))
    report = sweep(app, worker="test")
    assert report.fired == 0
    assert queries.candidacy(app, candidacy_id)["state"] == "awaiting_interview"


def test_a_due_timeout_fires_once_as_an_ordinary_audited_transition(
    app: App, clock: ManualClock
) -> None:
    candidacy_id = _to_selor_test(app, "kim@example.org")
    clock.advance(timedelta(days=30, seconds=1))
    report = sweep(app, worker="test")
    assert (report.fired, report.reminded) == (1, 1)
    assert sweep(app, worker="test").settled == 0, "a settled timer never fires again"
    detail = queries.candidacy(app, candidacy_id)
    assert detail["state"] == "rejected"
    last = queries.history(app, candidacy_id)[-1]
    assert (last["actor"], last["role"], last["trigger"]) == (
        TIMER_ACTOR,
        "system",
        "selor_no_show",
    )
    assert verify(app).ok


def test_a_timer_is_not_fired_before_it_is_due(app: App, clock: ManualClock) -> None:
    candidacy_id = _to_selor_test(app, "kim@example.org")
    clock.advance(timedelta(days=29, hours=23))
    report = sweep(app, worker="test")
    assert (report.fired, report.reminded) == (0, 1)
    assert queries.candidacy(app, candidacy_id)["state"] == "selor_test"


def test_a_stale_timer_of_a_candidacy_that_moved_on_is_skipped(
    app: App, clock: ManualClock
) -> None:
    """Even a timer left armed by mistake does not fire once its candidacy moved on."""
    candidacy_id = _to_selor_test(app, "kim@example.org")
    app.handle(
        FireTrigger(candidacy_id=candidacy_id, trigger="withdraw", actor="c", role="candidate")
    )
    with app.engine.begin() as connection:
        connection.execute(
            TIMER.update().where(TIMER.c.candidacy_id == candidacy_id).values(status="armed")
        )
    clock.advance(timedelta(days=31))
    report = sweep(app, worker="test")
    assert (report.fired, report.skipped) == (0, 2)
    assert queries.candidacy(app, candidacy_id)["state"] == "withdrawn"


def test_a_timer_whose_transition_is_refused_fails_visibly_once(
    app: App, clock: ManualClock
) -> None:
    candidacy_id = _to_selor_test(app, "kim@example.org")
    with app.engine.begin() as connection:
        connection.execute(
            TIMER.update()
            .where(TIMER.c.candidacy_id == candidacy_id, TIMER.c.kind == "timeout")
            .values(trigger="accept_offer")  # does not leave selor_test
        )
    clock.advance(timedelta(days=31))
    report = sweep(app, worker="test")
    assert (report.fired, report.failed) == (0, 1)
    failed = timers(app, failed=True)
    assert [t["candidacy"] for t in failed] == [candidacy_id]
    assert "does not leave state 'selor_test'" in failed[0]["outcome"]
    assert sweep(app, worker="test").settled == 0, "a failed timer is not retried forever"
    assert queries.candidacy(app, candidacy_id)["state"] == "selor_test"


def test_after_downtime_overdue_timers_fire_oldest_first_and_lateness_is_reported(
    app: App, clock: ManualClock
) -> None:
    ids = []
    for number in range(3):
        ids.append(_to_selor_test(app, f"p{number}@example.org"))
        clock.advance(timedelta(days=2))
    clock.advance(timedelta(days=21 + 30))
    report = sweep(app, worker="test")
    assert report.fired == 3
    assert report.max_lateness_s >= 21 * 86400
    with app.engine.connect() as connection:
        order = (
            connection.execute(
                text("SELECT candidacy_id FROM audit_entries WHERE actor = :a ORDER BY id"),
                {"a": TIMER_ACTOR},
            )
            .scalars()
            .all()
        )
    assert order == ids, "the oldest deadline fires first"


# -- several worker processes on one database ------------------------------------------------


def _bulk_offers(app: App, count: int, due: datetime) -> None:
    """``count`` candidacies sitting in 'offer' with their lapse timer due at ``due``."""
    now = due - timedelta(days=20)
    with app.engine.begin() as connection:
        version = connection.execute(
            select(WorkflowVersionRow.__table__.c.id).where(
                WorkflowVersionRow.__table__.c.name == "security-escort"
            )
        ).scalar_one()
        connection.execute(
            insert(CandidateRow.__table__),
            [
                {
                    "key": f"k{n:08d}",
                    "name": f"Bulk {n}",
                    "email": f"bulk{n}@example.org",
                    "language": "nl",
                    "created_at": now,
                }
                for n in range(count)
            ],
        )
        candidate_ids = (
            connection.execute(
                select(CandidateRow.__table__.c.id).order_by(CandidateRow.__table__.c.id)
            )
            .scalars()
            .all()
        )
        connection.execute(
            insert(CandidacyRow.__table__),
            [
                {
                    "candidate_id": candidate_id,
                    "vacancy": "DVZ-SEC-W1",
                    "workflow_version_id": version,
                    "state": "offer",
                    "version": 1,
                    "facts": {},
                    "audit_head": GENESIS,
                    "created_at": now,
                    "state_entered_at": now,
                }
                for candidate_id in candidate_ids
            ],
        )
        candidacy_ids = (
            connection.execute(
                select(CandidacyRow.__table__.c.id).order_by(CandidacyRow.__table__.c.id)
            )
            .scalars()
            .all()
        )
        connection.execute(
            insert(TIMER),
            [
                {
                    "candidacy_id": candidacy_id,
                    "state": "offer",
                    "state_version": 1,
                    "kind": "timeout",
                    "trigger": "offer_lapsed",
                    "template": None,
                    "due_at": due + timedelta(seconds=n % 600),
                    "status": "armed",
                    "armed_at": now,
                }
                for n, candidacy_id in enumerate(candidacy_ids)
            ],
        )


def _worker(database_url: str, name: str, now: datetime) -> subprocess.Popen[str]:
    env = {**os.environ, "ATS_DATABASE_URL": database_url, "ATS_HOME": str(REPO)}
    env["ATS_LOG_LEVEL"] = "warning"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ats.cli.main",
            "worker",
            "--once",
            "--no-mail",  # the timers are the point here; mail has its own tests
            "--json",
            "--name",
            name,
            "--now",
            now.isoformat(),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _exactly_once(app: App, count: int) -> None:
    with app.engine.connect() as connection:
        fired = connection.execute(
            text(
                "SELECT count(*), count(DISTINCT candidacy_id) FROM audit_entries WHERE actor = :a"
            ),
            {"a": TIMER_ACTOR},
        ).one()
        states = dict(
            connection.execute(
                text(
                    "SELECT state || ':' || CAST(version AS TEXT), count(*) FROM candidacies GROUP BY 1"
                )
            ).all()
        )
        statuses = dict(
            connection.execute(text("SELECT status, count(*) FROM timers GROUP BY 1")).all()
        )
    assert tuple(fired) == (count, count), "every timer fired, none twice"
    assert states == {"withdrawn:2": count}, "each candidacy made exactly the one legal step"
    assert statuses == {"done": count}


@pytest.mark.parametrize("workers", [2, 4])
def test_many_worker_processes_fire_four_thousand_timers_exactly_once(
    app: App, database_url: str, workers: int
) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("several workers share one PostgreSQL database; SQLite has one writer")
    count = 4_000  # enough for every worker to claim many; bench/timers.py measures scale
    due = datetime(2021, 8, 2, 9, 0, tzinfo=UTC)
    _bulk_offers(app, count, due)
    processes = [_worker(database_url, f"w{n}", due + timedelta(days=1)) for n in range(workers)]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    assert sum(r["fired"] for r in reports) == count
    assert sum(1 for r in reports if r["fired"]) >= 2, "the work was shared"
    _exactly_once(app, count)


def test_a_worker_killed_mid_sweep_loses_nothing_and_fires_nothing_twice(
    app: App, database_url: str
) -> None:
    count = 2_000
    due = datetime(2021, 8, 2, 9, 0, tzinfo=UTC)
    _bulk_offers(app, count, due)
    victim = _worker(database_url, "victim", due + timedelta(days=1))
    deadline = time.monotonic() + 120
    with app.engine.connect() as connection:
        while True:  # wait for the victim to be mid-sweep, then kill it without warning
            done = connection.execute(
                select(func.count()).select_from(TIMER).where(TIMER.c.status == "done")
            ).scalar_one()
            connection.rollback()
            if done >= 200 or victim.poll() is not None or time.monotonic() > deadline:
                break
    assert victim.poll() is None, "the victim finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)  # reaps it and closes its pipes
    with app.engine.connect() as connection:
        left = connection.execute(
            select(func.count()).select_from(TIMER).where(TIMER.c.status == "armed")
        ).scalar_one()
    assert 0 < left < count
    survivor = _worker(database_url, "survivor", due + timedelta(days=1))
    out, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err
    assert json.loads(out)["fired"] == left
    _exactly_once(app, count)


def test_the_timer_list_shows_armed_timers_by_due_time(app: App, clock: ManualClock) -> None:
    first = _to_selor_test(app, "a@example.org")
    clock.advance(timedelta(days=1))
    _to_selor_test(app, "b@example.org")
    listed = timers(app)
    assert (listed[0]["candidacy"], listed[0]["kind"]) == (first, "reminder")
    assert [t["due_utc"] for t in listed] == sorted(t["due_utc"] for t in listed)
    cutoff = (clock.now() + timedelta(days=24)).astimezone(UTC)
    assert all(t["due_utc"] < cutoff.isoformat() for t in timers(app, due_before=cutoff))


def test_timers_are_stored_in_utc(app: App, clock: ManualClock) -> None:
    candidacy_id = _to_selor_test(app, "kim@example.org")
    due = next(t for t in _timers_of(app, candidacy_id) if t["kind"] == "timeout")["due_at"]
    assert due.tzinfo == UTC


def test_the_long_running_worker_sweeps_then_stops_gracefully_on_sigterm(
    app: App, database_url: str, tmp_path: Path
) -> None:
    """`ats worker` (no --once) sweeps on its APScheduler tick and exits 0 on SIGTERM."""
    count = 50
    _bulk_offers(app, count, datetime.now(UTC) - timedelta(days=1))
    env = {**os.environ, "ATS_DATABASE_URL": database_url, "ATS_HOME": str(REPO)}
    env["ATS_WORKER_SWEEP_SECONDS"] = "1"
    env["ATS_MAIL_DIR"] = str(tmp_path / "mail")
    process = subprocess.Popen(
        [sys.executable, "-m", "ats.cli.main", "worker", "--name", "daemon"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    with app.engine.connect() as connection:
        while time.monotonic() < deadline and process.poll() is None:
            done = connection.execute(
                select(func.count()).select_from(TIMER).where(TIMER.c.status == "done")
            ).scalar_one()
            connection.rollback()
            if done == count:
                break
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "worker.stopped" in err
    _exactly_once(app, count)
    status = {w["name"]: w for w in workers(app)}
    assert status["daemon"]["status"] == "stopped"
    assert status["daemon"]["live"] is False
