"""Selor sessions on real databases: planning, capacity, one seat a day, invitations, moves.

Every session is planned against a ManualClock set to Monday 2 March 2026, so
"the future", Saturdays, Sundays and Belgian public holidays are fixed dates
rather than whatever day the suite happens to run on.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from hypothesis.stateful import (
    run_state_machine_as_test as run_machine,
)
from sqlalchemy import func, select

from ats.adapters.db.store import AUDIT, CANDIDACY, OUTBOX, TIMER, opened_entries
from ats.clock import ManualClock
from ats.errors import ConflictError, InvalidInput
from ats.service import queries
from ats.service import selection as selection_service
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.selection import (
    SEAT,
    SESSION,
    SessionPlan,
    assign,
    cancel,
    create_session,
    reschedule,
    session,
    sessions,
)
from ats.service.session_results import IMPORT

BRUSSELS = ZoneInfo("Europe/Brussels")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=BRUSSELS)  # "now" in every test of this module
SATURDAY = date(2026, 3, 7)  # Selor tests on Saturdays
SUNDAY = date(2026, 3, 8)
NEXT_MONDAY = date(2026, 3, 9)
EASTER_MONDAY = date(2026, 4, 6)  # a public holiday on a weekday
ASSUMPTION = date(2026, 8, 15)  # a public holiday on a Saturday
SELOR = "selor:marie"

SECURITY = "DVZ-SEC-W1"  # security-escort: module selor_c
DUBLIN = "DVZ-MIG-DUB-W1"  # migration-officer: module selor_b
RETURN = "DVZ-RET-W1"  # return-counsellor: module selor_b
SCREENING_FACTS = {
    SECURITY: {"diploma_level": "secondary"},
    DUBLIN: {"diploma_level": "bachelor", "track": "dublin"},
    RETURN: {"diploma_level": "bachelor", "driving_licence": "true"},
}

_emails = itertools.count()


@pytest.fixture
def clock() -> ManualClock:
    """Overrides the suite's clock (2021): sessions are planned in the spring of 2026."""
    return ManualClock(MONDAY)


# -- arranging -------------------------------------------------------------------------------


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """``day`` at ``hour``:``minute`` in Brussels, as the UTC instant the service takes."""
    return datetime.combine(day, time(hour, minute), tzinfo=BRUSSELS).astimezone(UTC)


def applied(app: App, vacancy: str = SECURITY, *, email: str | None = None) -> int:
    """A fresh candidacy in the initial state (a new candidate unless ``email`` is known)."""
    email = email or f"candidate{next(_emails)}@example.org"
    return int(app.handle(Apply(vacancy=vacancy, name="Test Person", email=email, language="nl")))


def screen(app: App, candidacy_id: int, vacancy: str = SECURITY) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="screen",
            actor="recruiter:els",
            role="recruiter",
            facts=SCREENING_FACTS[vacancy],
        )
    )


def waiting(app: App, vacancy: str = SECURITY, *, email: str | None = None) -> int:
    """A candidacy screened and so waiting for a Selor seat."""
    candidacy_id = applied(app, vacancy, email=email)
    screen(app, candidacy_id, vacancy)
    return candidacy_id


def plan(
    app: App,
    day: date = SATURDAY,
    *,
    seats: int,
    vacancies: tuple[str, ...] = (SECURITY,),
    hour: int = 9,
    code: str | None = None,
) -> str:
    return create_session(
        app,
        SessionPlan(
            starts_at=at(day, hour),
            place="Selor, Bd. Bischoffsheim 15, Brussel",
            kind="computer_test",
            seats=seats,
            vacancies=vacancies,
            code=code,
        ),
        actor=SELOR,
    )


# -- observing -------------------------------------------------------------------------------


def booked(app: App, code: str) -> list[int]:
    """Candidacies holding a booked seat in session ``code``, by seat number."""
    return [s["candidacy"] for s in session(app, code)["seat_list"] if s["status"] == "booked"]


