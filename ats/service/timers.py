"""The sweeper: fires due timers as ordinary transitions, each exactly once.

One timer, one transaction: claim it (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; on SQLite the compare-and-set that settles it), fire its trigger
with actor ``system:timer`` through the same code as any transition (guards,
audit entry, timers of the next state), mark it settled, commit. A worker
killed mid-sweep loses nothing: its open transaction rolls back and the timer
is still armed for the next sweep. Overdue timers fire oldest first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, select

from ats.adapters.db.models import PanelMemberRow, UserRow, VacancyRow
from ats.adapters.db.store import AUDIT, TIMER
from ats.domain.candidacy import Candidacy
from ats.errors import ConflictError, InvalidInput, TransitionRefused
from ats.service.app import App
from ats.service.commands import FireTrigger
from ats.service.handlers import advance
from ats.service.outbox import enqueue
from ats.service.queries import local_time
from ats.service.unit_of_work import UnitOfWork

PANEL = cast(Table, PanelMemberRow.__table__)
USER = cast(Table, UserRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)
log = structlog.get_logger("ats")

TIMER_ACTOR = "system:timer"
MAX_CONFLICTS = 3  # a timer that keeps losing races waits for the next sweep


@dataclass
class SweepReport:
    fired: int = 0
    reminded: int = 0
    skipped: int = 0
    failed: int = 0
    max_lateness_s: float = 0.0
    first_due: datetime | None = None
    last_due: datetime | None = None
    interrupted: bool = False
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def settled(self) -> int:
        return self.fired + self.reminded + self.skipped + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "fired": self.fired,
            "reminded": self.reminded,
            "skipped": self.skipped,
            "failed": self.failed,
            "max_lateness_s": round(self.max_lateness_s, 1),
            "first_due": self.first_due.isoformat() if self.first_due else None,
            "last_due": self.last_due.isoformat() if self.last_due else None,
            "interrupted": self.interrupted,
            "failures": self.failures,
        }


def sweep(
    app: App,
    *,
    worker: str,
    limit: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> SweepReport:
    """Settle every timer due now (or ``limit`` of them), oldest first, checking ``stop`` between."""
    report = SweepReport()
    losers: dict[int, int] = {}
    while limit is None or report.settled < limit:
        if stop():
            report.interrupted = True
            break
        now = app.clock.now()
        outcome = _settle_one(app, worker, now, losers, report)
        if outcome is None:
            break
    if report.settled:
        log.info("timers.swept", worker=worker, **report.to_dict())
    return report


def _settle_one(
    app: App, worker: str, now: datetime, losers: dict[int, int], report: SweepReport
) -> str | None:
    """Claim and settle the oldest due timer; None when nothing is due."""
    exclude = [timer_id for timer_id, n in losers.items() if n >= MAX_CONFLICTS]
    with app.unit_of_work() as uow:
        timer = uow.timers.claim_next(now, exclude=exclude)
        if timer is None:
            return None
        if not uow.candidacies.lock_now(timer["candidacy_id"]):
            losers[timer["id"]] = losers.get(timer["id"], 0) + 1
            return "busy"  # someone is moving this candidacy right now; look again soon
        found = uow.candidacies.get(timer["candidacy_id"])
        moved_on = (
            found is None
            or found[0].version != timer["state_version"]
            or found[0].state != timer["state"]
        )
        lateness = (now - timer["due_at"]).total_seconds()
        if moved_on:
            status, note = "skipped", "the candidacy had left the state"
        elif timer["kind"] == "reminder":
            status, note = "done", f"reminder {timer['template']} queued"
        else:
            status, note = "done", f"fired {timer['trigger']}"
        if not uow.timers.settle(timer["id"], status=status, now=now, by=worker, outcome=note):
            return "lost"  # another worker settled it between our read and our write
        if status == "done" and timer["kind"] == "reminder":
            context = {"state": timer["state"], "at": now.isoformat(), "due": _deadline(uow, timer)}
            assert found is not None  # noqa: S101 - not moved_on
            for user_id in _reminded(uow, app, found[0], timer):
                enqueue(
                    uow,
                    app,
                    candidacy_id=timer["candidacy_id"],
                    audit_seq=timer["state_version"],
                    template=timer["template"],
                    context=context,
                    now=now,
                    extra=f"t{timer['id']}" + (f".user{user_id}" if user_id else ""),
                    recipient_user_id=user_id,
                )
        if status == "done" and timer["kind"] == "timeout":
            try:
                advance(
                    uow,
                    app,
                    FireTrigger(
                        candidacy_id=timer["candidacy_id"],
                        trigger=timer["trigger"],
                        actor=TIMER_ACTOR,
                        role="system",
                        reason=f"timeout of state {timer['state']}",
                        expected_version=timer["state_version"],
                        request_id=f"timer:{timer['id']}",
                    ),
                )
            except ConflictError:
                losers[timer["id"]] = losers.get(timer["id"], 0) + 1
                return "conflict"  # rolled back; the candidacy moved under us, look again
            except (TransitionRefused, InvalidInput) as refused:
                uow.connection.rollback()
                _fail(app, timer["id"], worker, now, refused.message)
                report.failed += 1
                report.failures.append({"timer": timer["id"], "reason": refused.message})
                log.warning("timer.failed", timer=timer["id"], candidacy=timer["candidacy_id"])
                return "failed"
        uow.commit()
    if status == "skipped":
        report.skipped += 1
    elif timer["kind"] == "reminder":
        report.reminded += 1
    else:
        report.fired += 1
    report.max_lateness_s = max(report.max_lateness_s, lateness)
    report.first_due = report.first_due or timer["due_at"]
    report.last_due = timer["due_at"]
    log.info(
        "timer.settled",
        timer=timer["id"],
        candidacy=timer["candidacy_id"],
        kind=timer["kind"],
        status=status,
        lateness_s=round(lateness, 1),
    )
    return status


def _reminded(uow: UnitOfWork, app: App, candidacy: Candidacy, timer: Any) -> list[int | None]:
    """Who a reminder goes to: the candidate (None), or each approver with an address who may
    approve what waits: working for the vacancy's service, not on its panel, not the asker."""
    definition = app.registry.definition(uow, candidacy.workflow_version_id)
    timeout = definition.states[timer["state"]].timeout
    to = next(
        (r.to for r in (timeout.reminders if timeout else ()) if r.notify == timer["template"]),
        "candidate",
    )
    if to == "candidate":
        return [None]
    service = uow.connection.execute(
        select(VACANCY.c.service).where(VACANCY.c.code == candidacy.vacancy)
    ).scalar_one()
    asker = uow.connection.execute(
        select(AUDIT.c.actor).where(
            AUDIT.c.candidacy_id == candidacy.id, AUDIT.c.seq == timer["state_version"]
        )
    ).scalar()
    panel = set(
        uow.connection.execute(
            select(PANEL.c.user_id).where(PANEL.c.vacancy == candidacy.vacancy)
        ).scalars()
    )
    rows = uow.connection.execute(
        select(USER.c.id, USER.c.username, USER.c.roles)
        .where(USER.c.email.is_not(None), USER.c.disabled.is_(False))
        .order_by(USER.c.id)
    )
    return [
        row.id
        for row in rows
        if "approver" in row.roles["roles"]
        and (not row.roles["services"] or service in row.roles["services"])
        and row.id not in panel
        and asker != f"user:{row.username}"
    ]


