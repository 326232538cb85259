"""Read queries for the CLI and, later, the API and UI. Plain dicts out; no rules here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, case, func, select

from ats.adapters.db.models import (
    AuditEntryRow,
    CandidacyRow,
    CandidateRow,
    JobFunctionRow,
    ServiceRow,
    VacancyRow,
    WaveRow,
    WorkflowVersionRow,
)
from ats.domain.candidacy import options
from ats.domain.roles import FIRING_ROLES
from ats.errors import InvalidInput, NotFound
from ats.service.app import App

VACANCY = cast(Table, VacancyRow.__table__)
CANDIDACY = cast(Table, CandidacyRow.__table__)
CANDIDATE = cast(Table, CandidateRow.__table__)
WORKFLOW = cast(Table, WorkflowVersionRow.__table__)
AUDIT = cast(Table, AuditEntryRow.__table__)


def local_time(instant: datetime, zone: ZoneInfo) -> str:
    """UTC inside, local outside: how people read a stored time."""
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def workflows(app: App) -> list[dict[str, Any]]:
    in_use = (
        select(CANDIDACY.c.workflow_version_id, func.count().label("n"))
        .group_by(CANDIDACY.c.workflow_version_id)
        .subquery()
    )
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(WORKFLOW, func.coalesce(in_use.c.n, 0).label("candidacies"))
            .outerjoin(in_use, in_use.c.workflow_version_id == WORKFLOW.c.id)
            .order_by(WORKFLOW.c.name, WORKFLOW.c.number)
        ).mappings()
        return [
            {
                "name": row["name"],
                "version": row["number"],
                "hash": row["content_hash"],
                "job_function": row["definition"]["job_function"],
                "states": len(row["definition"]["states"]),
                "transitions": len(row["definition"]["transitions"]),
                "candidacies": row["candidacies"],
                "loaded_at": local_time(row["loaded_at"], app.settings.zone),
            }
            for row in rows
        ]


def workflow(app: App, name: str, number: int | None = None) -> dict[str, Any]:
    query = select(WORKFLOW).where(WORKFLOW.c.name == name)
    query = (
        query.where(WORKFLOW.c.number == number)
        if number is not None
        else query.order_by(WORKFLOW.c.number.desc()).limit(1)
    )
    with app.engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        known = ", ".join(sorted({w["name"] for w in workflows(app)})) or "none; run `ats init`"
        raise NotFound(f"no workflow {name!r}{f' v{number}' if number else ''} (stored: {known})")
    return {
        "name": row["name"],
        "version": row["number"],
        "hash": row["content_hash"],
        "loaded_at": local_time(row["loaded_at"], app.settings.zone),
        "definition": row["definition"],
    }


def vacancies(app: App, language: str = "en") -> list[dict[str, Any]]:
    counts = (
        select(
            CANDIDACY.c.vacancy,
            func.count().label("candidacies"),
            func.sum(case((CANDIDACY.c.state == "hired", 1), else_=0)).label("hired"),
        )
        .group_by(CANDIDACY.c.vacancy)
        .subquery()
    )
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(
                VACANCY,
                func.coalesce(counts.c.candidacies, 0).label("candidacies"),
                func.coalesce(counts.c.hired, 0).label("hired"),
            )
            .outerjoin(counts, counts.c.vacancy == VACANCY.c.code)
            .order_by(VACANCY.c.wave, VACANCY.c.code)
        ).mappings()
        return [
            {
                "code": row["code"],
                "service": row["service"],
                "job_function": row["job_function"],
                "wave": row["wave"],
                "track": row["track"],
                "target": row["target"],
                "title": row["title"].get(language, row["title"].get("en")),
                "candidacies": int(row["candidacies"]),
                "hired": int(row["hired"]),
            }
            for row in rows
        ]


def vacancy(app: App, code: str) -> dict[str, Any]:
    service, function, wave = ServiceRow.__table__, JobFunctionRow.__table__, WaveRow.__table__
    with app.engine.connect() as connection:
        row = (
            connection.execute(
                select(
                    VACANCY,
                    service.c.name.label("service_name"),
                    function.c.title.label("function_title"),
                    function.c.workflow,
                    wave.c.opens_on,
                )
                .join(service, service.c.code == VACANCY.c.service)
                .join(function, function.c.code == VACANCY.c.job_function)
                .join(wave, wave.c.code == VACANCY.c.wave)
                .where(VACANCY.c.code == code)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no vacancy {code!r}; `ats vacancy list` shows them")
        states = connection.execute(
            select(CANDIDACY.c.state, func.count())
            .where(CANDIDACY.c.vacancy == code)
            .group_by(CANDIDACY.c.state)
            .order_by(CANDIDACY.c.state)
        ).all()
    return {
        "code": row["code"],
        "title": dict(row["title"]),
        "service": row["service"],
        "service_name": dict(row["service_name"]),
        "job_function": row["job_function"],
        "function_title": dict(row["function_title"]),
        "workflow": row["workflow"],
        "wave": row["wave"],
        "opens_on": row["opens_on"].isoformat(),
        "track": row["track"],
        "target": row["target"],
        "states": dict(states),
    }


def candidacies(
    app: App, *, vacancy: str | None = None, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    query = (
        select(
            CANDIDACY.c.id,
            CANDIDACY.c.vacancy,
            CANDIDACY.c.state,
            CANDIDACY.c.version,
            CANDIDACY.c.state_entered_at,
            CANDIDATE.c.name,
            CANDIDATE.c.language,
        )
        .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
        .order_by(CANDIDACY.c.id)
        .limit(limit)
    )
    if vacancy:
        query = query.where(CANDIDACY.c.vacancy == vacancy)
    if state:
        query = query.where(CANDIDACY.c.state == state)
    with app.engine.connect() as connection:
        return [
            {
                "id": row.id,
                "vacancy": row.vacancy,
                "state": row.state,
                "version": row.version,
                "since": local_time(row.state_entered_at, app.settings.zone),
                "name": row.name,
                "language": row.language,
            }
            for row in connection.execute(query)
        ]


def candidacy(app: App, candidacy_id: int, *, role: str | None = None) -> dict[str, Any]:
    """One candidacy, and what each role (or the one given) can fire now, and why not."""
    if role is not None and role not in FIRING_ROLES:
        raise InvalidInput(f"role {role!r}: choose one of {', '.join(sorted(FIRING_ROLES))}")
    with app.unit_of_work() as uow:
        row = (
            uow.connection.execute(
                select(
                    CANDIDACY,
                    CANDIDATE.c.name,
                    CANDIDATE.c.email,
                    CANDIDATE.c.language,
                    CANDIDATE.c.key,
                )
                .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
                .where(CANDIDACY.c.id == candidacy_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no candidacy {candidacy_id}")
        definition = app.registry.definition(uow, row["workflow_version_id"])
        version = uow.workflows.get(row["workflow_version_id"])
    assert version is not None  # noqa: S101 - a foreign key guarantees it
    roles = (
        [role]
        if role
        else sorted(
            {r for t in definition.transitions if row["state"] in t.sources for r in t.roles}
        )
    )
    state = definition.states[row["state"]]
    return {
        "id": row["id"],
        "vacancy": row["vacancy"],
        "state": row["state"],
        "label": state.label.get("en"),
        "public": dict(state.public),
        "final": state.final,
        "version": row["version"],
        "workflow": f"{version['name']} v{version['number']}",
        "since": local_time(row["state_entered_at"], app.settings.zone),
        "applied": local_time(row["created_at"], app.settings.zone),
        "candidate": {
            "key": row["key"],
            "name": row["name"],
            "email": row["email"],
            "language": row["language"],
        },
        "facts": dict(row["facts"] or {}),
        # A dispute is pending: nothing of this file may be erased until the hold is lifted.
        "legal_hold": None
        if row["held_at"] is None
        else {"since": local_time(row["held_at"], app.settings.zone), "reason": row["hold_reason"]},
        "options": [
            {
                "role": r,
                "trigger": d.trigger,
                "to": d.dest,
                "allowed": d.allowed,
                "why_not": list(d.reasons),
                "needs_reason": d.reason_required,
            }
            for r in roles
            for d in options(definition, row["state"], row["facts"] or {}, r)
        ],
    }


def history(app: App, candidacy_id: int) -> list[dict[str, Any]]:
    with app.unit_of_work() as uow:
        if uow.candidacies.get(candidacy_id) is None:
            raise NotFound(f"no candidacy {candidacy_id}")
        entries = uow.audit.history(candidacy_id)
    return [
        {
            "seq": e["seq"],
            "at": local_time(e["occurred_at"], app.settings.zone),
            "at_utc": e["occurred_at"].isoformat(),
            "actor": e["actor"],
            "role": e["role"],
            "trigger": e["trigger"],
            "from": e["src"],
            "to": e["dst"],
            "reason": e["reason"],
            "facts": dict(e["facts"] or {}),
            "hash": e["hash"],
        }
        for e in entries
    ]


def state_counts(app: App) -> list[dict[str, Any]]:
    """Candidacies per vacancy and state: the demo's closing table."""
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(CANDIDACY.c.vacancy, CANDIDACY.c.state, func.count().label("n"))
            .group_by(CANDIDACY.c.vacancy, CANDIDACY.c.state)
            .order_by(CANDIDACY.c.vacancy, CANDIDACY.c.state)
        ).all()
    return [{"vacancy": r.vacancy, "state": r.state, "count": r.n} for r in rows]
