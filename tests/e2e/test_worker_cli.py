"""`ats worker` and `ats timers` as a subprocess: a downtime drill with a simulated clock.

Each test runs on SQLite and, when ATS_TEST_DATABASE_URL is set, on PostgreSQL (the
``database_url`` fixture). Timers are armed by the real wall clock of the `ats fire`
subprocess (there is no clock to inject across processes), so the drill reads the due
times back from `ats timers list --json` and sets `ats worker --once --now` from them.
Nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import Ats, Result

BRUSSELS = ZoneInfo("Europe/Brussels")
VACANCY = "DVZ-SEC-W1"
WORKER = "drill-worker"
DOWNTIME = timedelta(weeks=3)


def apply(cli: Ats, name: str) -> int:
    """Open a candidacy on the security-escort vacancy; its id."""
    email = f"{name.lower().replace(' ', '.')}@example.org"
    opened = cli.json(
        *("apply", "--vacancy", VACANCY, "--name", name, "--email", email, "--language", "nl")
    )
    return int(opened["id"])


def fire(cli: Ats, candidacy: int, trigger: str, role: str, *facts: str) -> None:
    arguments = ["fire", str(candidacy), trigger, "--actor", f"{role}:e2e", "--role", role]
    for fact in facts:
        arguments += ["--fact", fact]
    cli(*arguments)


def instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, f"{text!r} has no offset"
    return parsed


def wall(text: str) -> datetime:
    """The Brussels wall-clock time of an ISO instant, naive."""
    return instant(text).astimezone(BRUSSELS).replace(tzinfo=None)


def counts(report: dict[str, Any]) -> tuple[int, int, int, int]:
    """(fired, reminded, skipped, failed) of a `worker --once --json` report."""
    return (report["fired"], report["reminded"], report["skipped"], report["failed"])


def settled_events(result: Result) -> list[dict[str, Any]]:
    """The worker's `timer.settled` log lines, in the order it settled the timers."""
    return [e for e in result.log_events() if e.get("event") == "timer.settled"]


