"""Selor sessions: plan them, seat candidacies (and invite them), move them, cancel them.

A seat and the invitation it sends are one transaction: the seat row, the
candidacy's transition, its audit entry, its timers and its mail. The rules
that must hold whatever process writes live in the database as partial unique
indexes (one booked seat per seat number, per candidacy, per candidate and
day); the session row is locked while it is being filled, so concurrent
assignments never overbook it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ats.adapters.db.models import (
    CandidacyRow,
    CandidateRow,
    SelectionSeatRow,
    SelectionSessionRow,
    SelectionSessionVacancyRow,
    VacancyRow,
)
from ats.domain.workflow import SelectionSpec, WorkflowDefinition
from ats.errors import ConflictError, InvalidInput, NotFound
from ats.service.app import App
from ats.service.commands import FireTrigger
from ats.service.handlers import advance
from ats.service.queries import local_time
from ats.service.unit_of_work import UnitOfWork

log = structlog.get_logger("ats")

SESSION = cast(Table, SelectionSessionRow.__table__)
SESSION_VACANCY = cast(Table, SelectionSessionVacancyRow.__table__)
SEAT = cast(Table, SelectionSeatRow.__table__)
CANDIDACY = cast(Table, CandidacyRow.__table__)
CANDIDATE = cast(Table, CandidateRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)

KINDS = ("computer_test", "assessment", "language_test")
ROLE = "selor"  # session commands act as Selor, whoever types them (the actor says who)
MAX_SEATS = 1000
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")


@dataclass(frozen=True)
class SessionPlan:
    starts_at: datetime  # aware, UTC
    place: str
    kind: str
    seats: int
    vacancies: tuple[str, ...]
    code: str | None = None


def create_session(app: App, plan: SessionPlan, *, actor: str) -> str:
    """Plan a session; every problem with the plan is named at once."""
    problems = []
    place = " ".join(plan.place.split())
    if not place or len(place) > 300:
        problems.append("place: one line, at most 300 characters")
    if plan.kind not in KINDS:
        problems.append(f"kind {plan.kind!r}: choose one of {', '.join(KINDS)}")
    if not 1 <= plan.seats <= MAX_SEATS:
        problems.append(f"seats: between 1 and {MAX_SEATS}, got {plan.seats}")
    if plan.code is not None and not _CODE.match(plan.code):
        problems.append(f"code {plan.code!r}: 3 to 32 capitals, digits and dashes")
    now = app.clock.now()
    if plan.starts_at <= now:
        problems.append(f"starts: {local_time(plan.starts_at, app.settings.zone)} is in the past")
    day = plan.starts_at.astimezone(app.settings.zone).date()
    if not app.calendar.counts(day, "selor days"):
        problems.append(
            f"starts: Selor does not test on {day:%A %Y-%m-%d} (Sundays and public holidays)"
        )
    if not plan.vacancies:
        problems.append("vacancies: name at least one")
    with app.unit_of_work() as uow:
        modules = {}
        for code in plan.vacancies:
            definition = _current_definition(uow, app, code)
            if definition is None:
                problems.append(f"vacancy {code!r}: unknown (`ats vacancy list` shows them)")
            elif definition.selection is None:
                problems.append(f"vacancy {code!r}: its workflow has no Selor sessions")
            else:
                modules[code] = definition.selection.module
        if len(set(modules.values())) > 1:
            listed = ", ".join(f"{v} needs {m}" for v, m in sorted(modules.items()))
            problems.append(f"vacancies: one session tests one module ({listed})")
        if problems:
            raise InvalidInput("cannot plan the session: " + "; ".join(problems))
        code = plan.code or _next_code(uow, plan.starts_at, app)
        try:
            session_id = uow.connection.execute(
                insert(SESSION)
                .values(
                    code=code,
                    module=next(iter(modules.values())),
                    kind=plan.kind,
                    starts_at=plan.starts_at,
                    place=place,
                    seats=plan.seats,
                    status="planned",
                    created_at=now,
                    created_by=actor,
                )
                .returning(SESSION.c.id)
            ).scalar_one()
        except IntegrityError:
            raise ConflictError(f"a session {code!r} exists already") from None
        uow.connection.execute(
            insert(SESSION_VACANCY),
            [{"session_id": session_id, "vacancy": v} for v in sorted(set(plan.vacancies))],
        )
        uow.commit()
    log.info("session.planned", session=code, seats=plan.seats)
    return code


def _next_code(uow: UnitOfWork, starts_at: datetime, app: App) -> str:
    day = starts_at.astimezone(app.settings.zone).date()
    prefix = f"S{day:%Y%m%d}-"
    taken = uow.connection.execute(
        select(func.count()).where(SESSION.c.code.like(f"{prefix}%"))
    ).scalar_one()
    return f"{prefix}{taken + 1}"


def _current_definition(uow: UnitOfWork, app: App, vacancy: str) -> WorkflowDefinition | None:
    row = uow.catalogue.vacancy(vacancy)
    if row is None:
        return None
    current = uow.workflows.current(row["workflow"])
    return None if current is None else app.registry.definition(uow, current["id"])


def sessions(app: App, *, include_past: bool = False) -> list[dict[str, Any]]:
    """Sessions by start, with seats booked and free."""
    booked = (
        select(SEAT.c.session_id, func.count().label("n"))
        .where(SEAT.c.status == "booked")
        .group_by(SEAT.c.session_id)
        .subquery()
    )
    query = (
        select(SESSION, func.coalesce(booked.c.n, 0).label("booked"))
        .outerjoin(booked, booked.c.session_id == SESSION.c.id)
        .order_by(SESSION.c.starts_at, SESSION.c.id)
    )
    if not include_past:
        query = query.where(SESSION.c.starts_at >= app.clock.now() - timedelta(days=1))
    with app.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
        vacancies = _vacancies_of(connection, [r["id"] for r in rows])
    return [_session_dict(app, r, vacancies.get(r["id"], []), r["booked"]) for r in rows]


def _vacancies_of(connection: Any, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for session_id, vacancy in connection.execute(
        select(SESSION_VACANCY.c.session_id, SESSION_VACANCY.c.vacancy)
        .where(SESSION_VACANCY.c.session_id.in_(ids))
        .order_by(SESSION_VACANCY.c.vacancy)
    ):
        found.setdefault(session_id, []).append(vacancy)
    return found


def _session_dict(app: App, row: Any, vacancies: list[str], booked: int) -> dict[str, Any]:
    return {
        "code": row["code"],
        "module": row["module"],
        "kind": row["kind"],
        "starts": local_time(row["starts_at"], app.settings.zone),
        "starts_utc": row["starts_at"].isoformat(),
        "place": row["place"],
        "seats": row["seats"],
        "booked": int(booked),
        "free": max(0, row["seats"] - int(booked)) if row["status"] == "planned" else 0,
        "status": row["status"],
        "vacancies": vacancies,
    }


def session(app: App, code: str) -> dict[str, Any]:
    """One session, its seats (booked ones first) and their results."""
    with app.engine.connect() as connection:
        row = connection.execute(select(SESSION).where(SESSION.c.code == code)).mappings().first()
        if row is None:
            raise NotFound(f"no session {code!r} (`ats session list` shows them)")
        seats = connection.execute(
            select(
                SEAT,
                CANDIDATE.c.name,
                CANDIDATE.c.key,
                CANDIDACY.c.vacancy,
                CANDIDACY.c.state,
            )
            .join(CANDIDACY, CANDIDACY.c.id == SEAT.c.candidacy_id)
            .join(CANDIDATE, CANDIDATE.c.id == SEAT.c.candidate_id)
            .where(SEAT.c.session_id == row["id"])
            .order_by(SEAT.c.status, SEAT.c.seat_no, SEAT.c.id)
        ).mappings()
        seat_list = [
            {
                "seat": s["seat_no"],
                "status": s["status"],
                "candidacy": s["candidacy_id"],
                "reference": s["key"],
                "name": s["name"],
                "vacancy": s["vacancy"],
                "state": s["state"],
                "score": s["score"],
                "passed": s["passed"],
                "remark": s["remark"],
            }
            for s in seats
        ]
        vacancies = _vacancies_of(connection, [row["id"]]).get(row["id"], [])
    booked = sum(1 for s in seat_list if s["status"] == "booked")
    return {**_session_dict(app, row, vacancies, booked), "seat_list": seat_list}


@dataclass
class AssignReport:
    session: str
    seated: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def assign(
    app: App,
    code: str,
    *,
    actor: str,
    candidacies: Sequence[int] = (),
    auto: bool = False,
    vacancy: str | None = None,
) -> AssignReport:
    """Seat candidacies and send their invitations, all or nothing.

    Named candidacies must all fit and all be seatable, or nothing happens.
    ``auto`` fills the free seats with the candidacies waiting longest (in the
    waiting state, or invited but without a seat since a cancellation),
    skipping whoever already sits a session that day.
    """
    if bool(candidacies) == auto:
        raise InvalidInput("name candidacies to seat, or ask for --auto (not both)")
    with app.unit_of_work() as uow:
        report = _assign(uow, app, code, actor, candidacies, auto, vacancy)
        _commit(uow, code)
    log.info("session.seated", session=code, seated=len(report.seated))
    return report


def _commit(uow: UnitOfWork, code: str) -> None:
    with _changed_meanwhile(code):
        uow.commit()


@contextmanager
def _changed_meanwhile(code: str) -> Iterator[None]:
    """A unique index said no: another process took the seat or the candidate's day first."""
    try:
        yield
    except IntegrityError:
        raise ConflictError(
            f"session {code} changed meanwhile (a seat or a candidate's day was taken); "
            "run the command again"
        ) from None


