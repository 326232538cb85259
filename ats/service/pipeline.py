"""What a recruiter's screens show: the board of a vacancy, search, and a bulk move reviewed first.

Read-only queries with the rules applied per candidacy (which triggers each of
the user's roles may fire now, and why not); the moves themselves go through
the ordinary transition handler one by one, so each is its own transaction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, Table, func, or_, select

from ats.adapters.db.engine import lowered
from ats.adapters.db.models import TimerRow
from ats.domain.access import WORKFLOW_ROLE, Principal
from ats.domain.candidacy import decide, options
from ats.domain.workflow import TransitionSpec, WorkflowDefinition
from ats.errors import ATSError, InvalidInput, NotFound
from ats.service import queries
from ats.service.app import App
from ats.service.audit import record_refusal
from ats.service.commands import FireTrigger
from ats.service.queries import CANDIDACY, CANDIDATE, local_time

log = structlog.get_logger("ats")
TIMER = cast(Table, TimerRow.__table__)
MAX_ID = 2**31 - 1  # ids and versions are 32-bit integers in the database
_NUMBER = re.compile(r"[0-9]{1,10}")


def number(text: str | None, *, low: int = 1) -> int | None:
    """A database id or version typed by a user (ASCII digits, in range), else None."""
    if text is None or not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= MAX_ID else None


FINAL_CARDS = 12  # finished candidacies are counted in full, shown only as the latest few


def workflow_roles(who: Principal) -> list[str]:
    """The workflow roles a staff user fires triggers as, e.g. recruiter, selor."""
    return sorted({WORKFLOW_ROLE[r] for r in who.roles if r in WORKFLOW_ROLE})


def fact_fields(spec: TransitionSpec) -> list[str]:
    """The facts a transition's form asks for: what its guards read, where its invitation is."""
    names = sorted({name for guard in spec.guards for name in guard.facts})
    if spec.invitation:
        names += [spec.invitation.start, spec.invitation.location]
    return list(dict.fromkeys(names))


def board(
    app: App, code: str, who: Principal, *, language: str, per_column: int = 60
) -> dict[str, Any]:
    """A column per state of the vacancy's workflow, with counts and cards (oldest first)."""
    try:
        vacancy = queries.vacancy(app, code)
    except NotFound:
        vacancy = None
    if vacancy is None or not who.can_see(vacancy["service"]):
        raise NotFound(f"no vacancy {code[:40]!r} among yours")  # the same for both: leaks nothing
    now = app.clock.now()
    roles = [r for r in workflow_roles(who) if who.can_act_on(vacancy["service"], r)]
    due = (
        select(TIMER.c.candidacy_id, func.min(TIMER.c.due_at).label("due"))
        .where(TIMER.c.status == "armed", TIMER.c.kind == "timeout")
        .group_by(TIMER.c.candidacy_id)
        .subquery()
    )
    with app.unit_of_work() as uow:
        rows = uow.connection.execute(
            select(
                CANDIDACY.c.id,
                CANDIDACY.c.state,
                CANDIDACY.c.version,
                CANDIDACY.c.facts,
                CANDIDACY.c.state_entered_at,
                CANDIDACY.c.workflow_version_id,
                CANDIDATE.c.name,
                due.c.due,
            )
            .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
            .outerjoin(due, due.c.candidacy_id == CANDIDACY.c.id)
            .where(CANDIDACY.c.vacancy == code)
            .order_by(CANDIDACY.c.state_entered_at, CANDIDACY.c.id)
        ).all()
        current = uow.workflows.current(vacancy["workflow"])
        versions = {r.workflow_version_id for r in rows} | ({current["id"]} if current else set())
        definitions = {v: app.registry.definition(uow, v) for v in versions}
    shape = definitions[current["id"]] if current else next(iter(definitions.values()), None)
    if shape is None:
        raise NotFound(f"vacancy {code!r} has no workflow stored; run `ats init`")
    order = list(shape.states) + sorted(
        {r.state for r in rows} - set(shape.states)
    )  # states only older versions have go last
    columns: dict[str, dict[str, Any]] = {
        name: {
            "state": name,
            "label": _label(definitions, name, language),
            "final": shape.states[name].final if name in shape.states else False,
            "count": 0,
            "cards": [],
        }
        for name in order
    }
    for row in rows:
        column = columns[row.state]
        column["count"] += 1
        limit = FINAL_CARDS if column["final"] else per_column
        if len(column["cards"]) >= limit and not column["final"]:
            continue
        definition = definitions[row.workflow_version_id]
        facts = row.facts or {}
        actions = []
        for role in roles:
            for d in options(definition, row.state, facts, role):
                spec = definition.transition(d.trigger, row.state)
                if spec is None or role not in spec.roles:
                    continue  # the role may not fire it at all: not an action of this card
                actions.append(
                    {
                        "role": role,
                        "trigger": d.trigger,
                        "to": d.dest,
                        "to_label": _label(definitions, d.dest or "", language),
                        # Fired from the card when nothing is to be typed; else via its form.
                        "direct": d.allowed and not spec.reason_required and not spec.invitation,
                        # Ending a candidacy for good asks for one more click.
                        "final": bool(d.dest and definition.states[d.dest].final),
                    }
                )
        card = {
            "id": row.id,
            "name": row.name,
            "version": row.version,
            "days": max(0, (now - row.state_entered_at).days),
            "since": local_time(row.state_entered_at, app.settings.zone),
            "deadline": row.due,  # UTC; the page shows the Brussels day
            "overdue": row.due is not None and row.due <= now,
            "actions": actions,
        }
        column["cards"].append(card)
        if column["final"] and len(column["cards"]) > limit:
            column["cards"].pop(0)  # keep the latest finished ones
    triggers = sorted(
        {
            t.trigger
            for d in definitions.values()
            for t in d.transitions
            if any(r in t.roles for r in roles)
        }
    )
    return {
        "vacancy": vacancy,
        "title": vacancy["title"].get(language, vacancy["title"]["en"]),
        "columns": list(columns.values()),
        "total": len(rows),
        "roles": roles,
        "triggers": triggers,
        "per_column": per_column,
    }