def state_of(app: App, candidacy_id: int) -> str:
    return str(queries.candidacy(app, candidacy_id)["state"])


def audit_entries(app: App, trigger: str) -> list[dict[str, Any]]:
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(AUDIT).where(AUDIT.c.trigger == trigger).order_by(AUDIT.c.id)
        ).mappings()
        return opened_entries(connection, rows)  # reasons are sealed: read them as people do


def mails(app: App, template: str) -> list[dict[str, Any]]:
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(OUTBOX).where(OUTBOX.c.template == template).order_by(OUTBOX.c.id)
        ).mappings()
        return [dict(r) for r in rows]


def snapshot(app: App) -> dict[str, Any]:
    """Every row a seat, an invitation or a result could touch, to compare before and after."""

    def rows(query: Any) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in connection.execute(query)]

    with app.engine.connect() as connection:
        return {
            "candidacies": rows(select(CANDIDACY).order_by(CANDIDACY.c.id)),
            "audit entries": connection.execute(
                select(func.count()).select_from(AUDIT)
            ).scalar_one(),
            "outbox messages": connection.execute(
                select(func.count()).select_from(OUTBOX)
            ).scalar_one(),
            "timers": rows(select(TIMER).order_by(TIMER.c.id)),
            "sessions": rows(select(SESSION).order_by(SESSION.c.id)),
            "seats": rows(select(SEAT).order_by(SEAT.c.id)),
            "imports": rows(select(IMPORT).order_by(IMPORT.c.id)),
        }


def is_postgresql(app: App) -> bool:
    return app.engine.dialect.name == "postgresql"


# -- planning --------------------------------------------------------------------------------


def test_a_session_may_be_planned_on_a_saturday_and_is_listed_with_its_free_seats(
    app: App,
) -> None:
    """Selor tests on Saturdays too; a new session is planned, empty, for the vacancies named."""
    code = plan(app, SATURDAY, seats=20, vacancies=(DUBLIN, RETURN))
    assert code == "S20260307-1"
    [listed] = sessions(app)
    assert listed["code"] == code
    assert (listed["module"], listed["seats"], listed["booked"], listed["free"]) == (
        "selor_b",
        20,
        0,
        20,
    )
    assert listed["status"] == "planned"
    assert listed["vacancies"] == [DUBLIN, RETURN]
    assert listed["starts_utc"] == at(SATURDAY).isoformat()


@pytest.mark.parametrize(
    ("day", "vacancies", "problem"),
    [
        (SUNDAY, (SECURITY,), "Selor does not test on Sunday 2026-03-08"),
        (EASTER_MONDAY, (SECURITY,), "Selor does not test on Monday 2026-04-06"),
        (ASSUMPTION, (SECURITY,), "Selor does not test on Saturday 2026-08-15"),
        (date(2026, 2, 28), (SECURITY,), "is in the past"),
        (
            SATURDAY,
            (SECURITY, RETURN),
            "one session tests one module (DVZ-RET-W1 needs selor_b, DVZ-SEC-W1 needs selor_c)",
        ),
        (SATURDAY, ("NOPE-W9",), "vacancy 'NOPE-W9': unknown"),
    ],
    ids=["sunday", "weekday-holiday", "saturday-holiday", "past", "mixed-modules", "unknown"],
)
def test_a_session_selor_cannot_hold_is_refused_naming_the_problem(
    app: App, day: date, vacancies: tuple[str, ...], problem: str
) -> None:
    """Sundays, public holidays (a Saturday one too), the past and mixed modules are refused."""
    with pytest.raises(InvalidInput, match="cannot plan the session") as refused:
        plan(app, day, seats=10, vacancies=vacancies)
    assert problem in refused.value.message
    assert sessions(app, include_past=True) == []