def _release_departed(uow: UnitOfWork, app: App, *, session_id: int, day: Any) -> None:
    """Free the seats of candidacies that left the invited state without a result.

    Withdrawn, rejected or timed out before the test: their seat (and their
    candidate's day) is free again for this session and for any on that day.
    """
    rows = uow.connection.execute(
        select(SEAT.c.id, CANDIDACY.c.state, CANDIDACY.c.workflow_version_id)
        .join(CANDIDACY, CANDIDACY.c.id == SEAT.c.candidacy_id)
        .where(
            SEAT.c.status == "booked",
            SEAT.c.result_at.is_(None),
            or_(SEAT.c.session_id == session_id, SEAT.c.day == day),
        )
    ).all()
    gone = []
    for seat_id, state, version_id in rows:
        spec = app.registry.definition(uow, version_id).selection
        if spec is None or state != spec.seated:
            gone.append(seat_id)
    if gone:
        uow.connection.execute(
            update(SEAT)
            .where(SEAT.c.id.in_(gone))
            .values(status="released", released_at=app.clock.now())
        )


def _assign(
    uow: UnitOfWork,
    app: App,
    code: str,
    actor: str,
    candidacies: Sequence[int],
    auto: bool,
    vacancy: str | None,
) -> AssignReport:
    report = AssignReport(code)
    row = _lock_session(uow, code)
    if row["status"] != "planned":
        raise InvalidInput(f"session {code} is {row['status']}; seat candidacies elsewhere")
    if row["starts_at"] <= app.clock.now():
        raise InvalidInput(f"session {code} has started; seat candidacies in a later one")
    vacancies = _vacancies_of(uow.connection, [row["id"]]).get(row["id"], [])
    if vacancy is not None and vacancy not in vacancies:
        raise InvalidInput(f"session {code} tests for {', '.join(vacancies)}, not for {vacancy!r}")
    day = row["starts_at"].astimezone(app.settings.zone).date()
    _release_departed(uow, app, session_id=row["id"], day=day)
    taken = set(
        uow.connection.execute(
            select(SEAT.c.seat_no).where(SEAT.c.session_id == row["id"], SEAT.c.status == "booked")
        ).scalars()
    )
    free = [n for n in range(1, row["seats"] + 1) if n not in taken]
    wanted = _candidates_for(
        uow, app, row, [vacancy] if vacancy else vacancies, candidacies, day, auto=auto
    )
    refused = [w for w in wanted if w.get("why")]
    ready = [w for w in wanted if not w.get("why")]
    if candidacies and refused:
        raise InvalidInput(
            f"cannot seat in {code}: "
            + "; ".join(f"candidacy {w['id']}: {w['why']}" for w in refused)
        )
    if candidacies and len(ready) > len(free):
        raise InvalidInput(
            f"session {code} has {len(free)} free seat(s) of {row['seats']}; "
            f"{len(ready)} asked for (overbooking is refused)"
        )
    report.skipped = [{"candidacy": w["id"], "why": w["why"]} for w in refused]
    for seat_no, item in zip(free, ready, strict=False):
        spec: SelectionSpec = item["selection"]
        trigger = spec.reschedule if item["state"] == spec.seated else spec.invite
        event = advance(
            uow,
            app,
            FireTrigger(
                candidacy_id=item["id"],
                trigger=trigger,
                actor=actor,
                role=ROLE,
                reason=f"Selor session {code}",
                facts={spec.at_fact: row["starts_at"].isoformat(), spec.place_fact: row["place"]},
                expected_version=item["version"],  # moved by someone else meanwhile: 409
            ),
        )
        with _changed_meanwhile(code):
            uow.connection.execute(
                insert(SEAT).values(
                    session_id=row["id"],
                    candidacy_id=item["id"],
                    candidate_id=item["candidate_id"],
                    seat_no=seat_no,
                    day=day,
                    status="booked",
                    booked_at=app.clock.now(),
                )
            )
        report.seated.append({"candidacy": item["id"], "seat": seat_no, "trigger": event.trigger})
    return report


