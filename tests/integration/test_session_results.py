"""Selor results files on real databases: every row checked first, then all applied or none.

Sessions are seated through the service (Apply, screen, assign) against the
ManualClock of Monday 2 March 2026; the clock is then moved past the session's
start, because results of a session that has not taken place are refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ats.adapters.db.store import CANDIDACY, CANDIDATE
from ats.clock import ManualClock
from ats.errors import InvalidInput, NotFound
from ats.service.app import App
from ats.service.selection import SEAT, assign, cancel, session
from ats.service.session_results import (
    IMPORT,
    MAX_BYTES,
    NO,
    YES,
    ResultsRefused,
    import_results,
)
from tests.integration.test_selection import (
    MONDAY,
    SATURDAY,
    SELOR,
    at,
    audit_entries,
    mails,
    plan,
    snapshot,
    waiting,
)

IMPORTER = "selor:results-desk"
HEADER = ("reference", "score", "passed", "remark")
UNKNOWN_REFERENCE = "0123456789abcdef"  # candidate keys are 16 random hex digits


@pytest.fixture
def clock() -> ManualClock:
    """Overrides the suite's clock (2021): sessions are planned in the spring of 2026."""
    return ManualClock(MONDAY)


@dataclass(frozen=True)
class Seated:
    """A session that has taken place, and who sat it (by seat number)."""

    code: str
    candidacies: list[int]
    references: list[str]
    emails: list[str]


def seat(app: App, clock: ManualClock, count: int, *, day: date = SATURDAY) -> Seated:
    """``count`` new candidacies seated in one session on ``day``; the clock then stands after it."""
    candidacies = [waiting(app) for _ in range(count)]
    code = plan(app, day, seats=count)
    assign(app, code, actor=SELOR, candidacies=candidacies)
    with app.engine.connect() as connection:
        people = {
            r.id: (r.key, r.email)
            for r in connection.execute(
                select(CANDIDACY.c.id, CANDIDATE.c.key, CANDIDATE.c.email)
                .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
                .where(CANDIDACY.c.id.in_(candidacies))
            )
        }
    clock.set(at(day) + timedelta(days=1))
    return Seated(
        code,
        candidacies,
        [people[c][0] for c in candidacies],
        [people[c][1] for c in candidacies],
    )


def passed(score: int) -> str:
    """What the workflow's guards accept with ``score`` (60 is the pass mark)."""
    return "yes" if score >= 60 else "no"


def good_rows(seated: Seated) -> list[list[str]]:
    """A valid row per seat: scores spread over 0..100, so both pass and fail occur."""
    return [
        [reference, str(score), passed(score), f"seat {i + 1}"]
        for i, reference in enumerate(seated.references)
        for score in [(i * 37) % 101]
    ]