def _deadline(uow: UnitOfWork, reminder: Any) -> str | None:
    """The due time of the timeout a reminder announces, for the mail to state."""
    due = uow.connection.execute(
        select(TIMER.c.due_at).where(
            TIMER.c.candidacy_id == reminder["candidacy_id"],
            TIMER.c.state_version == reminder["state_version"],
            TIMER.c.kind == "timeout",
        )
    ).scalar()
    return due.isoformat() if due is not None else None


def _fail(app: App, timer_id: int, worker: str, now: datetime, reason: str) -> None:
    """Mark a timer failed with the refusal, so it surfaces instead of retrying forever."""
    with app.unit_of_work() as uow:
        uow.timers.settle(timer_id, status="failed", now=now, by=worker, outcome=reason)
        uow.commit()


def timers(
    app: App,
    *,
    due_before: datetime | None = None,
    failed: bool = False,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Armed timers (by due time), or failed ones with their reason."""
    query = select(TIMER).order_by(TIMER.c.due_at, TIMER.c.id).limit(limit)
    query = query.where(TIMER.c.status == ("failed" if failed else "armed"))
    if due_before is not None:
        query = query.where(TIMER.c.due_at < due_before)
    zone = app.settings.zone
    with app.engine.connect() as connection:
        return [
            {
                "id": row["id"],
                "candidacy": row["candidacy_id"],
                "state": row["state"],
                "kind": row["kind"],
                "what": row["trigger"] or row["template"],
                "due": local_time(row["due_at"], zone),
                "due_utc": row["due_at"].isoformat(),
                "status": row["status"],
                "outcome": row["outcome"],
            }
            for row in connection.execute(query).mappings()
        ]