def _lock_session(uow: UnitOfWork, code: str) -> Any:
    """The session row, locked until the transaction ends (PostgreSQL; SQLite writes serially)."""
    row = (
        uow.connection.execute(select(SESSION).where(SESSION.c.code == code).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no session {code!r} (`ats session list` shows them)")
    return row


def _candidates_for(
    uow: UnitOfWork,
    app: App,
    session_row: Any,
    vacancies: Sequence[str],
    named: Sequence[int],
    day: Any,
    *,
    auto: bool,
) -> list[dict[str, Any]]:
    """Candidacies to seat, oldest waiting first, each with why it cannot be seated (if so)."""
    query = select(
        CANDIDACY.c.id,
        CANDIDACY.c.vacancy,
        CANDIDACY.c.state,
        CANDIDACY.c.version,
        CANDIDACY.c.candidate_id,
        CANDIDACY.c.workflow_version_id,
    ).order_by(CANDIDACY.c.state_entered_at, CANDIDACY.c.id)
    query = (
        query.where(CANDIDACY.c.id.in_(list(named)))
        if named
        else query.where(CANDIDACY.c.vacancy.in_(list(vacancies)))
    )
    rows = uow.connection.execute(query).mappings().all()
    seated_ids = set(
        uow.connection.execute(
            select(SEAT.c.candidacy_id).where(
                SEAT.c.status == "booked", SEAT.c.candidacy_id.in_([r["id"] for r in rows])
            )
        ).scalars()
    )
    busy = set(
        uow.connection.execute(
            select(SEAT.c.candidate_id).where(SEAT.c.status == "booked", SEAT.c.day == day)
        ).scalars()
    )
    found = {r["id"] for r in rows}
    result: list[dict[str, Any]] = [
        {"id": n, "why": "no such candidacy"} for n in dict.fromkeys(named) if n not in found
    ]
    for r in rows:
        spec = app.registry.definition(uow, r["workflow_version_id"]).selection
        waiting = spec is not None and r["state"] in (spec.waiting, spec.seated)
        if auto and (not waiting or r["id"] in seated_ids):
            continue  # --auto looks only at those still waiting for a seat
        why = None
        if r["vacancy"] not in vacancies:
            why = f"vacancy {r['vacancy']} is not tested in this session"
        elif spec is None or spec.module != session_row["module"]:
            why = f"its workflow does not take {session_row['module']}"
        elif not waiting:
            why = f"it is in {r['state']!r}, not waiting for a Selor seat"
        elif r["id"] in seated_ids:
            why = "it has a seat already (reschedule or cancel that session to move it)"
        elif r["candidate_id"] in busy:
            why = "the candidate sits another session that day"
        else:
            busy.add(r["candidate_id"])  # one seat a day, also within this batch
        result.append(
            {
                "id": r["id"],
                "candidate_id": r["candidate_id"],
                "state": r["state"],
                "version": r["version"],
                "selection": spec,
                "why": why,
            }
        )
    return result


def reschedule(app: App, code: str, *, starts_at: datetime, place: str | None, actor: str) -> int:
    """Move a session; every seated candidacy is re-invited (its calendar entry moves)."""
    with app.unit_of_work() as uow:
        row = _lock_session(uow, code)
        if row["status"] != "planned":
            raise InvalidInput(f"session {code} is {row['status']}")
        new_place = " ".join((place or row["place"]).split())
        day = starts_at.astimezone(app.settings.zone).date()
        if starts_at <= app.clock.now():
            raise InvalidInput("the new start is in the past")
        if not app.calendar.counts(day, "selor days"):
            raise InvalidInput(f"Selor does not test on {day:%A %Y-%m-%d}")
        old_day = row["starts_at"].astimezone(app.settings.zone).date()
        _release_departed(uow, app, session_id=row["id"], day=old_day)
        _release_departed(uow, app, session_id=row["id"], day=day)
        seats = uow.connection.execute(
            select(SEAT.c.id, SEAT.c.candidacy_id, SEAT.c.result_at).where(
                SEAT.c.session_id == row["id"], SEAT.c.status == "booked"
            )
        ).all()
        if any(seat.result_at is not None for seat in seats):
            raise InvalidInput(f"session {code} has results already; it took place")
        uow.connection.execute(
            update(SESSION)
            .where(SESSION.c.id == row["id"])
            .values(starts_at=starts_at, place=new_place)
        )
        for seat in seats:
            found = uow.candidacies.get(seat.candidacy_id)
            assert found is not None  # noqa: S101 - a foreign key guarantees it
            spec = app.registry.definition(uow, found[0].workflow_version_id).selection
            assert spec is not None  # noqa: S101 - seated only through a selection spec
            advance(
                uow,
                app,
                FireTrigger(
                    candidacy_id=seat.candidacy_id,
                    trigger=spec.reschedule,
                    actor=actor,
                    role=ROLE,
                    reason=f"Selor session {code} moved",
                    facts={spec.at_fact: starts_at.isoformat(), spec.place_fact: new_place},
                ),
            )
            try:
                uow.connection.execute(update(SEAT).where(SEAT.c.id == seat.id).values(day=day))
            except IntegrityError:
                raise ConflictError(
                    f"candidacy {seat.candidacy_id} of session {code} sits another session "
                    f"on {day}; move them first"
                ) from None
        _commit(uow, code)
    log.info("session.rescheduled", session=code, seats=len(seats))
    return len(seats)


def cancel(app: App, code: str, *, move_to: str | None, actor: str) -> int:
    """Cancel a session; its seated candidacies move to ``move_to`` in the same transaction."""
    with app.unit_of_work() as uow:
        row = _lock_session(uow, code)
        if row["status"] != "planned":
            raise InvalidInput(f"session {code} is {row['status']} already")
        _release_departed(
            uow,
            app,
            session_id=row["id"],
            day=row["starts_at"].astimezone(app.settings.zone).date(),
        )
        seated = list(
            uow.connection.execute(
                select(SEAT.c.candidacy_id).where(
                    SEAT.c.session_id == row["id"], SEAT.c.status == "booked"
                )
            ).scalars()
        )
        if seated and move_to is None:
            raise InvalidInput(
                f"session {code} has {len(seated)} seated candidacies: "
                "name the session they move to (--move-to)"
            )
        if move_to == code:
            raise InvalidInput("--move-to names the session being cancelled")
        uow.connection.execute(
            update(SEAT)
            .where(SEAT.c.session_id == row["id"], SEAT.c.status == "booked")
            .values(status="released", released_at=app.clock.now())
        )
        uow.connection.execute(
            update(SESSION).where(SESSION.c.id == row["id"]).values(status="cancelled")
        )
        if seated and move_to is not None:
            _assign(uow, app, move_to, actor, seated, False, None)
        _commit(uow, code)
    log.info("session.cancelled", session=code, moved=len(seated))
    return len(seated)