def test_a_plan_with_several_problems_names_every_one_of_them(app: App) -> None:
    """One refusal lists all that is wrong, so the planner fixes the plan in one go."""
    with pytest.raises(InvalidInput) as refused:
        create_session(
            app,
            SessionPlan(
                starts_at=at(SUNDAY),
                place=" ",
                kind="interview",
                seats=0,
                vacancies=(SECURITY, RETURN),
                code="bad code",
            ),
            actor=SELOR,
        )
    message = refused.value.message
    for problem in (
        "place:",
        "kind 'interview'",
        "seats: between 1 and 1000, got 0",
        "code 'bad code'",
        "Selor does not test on Sunday",
        "one session tests one module",
    ):
        assert problem in message, problem
    assert sessions(app, include_past=True) == []


def test_a_session_code_is_used_once(app: App) -> None:
    """Codes name sessions in results files; two sessions with one code would be ambiguous."""
    plan(app, SATURDAY, seats=5, code="SELOR-C-0307")
    with pytest.raises(ConflictError, match="exists already"):
        plan(app, NEXT_MONDAY, seats=5, code="SELOR-C-0307")
    assert [s["code"] for s in sessions(app)] == ["SELOR-C-0307"]


# -- capacity --------------------------------------------------------------------------------


def test_named_candidacies_beyond_the_free_seats_are_refused_and_nothing_is_written(
    app: App,
) -> None:
    """Overbooking is refused as a whole: no seat, no transition, no audit entry, no mail."""
    code = plan(app, seats=3)
    first, second, third, fourth = (waiting(app) for _ in range(4))
    assign(app, code, actor=SELOR, candidacies=[first, second])
    before = snapshot(app)

    with pytest.raises(InvalidInput, match=r"1 free seat\(s\) of 3; 2 asked for"):
        assign(app, code, actor=SELOR, candidacies=[third, fourth])

    assert snapshot(app) == before
    assert booked(app, code) == [first, second]
    assert {state_of(app, c) for c in (third, fourth)} == {"screened"}


def test_named_candidacies_are_seated_all_or_none_when_one_cannot_be_seated(app: App) -> None:
    """One candidacy that is not waiting for a seat (still being screened) stops the batch."""
    code = plan(app, seats=10)
    ready = waiting(app)
    not_screened = applied(app)
    before = snapshot(app)

    with pytest.raises(InvalidInput, match=f"candidacy {not_screened}: it is in 'applied'"):
        assign(app, code, actor=SELOR, candidacies=[ready, not_screened])

    assert snapshot(app) == before


def test_a_candidacy_of_a_vacancy_the_session_does_not_test_is_refused(app: App) -> None:
    """A session seats only candidacies of its own vacancies (and so of its own module)."""
    code = plan(app, seats=10, vacancies=(DUBLIN,))
    elsewhere = waiting(app, RETURN)  # same module, but not named in the session
    with pytest.raises(InvalidInput, match=f"vacancy {RETURN} is not tested in this session"):
        assign(app, code, actor=SELOR, candidacies=[elsewhere])
    assert booked(app, code) == []


def test_auto_fills_the_free_seats_with_the_longest_waiting_and_never_more(
    app: App, clock: ManualClock
) -> None:
    """Oldest in the waiting state first (not oldest application); the rest keep waiting."""
    candidacies = [applied(app) for _ in range(5)]
    screened_in_order = list(reversed(candidacies))  # the last to apply is screened first
    for candidacy_id in screened_in_order:
        clock.advance(timedelta(minutes=10))
        screen(app, candidacy_id)
    code = plan(app, seats=3)

    report = assign(app, code, actor=SELOR, auto=True)

    assert [s["candidacy"] for s in report.seated] == screened_in_order[:3]
    assert [s["seat"] for s in report.seated] == [1, 2, 3]
    assert booked(app, code) == screened_in_order[:3]
    assert [state_of(app, c) for c in screened_in_order] == ["selor_test"] * 3 + ["screened"] * 2

    again = assign(app, code, actor=SELOR, auto=True)
    assert again.seated == []
    assert len(booked(app, code)) == 3