def test_a_worker_started_three_weeks_late_fires_the_overdue_timers_of_idle_candidacies_once(
    cli: Ats,
) -> None:
    """Three candidacies enter selor_test; one passes before its deadline. A worker started
    with --now three weeks after the last deadline fires the reminders and the timeouts of
    the two idle ones, oldest due first, as system:timer transitions to rejected, and reports
    how late they were; the one that moved on keeps its state and no timer touches it. A
    second pass at the same time fires nothing; nothing failed; the audit log verifies."""
    anna, bert, chris = (apply(cli, name) for name in ("Anna Maes", "Bert Wouters", "Chris Dubois"))
    for candidacy in (anna, bert, chris):
        fire(cli, candidacy, "screen", "recruiter", "diploma_level=master")
    # Invited out of id order, so due order is neither id order nor timer-id order.
    for candidacy in (chris, anna, bert):
        fire(
            cli,
            candidacy,
            "invite_to_selor",
            "recruiter",
            "selor_session_at=2031-07-24T09:00",
            "selor_session_place=Selor",
        )

    armed = cli.json("timers", "list")
    assert sorted((t["candidacy"], t["kind"], t["what"]) for t in armed) == sorted(
        (candidacy, kind, what)
        for candidacy in (anna, bert, chris)
        for kind, what in (("timeout", "selor_no_show"), ("reminder", "selor_reminder"))
    )
    assert {t["state"] for t in armed} == {"selor_test"}
    assert {t["status"] for t in armed} == {"armed"}
    due = {(t["candidacy"], t["kind"]): t["due_utc"] for t in armed}
    for candidacy in (anna, bert, chris):
        # The reminder goes 7 days before the 30-day timeout, at the same Brussels wall time.
        reminder, timeout = due[candidacy, "reminder"], due[candidacy, "timeout"]
        assert wall(timeout) - wall(reminder) == timedelta(days=7)
    assert [t["due_utc"] for t in armed] == sorted((t["due_utc"] for t in armed), key=instant), (
        "timers list is ordered by due time"
    )

    # Bert passes the Selor test before his deadline: his selor_test timers are cancelled.
    fire(cli, bert, "pass_selor", "selor", "selor_score=80")
    remaining = cli.json("timers", "list")
    assert {t["candidacy"] for t in remaining} == {anna, chris}
    assert {t["id"] for t in remaining} == {t["id"] for t in armed if t["candidacy"] != bert}

    now = max(instant(t["due_utc"]) for t in armed) + DOWNTIME
    now_text = now.astimezone(BRUSSELS).isoformat()
    swept = cli("worker", "--once", "--now", now_text, "--name", WORKER, "--json")
    report = swept.json()
    in_due_order = sorted(remaining, key=lambda t: (instant(t["due_utc"]), t["id"]))
    assert [(t["candidacy"], t["kind"]) for t in in_due_order] == [
        (chris, "reminder"),
        (anna, "reminder"),
        (chris, "timeout"),
        (anna, "timeout"),
    ]
    first_due = instant(in_due_order[0]["due_utc"])
    assert report["worker"] == WORKER
    assert counts(report) == (2, 2, 0, 0)
    assert report["failures"] == []
    assert report["interrupted"] is False
    assert instant(report["first_due"]) == first_due
    assert instant(report["last_due"]) == instant(in_due_order[-1]["due_utc"])
    assert report["max_lateness_s"] >= DOWNTIME.total_seconds()
    assert report["max_lateness_s"] == pytest.approx((now - first_due).total_seconds(), abs=0.1)

    settled = settled_events(swept)
    assert [(e["timer"], e["candidacy"], e["kind"], e["status"]) for e in settled] == [
        (t["id"], t["candidacy"], t["kind"], "done") for t in in_due_order
    ], "every overdue timer settled once, oldest due first"
    lateness = [e["lateness_s"] for e in settled]
    assert lateness == sorted(lateness, reverse=True)
    assert min(lateness) >= DOWNTIME.total_seconds()

    again = cli("worker", "--once", "--now", now_text, "--name", WORKER, "--json")
    assert counts(again.json()) == (0, 0, 0, 0)
    assert settled_events(again) == []

    states = {c["id"]: c["state"] for c in cli.json("candidacy", "list", "--vacancy", VACANCY)}
    assert states == {anna: "rejected", bert: "awaiting_interview", chris: "rejected"}

    bert_history = cli.json("history", str(bert))
    assert [e["trigger"] for e in bert_history] == [
        "apply",
        "screen",
        "invite_to_selor",
        "pass_selor",
    ]
    assert bert_history[-1]["to"] == "awaiting_interview"
    assert all(e["actor"] != "system:timer" for e in bert_history)

    entries = cli.json("audit", "log")
    by_timer = [e for e in entries if e["actor"] == "system:timer"]
    timeouts = [t for t in in_due_order if t["kind"] == "timeout"]
    assert sorted(e["request_id"] for e in by_timer) == sorted(f"timer:{t['id']}" for t in timeouts)
    for entry in by_timer:
        assert entry["candidacy"] in (anna, chris)
        assert (entry["role"], entry["trigger"], entry["from"], entry["to"]) == (
            "system",
            "selor_no_show",
            "selor_test",
            "rejected",
        )
        assert entry["reason"] == "timeout of state selor_test"
        assert instant(entry["at_utc"]) == now, "fired on the simulated clock"
    for candidacy in (anna, chris):
        # Armed on the real clock of the invite: 30 Brussels days after entering selor_test.
        invited = next(
            e for e in entries if e["candidacy"] == candidacy and e["trigger"] == "invite_to_selor"
        )
        assert wall(due[candidacy, "timeout"]) == wall(invited["at_utc"]) + timedelta(days=30)

    seen = {w["name"]: w for w in cli.json("worker", "status")}
    assert WORKER in seen
    drill = seen[WORKER]
    assert drill["status"] == "stopped"
    assert drill["live"] is False
    assert drill["last_sweep_settled"] == 0
    assert drill["last_sweep"] == now.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M:%S %Z")

    assert cli.json("timers", "list", "--failed") == []
    assert cli.json("timers", "list") == []
    cli("audit", "verify")


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        pytest.param(
            ["worker", "--now", "2027-03-28T09:00+02:00"],
            "--now is for drills with --once",
            id="now-without-once",
        ),
        pytest.param(
            ["worker", "--once", "--now", "next tuesday"],
            "Invalid value for --now",
            id="garbled-now",
        ),
        pytest.param(
            ["worker", "--once", "--now", "2027-02-30T09:00"],
            "Invalid value for --now",
            id="impossible-date",
        ),
    ],
)
def test_worker_usage_errors_exit_2_without_touching_the_database(
    bare_cli: Ats, arguments: list[str], complaint: str
) -> None:
    """--now without --once, or a --now that is not an ISO time: a usage error (exit 2)
    that says what is wrong, and no database is opened."""
    result = bare_cli(*arguments, expect=2)
    assert "Usage: ats worker" in result.stderr
    assert complaint in result.stderr
    assert result.stdout == ""
    if bare_cli.database_url.startswith("sqlite:///"):
        assert not Path(bare_cli.database_url.removeprefix("sqlite:///")).exists()