def results_csv(
    rows: Sequence[Sequence[str]],
    *,
    header: Sequence[str] = HEADER,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> bytes:
    """A results file as Excel writes it: header on line 1, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def refused(app: App, code: str, data: bytes) -> list[tuple[int | None, str]]:
    """Import ``data``, expect it refused with nothing changed, and return its problems."""
    before = snapshot(app)
    with pytest.raises(ResultsRefused) as refusal:
        import_results(app, code, data, actor=IMPORTER)
    assert snapshot(app) == before
    return refusal.value.problems


def seats_of(app: App, code: str) -> dict[int, dict[str, Any]]:
    return {s["candidacy"]: s for s in session(app, code)["seat_list"]}


# -- the 500-row files of the issue ----------------------------------------------------------


def test_bad_rows_among_500_change_nothing_and_exactly_they_are_named(
    app: App, clock: ManualClock
) -> None:
    """One bad row refuses the whole file and is the only problem; several are all named.

    A refused file changes nothing, so the second file meets the same 500 seats.
    """
    seated = seat(app, clock, 500)
    one_bad = good_rows(seated)
    one_bad[249][1] = "101"  # data row 250 is line 251: the header is line 1

    problems = refused(app, seated.code, results_csv(one_bad))

    assert problems == [(251, f"{seated.references[249]}: score: 101 is above the maximum 100")]
    assert {s["state"] for s in seats_of(app, seated.code).values()} == {"selor_test"}

    three_bad = good_rows(seated)
    three_bad[0][0] = UNKNOWN_REFERENCE
    three_bad[135][2] = "maybe"
    three_bad[499][1] = "sixty"

    problems = refused(app, seated.code, results_csv(three_bad))

    assert [line for line, _ in problems] == [2, 137, 501]
    assert "unknown candidate" in problems[0][1]
    assert "passed 'maybe': say yes or no" in problems[1][1]
    assert "expected a whole number, got 'sixty'" in problems[2][1]


def test_a_clean_500_row_file_applies_every_result_with_audit_and_mail(
    app: App, clock: ManualClock
) -> None:
    """500 transitions, pass or fail by score, as the importer, for the session, each mailed."""
    seated = seat(app, clock, 500)
    rows = good_rows(seated)
    mails_before = {t: len(mails(app, t)) for t in ("selor_passed", "rejected")}

    report = import_results(app, seated.code, results_csv(rows), actor=IMPORTER)

    expected = {
        c: ("awaiting_interview" if int(r[1]) >= 60 else "rejected")
        for c, r in zip(seated.candidacies, rows, strict=True)
    }
    assert len(report.applied) == 500
    assert (report.already_imported, report.unchanged, report.without_result) == (False, 0, 0)
    assert {a["candidacy"]: a["to"] for a in report.applied} == expected
    seats = seats_of(app, seated.code)
    assert {c: s["state"] for c, s in seats.items()} == expected
    for candidacy_id, row in zip(seated.candidacies, rows, strict=True):
        seat_row = seats[candidacy_id]
        assert (seat_row["score"], seat_row["passed"], seat_row["remark"]) == (
            int(row[1]),
            row[2] == "yes",
            row[3],
        )
    entries = audit_entries(app, "pass_selor") + audit_entries(app, "fail_selor")
    assert len(entries) == 500
    assert {e["actor"] for e in entries} == {IMPORTER}
    assert all(e["reason"].startswith(f"Selor session {seated.code}") for e in entries)
    assert {e["candidacy_id"]: e["facts"]["selor_score"] for e in entries} == {
        c: int(r[1]) for c, r in zip(seated.candidacies, rows, strict=True)
    }
    passes = sum(1 for state in expected.values() if state == "awaiting_interview")
    assert 0 < passes < 500
    assert len(mails(app, "selor_passed")) - mails_before["selor_passed"] == passes
    assert len(mails(app, "rejected")) - mails_before["rejected"] == 500 - passes
    with app.engine.connect() as connection:
        [imported] = connection.execute(select(IMPORT)).mappings().all()
    assert (imported["sha256"], imported["rows"], imported["imported_by"]) == (
        report.sha256,
        500,
        IMPORTER,
    )


# -- the same results again ------------------------------------------------------------------


def test_the_same_file_twice_changes_nothing_the_second_time(app: App, clock: ManualClock) -> None:
    """Same SHA-256: reported as already imported, and not one row is touched."""
    seated = seat(app, clock, 20)
    data = results_csv(good_rows(seated))
    import_results(app, seated.code, data, actor=IMPORTER)
    clock.advance(timedelta(hours=1))
    before = snapshot(app)

    again = import_results(app, seated.code, data, actor="selor:someone-else")

    assert again.already_imported
    assert again.applied == []
    assert snapshot(app) == before


def test_another_file_with_the_same_results_counts_them_as_unchanged(
    app: App, clock: ManualClock
) -> None:
    """Re-saved with another delimiter (another hash), the recorded results simply stand."""
    seated = seat(app, clock, 5)
    rows = good_rows(seated)
    import_results(app, seated.code, results_csv(rows), actor=IMPORTER)
    audits_before = len(audit_entries(app, "pass_selor") + audit_entries(app, "fail_selor"))

    report = import_results(app, seated.code, results_csv(rows, delimiter=";"), actor=IMPORTER)

    assert (report.applied, report.unchanged, report.already_imported) == ([], 5, False)
    assert len(audit_entries(app, "pass_selor") + audit_entries(app, "fail_selor")) == (
        audits_before
    )


def test_a_file_contradicting_a_recorded_result_is_refused(app: App, clock: ManualClock) -> None:
    """A result, once recorded, stands: another score for the same seat names its line."""
    seated = seat(app, clock, 3)
    rows = good_rows(seated)
    import_results(app, seated.code, results_csv(rows), actor=IMPORTER)
    rows[1][1] = str(int(rows[1][1]) + 1)

    problems = refused(app, seated.code, results_csv(rows))

    assert [line for line, _ in problems] == [3]
    assert "has a result already" in problems[0][1]


# -- encodings, delimiters, headers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "delimiter", "encoding"),
    [
        (("référence", "note", "réussi", "remarque"), ";", "cp1252"),
        (("reference", "score", "passed", "remark"), ",", "utf-8-sig"),
        (("Referentie", "Punten", "Geslaagd", "Opmerking"), "\t", "utf-8"),
    ],
    ids=["cp1252-french-semicolon", "utf8-bom-comma", "utf8-dutch-tab"],
)
def test_files_as_belgian_desktops_save_them_import_with_any_delimiter(
    app: App,
    clock: ManualClock,
    header: tuple[str, ...],
    delimiter: str,
    encoding: str,
) -> None:
    """Windows-1252 or UTF-8 (with or without BOM); comma, semicolon or tab; FR/NL headers.

    The header line decides the delimiter; remarks may hold the other ones.
    """
    seated = seat(app, clock, 3)
    rows = [
        [seated.references[0], "75", "oui", "Très bien, élève; appliqué\tet « net »"],
        [seated.references[1], "40", "non", "Échoué à l'épreuve « raisonnement »"],
        [seated.references[2], "60", "JA", ""],
    ]

    report = import_results(
        app,
        seated.code,
        results_csv(rows, header=header, delimiter=delimiter, encoding=encoding),
        actor=IMPORTER,
    )

    assert len(report.applied) == 3
    seats = seats_of(app, seated.code)
    assert [seats[c]["remark"] for c in seated.candidacies] == [
        "Très bien, élève; appliqué\tet « net »",
        "Échoué à l'épreuve « raisonnement »",
        None,
    ]
    assert [seats[c]["state"] for c in seated.candidacies] == [
        "awaiting_interview",
        "rejected",
        "awaiting_interview",
    ]


def test_candidates_may_be_named_by_email_in_any_case(app: App, clock: ManualClock) -> None:
    """Selor knows candidates by email; capitals in its export do not matter."""
    seated = seat(app, clock, 2)
    rows = [[e.upper(), "65", "yes"] for e in seated.emails]
    report = import_results(
        app, seated.code, results_csv(rows, header=("E-mail", "Score", "Passed")), actor=IMPORTER
    )
    assert len(report.applied) == 2


# -- row problems ----------------------------------------------------------------------------


def test_every_row_rule_is_reported_on_its_own_line_in_one_refusal(
    app: App, clock: ManualClock
) -> None:
    """Each rule broken once, one per line: every line named with its rule, good lines not."""
    seated = seat(app, clock, 13)
    elsewhere = waiting(app)  # a known candidate, not seated in this session
    with app.engine.connect() as connection:
        elsewhere_reference = connection.execute(
            select(CANDIDATE.c.key)
            .join(CANDIDACY, CANDIDACY.c.candidate_id == CANDIDATE.c.id)
            .where(CANDIDACY.c.id == elsewhere)
        ).scalar_one()
    ref = seated.references
    rows_and_problems: list[tuple[list[str], str | None]] = [
        ([ref[0], "70", "yes", ""], None),
        ([UNKNOWN_REFERENCE, "70", "yes", ""], f"{UNKNOWN_REFERENCE}: unknown candidate"),
        ([elsewhere_reference, "70", "yes", ""], "not seated in this session"),
        ([ref[0], "70", "yes", "again"], "a second row for them (first on line 2)"),
        ([ref[1], "101", "yes", ""], "score: 101 is above the maximum 100"),
        ([ref[2], "-1", "no", ""], "score: -1 is below the minimum 0"),
        ([ref[3], "seventy", "yes", ""], "score: expected a whole number, got 'seventy'"),
        ([ref[4], "60.5", "yes", ""], "score: expected a whole number, got '60.5'"),
        ([ref[5], "", "yes", ""], "score: expected a whole number, got ''"),
        ([ref[6], "70", "maybe", ""], "passed 'maybe': say yes or no"),
        ([ref[7], "59", "yes", ""], "passed=yes with score 59 is refused"),
        ([ref[8], "60", "no", ""], "passed=no with score 60 is refused"),
        ([ref[9], "70", "yes", "x" * 501], "remark: one line, at most 500 characters"),
        ([ref[10], "70", "yes", "", "extra"], "5 fields, the header has 4"),
        ([ref[12], "60", "yes", "the last row is fine"], None),
    ]
    expected = [
        (line, problem)
        for line, (_, problem) in enumerate(rows_and_problems, start=2)
        if problem is not None
    ]

    problems = refused(app, seated.code, results_csv([row for row, _ in rows_and_problems]))

    assert [line for line, _ in problems] == [line for line, _ in expected]
    for (line, found), (_, wanted) in zip(problems, expected, strict=True):
        assert wanted in found, (line, found)


def test_a_remark_on_two_lines_is_refused_at_its_own_line(app: App, clock: ManualClock) -> None:
    """A quoted value may span physical lines; the record is then refused, not misread."""
    seated = seat(app, clock, 2)
    rows = [[seated.references[0], "70", "yes", "two\nlines"], [seated.references[1], "70", "yes"]]
    problems = refused(app, seated.code, results_csv(rows))
    assert len(problems) == 1, problems
    line, message = problems[0]
    assert line in (2, 3)  # where the record starts or where it ends: both lead the reader there
    assert "remark: one line, at most 500 characters" in message


def test_line_numbers_count_blank_lines_as_a_spreadsheet_shows_them(
    app: App, clock: ManualClock
) -> None:
    """Blank lines are skipped, but the reported line is the one the user sees in the file."""
    seated = seat(app, clock, 2)
    text = (
        "reference,score,passed\r\n"
        "\r\n"
        f"{seated.references[0]},70,yes\r\n"
        ",,\r\n"
        f"{seated.references[1]},70,no\r\n"
    )
    problems = refused(app, seated.code, text.encode())
    assert [line for line, _ in problems] == [5]


def test_a_known_candidate_named_by_email_is_not_seated_rather_than_unknown(
    app: App, clock: ManualClock
) -> None:
    """The message tells Selor whether the person is unknown or just sat another session."""
    seated = seat(app, clock, 1)
    waiting(app, email="Nadia.ElAmrani@example.org")  # known, never seated here
    rows = [[seated.emails[0], "70", "yes"], ["nadia.elamrani@example.org", "70", "yes"]]
    problems = refused(app, seated.code, results_csv(rows, header=("email", "score", "passed")))
    assert problems == [(3, "nadia.elamrani@example.org: not seated in this session")]


# -- file problems ---------------------------------------------------------------------------


def _with_remark(remark: bytes) -> Any:
    def build(references: list[str]) -> bytes:
        return b"reference,score,passed,remark\r\n" + references[0].encode() + b",70,yes," + remark

    return build


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda refs: b"", "the file is empty"),
        (_with_remark(b"caf\x00"), "NUL bytes"),
        (
            lambda refs: f"reference,score,passed\r\n{refs[0]},70,yes\r\n".encode("utf-16"),
            "NUL bytes",
        ),
        (_with_remark(b"caf\x81"), "neither UTF-8 nor Windows-1252"),
        (lambda refs: b"x" * (MAX_BYTES + 1), f"at most {MAX_BYTES} are accepted"),
        (lambda refs: b"reference,score,passed,grade\r\n", "line 1: unknown column 'grade'"),
        (lambda refs: b"reference,score\r\n", "the header needs reference (or email), score"),
        (lambda refs: b"reference,score,score,passed\r\n", "line 1: column score appears twice"),
        (_with_remark(b'"unterminated'), "line 2: not valid CSV"),
    ],
    ids=[
        "empty",
        "nul-byte",
        "utf-16",
        "neither-encoding",
        "oversized",
        "unknown-column",
        "missing-column",
        "column-twice",
        "broken-quoting",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_and_changes_nothing(
    app: App, clock: ManualClock, build: Any, message: str
) -> None:
    """Wrong encoding, NUL bytes, an oversized file or a bad header: refused before any row."""
    seated = seat(app, clock, 1)
    before = snapshot(app)
    with pytest.raises(InvalidInput) as refusal:
        import_results(app, seated.code, build(seated.references), actor=IMPORTER)
    assert message in refusal.value.message
    assert snapshot(app) == before


# -- when results may come -------------------------------------------------------------------


def test_results_before_the_session_starts_are_refused(app: App, clock: ManualClock) -> None:
    """Nobody has a score before the test: a minute before the start, the file is refused."""
    seated = seat(app, clock, 2)
    clock.set(at(SATURDAY) - timedelta(minutes=1))
    before = snapshot(app)
    with pytest.raises(InvalidInput, match="has not taken place yet"):
        import_results(app, seated.code, results_csv(good_rows(seated)), actor=IMPORTER)
    assert snapshot(app) == before

    clock.set(at(SATURDAY))
    report = import_results(app, seated.code, results_csv(good_rows(seated)), actor=IMPORTER)
    assert len(report.applied) == 2


def test_a_cancelled_session_takes_no_results(app: App, clock: ManualClock) -> None:
    code = plan(app, seats=5)
    cancel(app, code, move_to=None, actor=SELOR)
    clock.set(at(SATURDAY) + timedelta(days=1))
    with pytest.raises(InvalidInput, match="is cancelled; it has no results"):
        import_results(app, code, results_csv([]), actor=IMPORTER)


def test_an_unknown_session_is_not_found(app: App) -> None:
    with pytest.raises(NotFound, match="no session 'S20990101-1'"):
        import_results(app, "S20990101-1", results_csv([]), actor=IMPORTER)


# -- any file at all -------------------------------------------------------------------------

FAULTS = (
    "score-above",
    "score-below",
    "score-text",
    "passed-garbage",
    "passed-contradicts",
    "unknown",
    "duplicate",
    "garbage-line",
    "extra-field",
    "long-remark",
)


@st.composite
def results_files(draw: st.DrawFn, seated: Seated) -> tuple[bytes, bool]:
    """A results file about some of ``seated`` (shuffled), with or without faults.

    Returns the file and whether it is clean (no fault was put in), in which
    case it must be applied.
    """
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    codec = "cp1252" if encoding == "cp1252" else "utf-8"
    text = st.text(
        st.characters(codec=codec, exclude_characters="\r\n\x00", exclude_categories=["Cs"]),
        max_size=30,
    )
    by_email = draw(st.booleans())
    order = draw(st.permutations(range(len(seated.references))))
    chosen = order[: draw(st.integers(min_value=1, max_value=len(order)))]
    lines: list[list[str] | str] = []
    for i in chosen:
        score = draw(st.integers(min_value=0, max_value=100))
        verdict = draw(st.sampled_from(YES if score >= 60 else NO))
        who = seated.emails[i] if by_email else seated.references[i]
        case = draw(st.sampled_from([str.lower, str.upper, str.title]))
        lines.append([case(who), str(score), case(verdict), draw(text)])
    faulty = draw(st.booleans())
    faults = draw(st.lists(st.sampled_from(FAULTS), min_size=1, max_size=3)) if faulty else []
    for fault in faults:
        rows = [r for r in lines if isinstance(r, list)]
        row = draw(st.sampled_from(rows))
        if fault == "score-above":
            row[1] = str(draw(st.integers(min_value=101, max_value=10**6)))
        elif fault == "score-below":
            row[1] = str(draw(st.integers(max_value=-1, min_value=-(10**6))))
        elif fault == "score-text":
            row[1] = draw(st.sampled_from(["", "sixty", "60.0", "6O", "—"]))
        elif fault == "passed-garbage":
            row[2] = draw(st.sampled_from(["", "maybe", "absent", "?", "yes!"]))
        elif fault == "passed-contradicts":
            row[2] = "no" if row[2].lower() in YES else "yes"
        elif fault == "unknown":
            lines.append([UNKNOWN_REFERENCE, "70", "yes", ""])
        elif fault == "duplicate":
            lines.append(list(row))
        elif fault == "garbage-line":
            lines.append(draw(text.filter(lambda t: t.strip(" ,;\t") != "")))
        elif fault == "extra-field":
            row.append("extra")
        else:
            row[3] = "r" * draw(st.integers(min_value=501, max_value=700))
    lines = draw(st.permutations(lines))
    delimiter = draw(st.sampled_from(",;\t"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    columns = ("email" if by_email else "reference", "score", "passed", "remark")
    writer.writerow([draw(st.sampled_from([c, c.upper()])) for c in columns])
    for line in lines:
        if isinstance(line, str):
            buffer.write(line + "\r\n")
        else:
            writer.writerow(line)
    return buffer.getvalue().encode(encoding), not faults


def test_any_file_is_applied_whole_or_refused_with_nothing_changed(
    app: App, clock: ManualClock
) -> None:
    """For arbitrary files (shuffled, with bad values and garbage lines) there is no third way.

    Either every row is applied (one transition, one audit entry and one mail
    per row) or InvalidInput is raised and the database is exactly as before.
    A file without faults must be applied.
    """
    outcomes = {"applied": 0, "refused": 0}
    day = [SATURDAY]

    def next_session() -> Seated:
        current = day[0] + timedelta(days=4)  # the clock below never runs backwards
        while not app.calendar.counts(current, "selor days"):
            current += timedelta(days=1)
        day[0] = current
        clock.set(at(current) - timedelta(days=2))
        return seat(app, clock, 4, day=current)

    @given(data=st.data())
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,  # the same files on every run, so CI never flickers
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def check(data: st.DataObject) -> None:
        seated = next_session()
        content, clean = data.draw(results_files(seated), label="file")
        before = snapshot(app)
        try:
            report = import_results(app, seated.code, content, actor=IMPORTER)
        except InvalidInput:
            assert not clean, "a clean file was refused"
            assert snapshot(app) == before
            outcomes["refused"] += 1
            return
        after = snapshot(app)
        assert len(report.applied) == report.rows > 0
        assert after["audit entries"] == before["audit entries"] + report.rows
        assert after["outbox messages"] == before["outbox messages"] + report.rows
        with app.engine.connect() as connection:
            results = connection.execute(
                select(SEAT.c.candidacy_id).where(SEAT.c.result_at.is_not(None))
            ).scalars()
            assert {a["candidacy"] for a in report.applied} <= set(results)
        outcomes["applied"] += 1

    check()
    # Both ways must have been taken, or the property proved nothing about one of them.
    assert outcomes["applied"] > 0
    assert outcomes["refused"] > 0