def test_auto_with_a_vacancy_fills_only_from_that_vacancy(app: App) -> None:
    """``--vacancy`` narrows --auto to one of the session's vacancies."""
    dublin = [waiting(app, DUBLIN) for _ in range(2)]
    waiting(app, RETURN)
    code = plan(app, seats=10, vacancies=(DUBLIN, RETURN))

    report = assign(app, code, actor=SELOR, auto=True, vacancy=DUBLIN)

    assert [s["candidacy"] for s in report.seated] == dublin
    with pytest.raises(InvalidInput, match="not for 'DVZ-SEC-W1'"):
        assign(app, code, actor=SELOR, auto=True, vacancy=SECURITY)


def test_auto_seating_never_overbooks_and_always_takes_the_longest_waiting(
    app: App, clock: ManualClock
) -> None:
    """Any interleaving of applications, screenings, plans and --auto runs keeps both rules.

    The model is a queue of screened candidacies ordered by when they were
    screened; each --auto run must take exactly the head of that queue that fits.
    """
    taken = {"seats": 0, "full": 0}

    class Seating(RuleBasedStateMachine):
        applications = Bundle("applications")
        planned = Bundle("planned")

        def __init__(self) -> None:
            super().__init__()
            self.queue: list[int] = []
            self.seats: dict[str, int] = {}
            self.booked: dict[str, list[int]] = {}

        @initialize()
        def take_over_whoever_waits_already(self) -> None:
            with app.engine.connect() as connection:
                self.queue = list(
                    connection.execute(
                        select(CANDIDACY.c.id)
                        .where(CANDIDACY.c.state == "screened")
                        .order_by(CANDIDACY.c.state_entered_at, CANDIDACY.c.id)
                    ).scalars()
                )

        @rule(target=applications)
        def apply_someone(self) -> int:
            return applied(app)

        @rule(candidacy_id=consumes(applications))
        def screen_someone(self, candidacy_id: int) -> None:
            clock.advance(timedelta(minutes=1))
            screen(app, candidacy_id)
            self.queue.append(candidacy_id)

        @rule(target=planned, seats=st.integers(min_value=1, max_value=4))
        def plan_session(self, seats: int) -> str:
            day = clock.now().astimezone(BRUSSELS).date() + timedelta(days=7)
            while not app.calendar.counts(day, "selor days"):
                day += timedelta(days=1)
            code = plan(app, day, seats=seats)
            self.seats[code], self.booked[code] = seats, []
            return code

        @rule(code=planned)
        def auto_fill(self, code: str) -> None:
            free = self.seats[code] - len(self.booked[code])
            expected, self.queue = self.queue[:free], self.queue[free:]
            report = assign(app, code, actor=SELOR, auto=True)
            assert [s["candidacy"] for s in report.seated] == expected
            self.booked[code] += expected
            taken["seats"] += len(expected)
            taken["full"] += len(self.booked[code]) == self.seats[code]

        @invariant()
        def seats_match_the_model_and_the_capacity(self) -> None:
            for code, seats in self.seats.items():
                assert booked(app, code) == self.booked[code]
                assert len(self.booked[code]) <= seats

    run_machine(
        Seating,
        settings=settings(
            max_examples=10,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,  # the same walk on every run, so CI never flickers
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # Seats were taken, and sessions ran full, or the capacity rule was never tested.
    assert taken["seats"] > 0
    assert taken["full"] > 0


def test_concurrent_auto_assignments_to_one_session_never_overbook_it(app: App) -> None:
    """Two Selor staff press --auto at once on a session with fewer seats than candidates.

    The session row is locked while it fills (PostgreSQL), so the second run
    waits and then finds no free seat. SQLite ignores the lock: the second run
    may read seats or states before the first commits, and is then turned away
    by the unique seat index or the candidacy's version, as ConflictError (the
    tests below pin both paths down deterministically); here the outcome
    counts: the session holds exactly its seats, each candidacy one.
    """
    candidacies = [waiting(app) for _ in range(12)]  # three rounds of four seats
    for round_ in range(3):
        code = plan(app, SATURDAY + timedelta(days=7 * round_), seats=4)
        start = threading.Barrier(2)
        outcomes: list[object] = []

        def run(
            code: str = code, start: threading.Barrier = start, outcomes: list[object] = outcomes
        ) -> None:
            start.wait()
            try:
                outcomes.append(len(assign(app, code, actor=SELOR, auto=True).seated))
            except Exception as exc:  # every outcome is checked below
                outcomes.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)

        assert len(booked(app, code)) == 4, outcomes
        assert sum(o for o in outcomes if isinstance(o, int)) == 4, outcomes
        errors = [o for o in outcomes if not isinstance(o, int)]
        if is_postgresql(app):
            assert errors == [], "the session lock makes the second run wait, not fail"
        else:
            assert len(errors) <= 1, errors
            assert all(isinstance(e, ConflictError) for e in errors), errors
    with app.engine.connect() as connection:
        per_candidacy = connection.execute(
            select(SEAT.c.candidacy_id, func.count())
            .where(SEAT.c.status == "booked")
            .group_by(SEAT.c.candidacy_id)
        ).all()
    assert sorted(c for c, _ in per_candidacy) == candidacies
    assert all(n == 1 for _, n in per_candidacy), "a candidacy booked twice"
    assert len(audit_entries(app, "invite_to_selor")) == len(candidacies)


# -- one seat a day per candidate ------------------------------------------------------------


@pytest.fixture
def two_candidacies_of_one_candidate(app: App) -> tuple[int, int]:
    """One person waiting in two vacancies that need the same module (selor_b)."""
    email = "nadia.elamrani@example.org"
    return waiting(app, DUBLIN, email=email), waiting(app, RETURN, email=email)


def test_one_candidate_named_twice_for_one_day_is_refused(
    app: App, two_candidacies_of_one_candidate: tuple[int, int]
) -> None:
    """Two candidacies of one person cannot both sit on one day, even in one batch."""
    dublin, back = two_candidacies_of_one_candidate
    code = plan(app, seats=10, vacancies=(DUBLIN, RETURN))
    before = snapshot(app)
    with pytest.raises(InvalidInput, match="the candidate sits another session that day"):
        assign(app, code, actor=SELOR, candidacies=[dublin, back])
    assert snapshot(app) == before


def test_a_candidate_seated_in_the_morning_cannot_be_named_for_the_afternoon(
    app: App, two_candidacies_of_one_candidate: tuple[int, int]
) -> None:
    """Another session of the same day counts too."""
    dublin, back = two_candidacies_of_one_candidate
    morning = plan(app, seats=10, vacancies=(DUBLIN,), hour=9)
    afternoon = plan(app, seats=10, vacancies=(RETURN,), hour=14)
    assign(app, morning, actor=SELOR, candidacies=[dublin])
    with pytest.raises(InvalidInput, match=f"candidacy {back}: the candidate sits another"):
        assign(app, afternoon, actor=SELOR, candidacies=[back])
    assert booked(app, afternoon) == []


def test_auto_skips_a_candidate_already_seated_that_day_and_says_why(
    app: App, two_candidacies_of_one_candidate: tuple[int, int]
) -> None:
    """--auto seats the person once and reports the other candidacy as skipped, with the reason."""
    dublin, back = two_candidacies_of_one_candidate
    other = waiting(app, RETURN)
    code = plan(app, seats=10, vacancies=(DUBLIN, RETURN))

    report = assign(app, code, actor=SELOR, auto=True)

    assert [s["candidacy"] for s in report.seated] == [dublin, other]
    assert report.skipped == [
        {"candidacy": back, "why": "the candidate sits another session that day"}
    ]
    assert state_of(app, back) == "screened"


def test_the_same_candidate_may_sit_another_session_on_another_day(
    app: App, two_candidacies_of_one_candidate: tuple[int, int]
) -> None:
    """The rule is one seat a day, not one seat: Monday's session takes the second candidacy."""
    dublin, back = two_candidacies_of_one_candidate
    saturday = plan(app, SATURDAY, seats=10, vacancies=(DUBLIN, RETURN))
    monday = plan(app, NEXT_MONDAY, seats=10, vacancies=(DUBLIN, RETURN))
    assign(app, saturday, actor=SELOR, candidacies=[dublin])

    assign(app, monday, actor=SELOR, candidacies=[back])

    assert booked(app, saturday) == [dublin]
    assert booked(app, monday) == [back]


def test_a_candidate_seated_elsewhere_meanwhile_is_a_conflict_not_a_database_error(
    app: App, two_candidacies_of_one_candidate: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process seats the person that day between our checks and our insert.

    The interleaving two real processes produce by chance is made certain
    here: right after this assignment has checked who is free, a second
    assignment (its own transaction) seats the same candidate in the
    afternoon session. The database index must refuse the morning seat, and
    the caller must hear a ConflictError it can act on, with nothing written.
    """
    dublin, back = two_candidacies_of_one_candidate
    morning = plan(app, seats=5, vacancies=(DUBLIN,), hour=9)
    afternoon = plan(app, seats=5, vacancies=(RETURN,), hour=14)
    check = selection_service._candidates_for

    def check_then_another_process_seats_them(*args: Any, **kwargs: Any) -> Any:
        found = check(*args, **kwargs)
        monkeypatch.setattr(selection_service, "_candidates_for", check)
        assign(app, afternoon, actor="selor:other", candidacies=[back])
        return found

    monkeypatch.setattr(selection_service, "_candidates_for", check_then_another_process_seats_them)
    with pytest.raises(ConflictError, match="changed meanwhile"):
        assign(app, morning, actor=SELOR, candidacies=[dublin])
    assert booked(app, morning) == []
    assert booked(app, afternoon) == [back]


def test_a_candidacy_seated_elsewhere_meanwhile_is_a_conflict_not_a_refused_transition(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two --auto runs on two sessions pick the same waiting candidacy; the later one must yield.

    As above, the race is made certain: right after this run has chosen whom
    to seat, another run (its own transaction) seats that candidacy on Monday.
    Seen by the concurrency test on SQLite under load, and possible on
    PostgreSQL whenever two different sessions are filled at once.
    """
    candidacy = waiting(app)
    saturday = plan(app, SATURDAY, seats=5)
    monday = plan(app, NEXT_MONDAY, seats=5)
    check = selection_service._candidates_for

    def check_then_another_process_seats_them(*args: Any, **kwargs: Any) -> Any:
        found = check(*args, **kwargs)
        monkeypatch.setattr(selection_service, "_candidates_for", check)
        assign(app, monday, actor="selor:other", auto=True)
        return found

    monkeypatch.setattr(selection_service, "_candidates_for", check_then_another_process_seats_them)
    with pytest.raises(ConflictError):
        assign(app, saturday, actor=SELOR, auto=True)
    assert booked(app, saturday) == []
    assert booked(app, monday) == [candidacy]


# -- invitations -----------------------------------------------------------------------------


def test_each_seated_candidacy_gets_an_invitation_mail_and_an_audit_entry(app: App) -> None:
    """Seating fires invite_to_selor as Selor, for the actor, with the session's time and place."""
    seated = [waiting(app) for _ in range(3)]
    code = plan(app, seats=5)
    mails_before = len(mails(app, "selor_invited"))

    assign(app, code, actor=SELOR, auto=True)

    entries = audit_entries(app, "invite_to_selor")
    assert [e["candidacy_id"] for e in entries] == seated
    for entry in entries:
        assert (entry["actor"], entry["role"], entry["src"], entry["dst"]) == (
            SELOR,
            "selor",
            "screened",
            "selor_test",
        )
        assert entry["reason"] == f"Selor session {code}"
        assert entry["facts"]["selor_session_at"] == at(SATURDAY).isoformat()
        assert entry["facts"]["selor_session_place"].startswith("Selor, Bd. Bischoffsheim 15")
    invitations = mails(app, "selor_invited")[mails_before:]
    assert [m["candidacy_id"] for m in invitations] == seated
    for mail in invitations:
        calendar = mail["context"]["invitation"]
        assert calendar["method"] == "REQUEST"
        assert calendar["start"] == at(SATURDAY).isoformat()


def test_reschedule_re_invites_every_seated_candidacy_at_the_new_time(app: App) -> None:
    """Moving a session fires reschedule_selor for each seat: audit entry, new fact, new mail."""
    seated = [waiting(app) for _ in range(3)]
    code = plan(app, seats=5)
    assign(app, code, actor=SELOR, auto=True)
    invited = {m["candidacy_id"]: m for m in mails(app, "selor_invited")}
    new_start = at(NEXT_MONDAY, 13, 30)

    moved = reschedule(app, code, starts_at=new_start, place="Selor, Gent", actor="selor:jan")

    assert moved == 3
    entries = audit_entries(app, "reschedule_selor")
    assert [e["candidacy_id"] for e in entries] == seated
    assert {e["actor"] for e in entries} == {"selor:jan"}
    assert {e["reason"] for e in entries} == {f"Selor session {code} moved"}
    for candidacy_id in seated:
        facts = queries.candidacy(app, candidacy_id)["facts"]
        assert facts["selor_session_at"] == new_start.isoformat()
        assert facts["selor_session_place"] == "Selor, Gent"
        assert state_of(app, candidacy_id) == "selor_test"
    updates = mails(app, "selor_invited")[len(invited) :]
    assert [m["candidacy_id"] for m in updates] == seated
    for mail in updates:
        calendar = mail["context"]["invitation"]
        first = invited[mail["candidacy_id"]]["context"]["invitation"]
        assert calendar["uid"] == first["uid"], "the same calendar entry, moved"
        assert calendar["sequence"] > first["sequence"]
        assert calendar["start"] == new_start.isoformat()
    shown = session(app, code)
    assert shown["starts_utc"] == new_start.isoformat()
    assert shown["booked"] == 3


def test_reschedule_to_a_sunday_is_refused_and_nothing_moves(app: App) -> None:
    """The planning rules hold for the new date as for the first one."""
    waiting(app)
    code = plan(app, seats=5)
    assign(app, code, actor=SELOR, auto=True)
    before = snapshot(app)
    with pytest.raises(InvalidInput, match="Selor does not test on Sunday 2026-03-08"):
        reschedule(app, code, starts_at=at(SUNDAY), place=None, actor=SELOR)
    assert snapshot(app) == before


def test_reschedule_onto_a_day_a_seated_candidate_is_busy_is_a_conflict(
    app: App, two_candidacies_of_one_candidate: tuple[int, int]
) -> None:
    """Moving Monday's session to Saturday, where one of its candidates sits already, is refused."""
    dublin, back = two_candidacies_of_one_candidate
    saturday = plan(app, SATURDAY, seats=5, vacancies=(DUBLIN,))
    monday = plan(app, NEXT_MONDAY, seats=5, vacancies=(RETURN,))
    assign(app, saturday, actor=SELOR, candidacies=[dublin])
    assign(app, monday, actor=SELOR, candidacies=[back])
    before = snapshot(app)

    with pytest.raises(ConflictError, match="sits another session on 2026-03-07"):
        reschedule(app, monday, starts_at=at(SATURDAY, 14), place=None, actor=SELOR)

    assert snapshot(app) == before


def test_a_withdrawn_candidate_does_not_stop_the_session_from_moving(app: App) -> None:
    """Rescheduling re-invites those still invited; one withdrawal must not block the rest."""
    stays, leaves = waiting(app), waiting(app)
    code = plan(app, seats=5)
    assign(app, code, actor=SELOR, auto=True)
    app.handle(
        FireTrigger(
            candidacy_id=leaves, trigger="withdraw", actor="recruiter:els", role="recruiter"
        )
    )
    reschedule(app, code, starts_at=at(NEXT_MONDAY), place=None, actor=SELOR)
    assert [e["candidacy_id"] for e in audit_entries(app, "reschedule_selor")] == [stays]


# -- cancelling ------------------------------------------------------------------------------


def test_cancelling_a_session_with_booked_seats_needs_a_session_to_move_them_to(
    app: App,
) -> None:
    """Nobody is silently dropped: without --move-to the cancellation is refused."""
    seated = [waiting(app) for _ in range(2)]
    code = plan(app, seats=5)
    assign(app, code, actor=SELOR, auto=True)
    before = snapshot(app)

    with pytest.raises(InvalidInput, match="has 2 seated candidacies: name the session"):
        cancel(app, code, move_to=None, actor=SELOR)

    assert snapshot(app) == before
    assert session(app, code)["status"] == "planned"
    assert booked(app, code) == seated


def test_an_empty_session_is_cancelled_without_a_target(app: App) -> None:
    """No seats booked, nothing to move: the session is simply cancelled and seats nobody."""
    code = plan(app, seats=5)
    assert cancel(app, code, move_to=None, actor=SELOR) == 0
    assert session(app, code)["status"] == "cancelled"
    waiting(app)
    with pytest.raises(InvalidInput, match="is cancelled; seat candidacies elsewhere"):
        assign(app, code, actor=SELOR, auto=True)


def test_cancel_moves_every_seated_candidacy_to_the_target_in_one_step(app: App) -> None:
    """Seats released here, booked there, each candidacy re-invited for the new session."""
    seated = [waiting(app) for _ in range(3)]
    cancelled = plan(app, SATURDAY, seats=3)
    target = plan(app, NEXT_MONDAY, seats=5)
    assign(app, cancelled, actor=SELOR, auto=True)
    mails_before = len(mails(app, "selor_invited"))

    assert cancel(app, cancelled, move_to=target, actor=SELOR) == 3

    old = session(app, cancelled)
    assert old["status"] == "cancelled"
    assert {s["status"] for s in old["seat_list"]} == {"released"}
    assert booked(app, target) == seated
    entries = audit_entries(app, "reschedule_selor")
    assert [e["candidacy_id"] for e in entries] == seated
    assert {e["reason"] for e in entries} == {f"Selor session {target}"}
    for candidacy_id in seated:
        assert queries.candidacy(app, candidacy_id)["facts"]["selor_session_at"] == (
            at(NEXT_MONDAY).isoformat()
        )
    assert len(mails(app, "selor_invited")) == mails_before + 3


def test_cancel_into_a_session_too_small_changes_nothing(app: App) -> None:
    """The move is all or nothing: the cancelled session stays planned with its seats."""
    seated = [waiting(app) for _ in range(3)]
    cancelled = plan(app, SATURDAY, seats=3)
    target = plan(app, NEXT_MONDAY, seats=2)
    assign(app, cancelled, actor=SELOR, auto=True)
    before = snapshot(app)

    with pytest.raises(InvalidInput, match=r"2 free seat\(s\) of 2; 3 asked for"):
        cancel(app, cancelled, move_to=target, actor=SELOR)

    assert snapshot(app) == before
    assert session(app, cancelled)["status"] == "planned"
    assert booked(app, cancelled) == seated
    assert booked(app, target) == []


def test_cancel_into_a_session_on_the_same_day_moves_the_candidates(app: App) -> None:
    """The seats given up count as free that day: the morning's candidates fit the afternoon."""
    seated = [waiting(app) for _ in range(2)]
    morning = plan(app, SATURDAY, seats=2, hour=9)
    afternoon = plan(app, SATURDAY, seats=2, hour=14)
    assign(app, morning, actor=SELOR, auto=True)

    cancel(app, morning, move_to=afternoon, actor=SELOR)

    assert booked(app, afternoon) == seated