def _label(definitions: dict[int, WorkflowDefinition], state: str, language: str) -> str:
    for definition in definitions.values():
        spec = definition.states.get(state)
        if spec is not None:
            return spec.label.get(language) or spec.label.get("en") or state
    return state


def search(
    app: App,
    who: Principal,
    *,
    q: str | None = None,
    vacancy: str | None = None,
    state: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """Candidacies of the caller's services by name, email, candidate reference or id; paged."""
    codes = [v["code"] for v in queries.vacancies(app) if who.can_see(v["service"])]
    query = (
        select(
            CANDIDACY.c.id,
            CANDIDACY.c.vacancy,
            CANDIDACY.c.state,
            CANDIDACY.c.version,
            CANDIDACY.c.state_entered_at,
            CANDIDATE.c.name,
            CANDIDATE.c.email,
            CANDIDATE.c.key,
        )
        .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
        .where(CANDIDACY.c.vacancy.in_(codes))
    )
    if vacancy:
        query = query.where(CANDIDACY.c.vacancy == vacancy)
    if state:
        query = query.where(CANDIDACY.c.state == state)
    text = (q or "").strip()
    if text:
        needle = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        conditions: list[ColumnElement[bool]] = [
            lowered(CANDIDATE.c.name).like(needle, escape="\\"),
            lowered(CANDIDATE.c.email).like(needle, escape="\\"),
            lowered(CANDIDATE.c.key) == text.lower(),
        ]
        wanted = number(text)
        if wanted is not None:
            conditions.append(CANDIDACY.c.id == wanted)
        query = query.where(or_(*conditions))
    with app.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = connection.execute(
            query.order_by(CANDIDACY.c.id).limit(per_page).offset((page - 1) * per_page)
        ).mappings()
        items = [
            {
                "id": r["id"],
                "vacancy": r["vacancy"],
                "state": r["state"],
                "version": r["version"],
                "since": r["state_entered_at"].isoformat(),
                "name": r["name"],
                "email": r["email"],
                "reference": r["key"],
            }
            for r in rows
        ]
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": max(1, math.ceil(total / per_page)),
    }


@dataclass(frozen=True)
class BulkItem:
    candidacy: int
    version: int | None


def parse_bulk_items(values: Sequence[str]) -> list[BulkItem]:
    """``id:version`` pairs from a form; InvalidInput names the first malformed one."""
    items = []
    for value in values:
        candidacy_text, _, version_text = value.partition(":")
        candidacy, version = number(candidacy_text), number(version_text, low=0)
        if candidacy is None or (version_text and version is None):
            raise InvalidInput(f"selection {value[:40]!r}: expected candidacy:version, like 12:3")
        items.append(BulkItem(candidacy, version))
    if not items:
        raise InvalidInput("select at least one candidacy")
    if len(items) > 500:
        raise InvalidInput(f"{len(items)} candidacies selected; move at most 500 at a time")
    return list({i.candidacy: i for i in items}.values())


