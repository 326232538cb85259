"""`ats session` end to end: plan, seat, show and import results through the real command.

The CLI runs on the wall clock, and a session must start in the future to be
planned and seated but must have started before results are accepted. Without
waiting (which the suite never does) one session cannot be both, so:

- planning, seating and showing go through the CLI only, on a session weeks
  ahead, and importing into it must be refused ("has not taken place yet");
- the import path is exercised on a session arranged in-process through the
  service layer on a ManualClock in March 2026, which the wall clock has passed;
  only `ats session import-results` and `ats session show` then touch it. The
  row rules themselves are covered in tests/integration/test_session_results.py.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ats.adapters.holidays_be import belgian_holiday
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.settings import Settings
from tests.conftest import REPO
from tests.e2e.conftest import Ats
from tests.e2e.test_cli import apply, as_role, message_lines
from tests.integration.test_selection import MONDAY, SATURDAY, at
from tests.integration.test_session_results import Seated, seat

BRUSSELS = ZoneInfo("Europe/Brussels")
SELOR = ("--actor", "selor:e2e")


def selor_day_ahead(days: int) -> date:
    """The first day Selor tests (not a Sunday, not a Belgian holiday) ``days`` from today."""
    day = datetime.now(BRUSSELS).date() + timedelta(days=days)
    while day.weekday() == 6 or belgian_holiday(day):
        day += timedelta(days=1)
    return day


def write_results(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\r\n")
        writer.writerow(["reference", "score", "passed", "remark"])
        writer.writerows(rows)
    return path


@pytest.fixture
def past_sessions(cli: Ats) -> Iterator[Callable[[int], Seated]]:
    """Seat ``n`` candidacies in a session that took place in March 2026, via the service."""
    clock = ManualClock(MONDAY)
    app = bootstrap(Settings(home=REPO, database_url=cli.database_url), clock=clock)
    days = iter(SATURDAY + timedelta(days=7 * week) for week in range(52))

    def seated(count: int) -> Seated:
        day = next(days)
        clock.set(at(day) - timedelta(days=3))
        return seat(app, clock, count, day=day)

    try:
        yield seated
    finally:
        app.close()


def test_a_session_is_planned_seated_and_shown_and_takes_no_results_before_it_starts(
    cli: Ats, tmp_path: Path
) -> None:
    """create, assign --auto (oldest waiting first, within the seats), show --json, list --json."""
    waiting = []
    for n in range(3):
        candidacy = apply(cli, email=f"waiting{n}@example.org")
        cli("fire", candidacy, "screen", *as_role("recruiter"), "--fact", "diploma_level=secondary")
        waiting.append(int(candidacy))
    day = selor_day_ahead(21)

    created = cli.json(
        *("session", "create", "--at", f"{day.isoformat()}T09:00", "--seats", "2"),
        *("--place", "Selor, Brussel", "--vacancy", "DVZ-SEC-W1", *SELOR),
    )
    code = created["session"]
    assert code == f"S{day:%Y%m%d}-1"

    assigned = cli.json("session", "assign", code, "--auto", *SELOR)
    assert [s["candidacy"] for s in assigned["seated"]] == waiting[:2]
    assert assigned["skipped"] == []

    shown = cli.json("session", "show", code)
    assert (shown["seats"], shown["booked"], shown["free"], shown["status"]) == (
        2,
        2,
        0,
        "planned",
    )
    assert shown["vacancies"] == ["DVZ-SEC-W1"]
    assert [(s["candidacy"], s["state"]) for s in shown["seat_list"]] == [
        (waiting[0], "selor_test"),
        (waiting[1], "selor_test"),
    ]
    [listed] = cli.json("session", "list")
    assert (listed["code"], listed["booked"], listed["free"]) == (code, 2, 0)

    results = write_results(
        tmp_path / "results.csv", [[s["reference"], "70", "yes", ""] for s in shown["seat_list"]]
    )
    too_early = cli("session", "import-results", code, str(results), *SELOR, expect=1)
    assert f"session {code} has not taken place yet" in message_lines(too_early)
    assert {s["state"] for s in cli.json("session", "show", code)["seat_list"]} == {"selor_test"}


def test_a_clean_file_is_imported_and_reported_as_text_then_as_already_imported(
    cli: Ats, past_sessions: Callable[[int], Seated], tmp_path: Path
) -> None:
    """Text output counts the results applied; the same file again says nothing changed."""
    seated = past_sessions(3)
    results = write_results(
        tmp_path / "selor.csv",
        [
            [ref, score, ok, ""]
            for ref, score, ok in zip(
                seated.references, ("80", "59", "60"), ("yes", "no", "yes"), strict=True
            )
        ],
    )

    first = cli("session", "import-results", seated.code, str(results), *SELOR)
    assert first.stdout.strip() == f"{results}: 3 result(s) applied to session {seated.code}"

    again = cli("session", "import-results", seated.code, str(results), *SELOR)
    assert again.stdout.strip() == (
        f"{results}: imported into {seated.code} before (same SHA-256); nothing changed"
    )
    shown = cli.json("session", "show", seated.code)
    assert [(s["state"], s["score"], s["passed"]) for s in shown["seat_list"]] == [
        ("awaiting_interview", 80, True),
        ("rejected", 59, False),
        ("awaiting_interview", 60, True),
    ]


def test_import_results_json_lists_each_row_applied(
    cli: Ats, past_sessions: Callable[[int], Seated], tmp_path: Path
) -> None:
    """--json gives the hash, the row count and, per line, the candidacy and where it went."""
    seated = past_sessions(2)
    results = write_results(
        tmp_path / "selor.csv",
        [[seated.references[0], "90", "ja", "Très bien"], [seated.references[1], "10", "nee", ""]],
    )

    report = cli.json("session", "import-results", seated.code, str(results), *SELOR)

    assert (report["session"], report["rows"], report["already_imported"]) == (
        seated.code,
        2,
        False,
    )
    assert len(report["sha256"]) == 64
    assert report["applied"] == [
        {"line": 2, "candidacy": seated.candidacies[0], "to": "awaiting_interview"},
        {"line": 3, "candidacy": seated.candidacies[1], "to": "rejected"},
    ]


def test_a_refused_file_exits_1_naming_every_bad_line_and_changes_nothing(
    cli: Ats, past_sessions: Callable[[int], Seated], tmp_path: Path
) -> None:
    """The person importing sees each bad line (text on stderr, or JSON), and nothing moved."""
    seated = past_sessions(3)
    results = write_results(
        tmp_path / "selor.csv",
        [
            [seated.references[0], "70", "yes", ""],
            ["0123456789abcdef", "70", "yes", ""],
            [seated.references[2], "101", "yes", ""],
        ],
    )

    text = cli("session", "import-results", seated.code, str(results), *SELOR, expect=1)
    message = message_lines(text)
    assert f"results for session {seated.code} not applied: 2 problem(s)" in message
    assert "line 3: 0123456789abcdef: unknown candidate" in message
    assert f"line 4: {seated.references[2]}: score: 101 is above the maximum 100" in message
    assert "line 2" not in message

    as_json = cli(
        "session", "import-results", seated.code, str(results), *SELOR, "--json", expect=1
    )
    assert [p["line"] for p in as_json.json()["problems"]] == [3, 4]

    shown = cli.json("session", "show", seated.code)
    assert {s["state"] for s in shown["seat_list"]} == {"selor_test"}
    assert {s["score"] for s in shown["seat_list"]} == {None}