def review_bulk(
    app: App,
    who: Principal,
    items: Sequence[BulkItem],
    *,
    trigger: str,
    role: str,
    reason: str | None,
    language: str,
    vacancy: str | None = None,
) -> list[dict[str, Any]]:
    """What firing ``trigger`` on each item would do, before anything is done."""
    reviewed = []
    for item in items:
        try:
            detail = queries.candidacy(app, item.candidacy)
            service = queries.vacancy(app, detail["vacancy"])["service"]
            if not who.can_see(service) or (vacancy and detail["vacancy"] != vacancy):
                raise NotFound(f"no candidacy {item.candidacy}")
        except NotFound:
            reviewed.append(
                {"candidacy": item.candidacy, "name": "?", "ok": False, "why": ["not found"]}
            )
            continue
        with app.unit_of_work() as uow:
            found = uow.candidacies.get(item.candidacy)
            assert found is not None  # noqa: S101 - read just above
            definition = app.registry.definition(uow, found[0].workflow_version_id)
        verdict = decide(definition, detail["state"], detail["facts"], trigger, role, reason=reason)
        why = list(verdict.reasons)
        if not who.can_act_on(service, role):
            why.append(f"you do not act as {role} for service {service}")
        if item.version is not None and item.version != detail["version"]:
            why.append("it moved since you loaded the board; reload it")
        reviewed.append(
            {
                "candidacy": item.candidacy,
                "version": detail["version"] if item.version is None else item.version,
                "name": detail["candidate"]["name"],
                "from": _label({0: definition}, detail["state"], language),
                "to": _label({0: definition}, verdict.dest, language) if verdict.dest else None,
                "ok": not why,
                "why": why,
            }
        )
    return reviewed


def fire_bulk(
    app: App,
    who: Principal,
    items: Sequence[BulkItem],
    *,
    trigger: str,
    role: str,
    reason: str | None,
    facts: dict[str, object] | None = None,
    vacancy: str | None = None,
) -> list[dict[str, Any]]:
    """Fire ``trigger`` on each item in its own transaction; per item, moved or why not.

    One item's failure, even an unexpected one, never stops the others: the
    moves made stay made, and the result says which failed and why.
    """
    results: list[dict[str, Any]] = []
    for item in items:
        name = None
        try:
            detail = queries.candidacy(app, item.candidacy)
            service = queries.vacancy(app, detail["vacancy"])["service"]
            if not (who.can_see(service) and who.can_act_on(service, role)):
                record_refusal(
                    app,
                    actor=who.actor,
                    roles=who.roles,
                    subject=f"candidacy:{item.candidacy}",
                    reason=f"may not act as {role} in service {service}",
                )
                raise NotFound(f"no candidacy {item.candidacy}")
            if vacancy and detail["vacancy"] != vacancy:
                raise NotFound(f"candidacy {item.candidacy} is not one of vacancy {vacancy}")
            name = detail["candidate"]["name"]
            event = app.handle(
                FireTrigger(
                    candidacy_id=item.candidacy,
                    trigger=trigger,
                    actor=who.actor,
                    role=role,
                    reason=reason,
                    facts=dict(facts or {}),
                    expected_version=item.version,
                )
            )
        except ATSError as exc:
            results.append(
                {
                    "candidacy": item.candidacy,
                    "name": name,
                    "status": exc.http_status,
                    "title": type(exc).__name__,
                    "detail": exc.message,
                }
            )
            continue
        except Exception:  # reported per item; the moves already made stand
            log.exception("bulk.item_failed", candidacy=item.candidacy, trigger=trigger)
            results.append(
                {
                    "candidacy": item.candidacy,
                    "name": name,
                    "status": 500,
                    "title": "InternalError",
                    "detail": "an unexpected error stopped this one; it was logged",
                }
            )
            continue
        results.append(
            {
                "candidacy": item.candidacy,
                "name": name,
                "status": 201,
                "from": event.src,
                "to": event.dst,
            }
        )
    return results


def pending_timers(app: App, candidacy_id: int) -> list[dict[str, Any]]:
    """The candidacy's armed deadlines and reminders, soonest first."""
    with app.engine.connect() as connection:
        rows = connection.execute(
            select(TIMER)
            .where(TIMER.c.candidacy_id == candidacy_id, TIMER.c.status == "armed")
            .order_by(TIMER.c.due_at, TIMER.c.id)
        ).mappings()
        return [
            {
                "kind": row["kind"],
                "what": row["trigger"] or row["template"],
                "due": local_time(row["due_at"], app.settings.zone),
                "overdue": row["due_at"] <= app.clock.now(),
            }
            for row in rows
        ]
