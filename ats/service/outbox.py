"""The transactional outbox and its relay (design invariant 6).

A transition writes the mail it owes in its own transaction; the relay
renders and sends it later, records every attempt, retries temporary failures
with exponential backoff and parks a message as dead after a permanent one
or too many attempts. The message is marked sent only after the transport
accepted it, so a crash in between sends it again, with the same Message-ID:
delivery is at least once, never lost, and a duplicate is recognisable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, cast

import structlog
from jinja2 import TemplateError
from sqlalchemy import RowMapping, Table, select

from ats.adapters.db.models import ServiceRow, UserRow
from ats.adapters.db.store import CANDIDATE, OUTBOX
from ats.adapters.invitations import Invitation, build_ics
from ats.adapters.mail import (
    OutgoingMail,
    PermanentFailure,
    TemporaryFailure,
    TransportUnavailable,
    build_message,
    one_line,
)
from ats.adapters.mail_templates import TemplateMissing
from ats.errors import InvalidInput, NotFound
from ats.service.app import App
from ats.service.queries import local_time
from ats.service.status_page import status_url
from ats.service.unit_of_work import UnitOfWork

log = structlog.get_logger("ats")
SERVICE = cast(Table, ServiceRow.__table__)
USER = cast(Table, UserRow.__table__)


@functools.lru_cache(maxsize=8)
def mail_domain(mail_from: str) -> str:
    """The domain of the sender address: Message-IDs and invitation UIDs end in it."""
    return parseaddr(mail_from)[1].rpartition("@")[2] or "ats.invalid"


def message_id(app: App, candidacy_id: int, audit_seq: int, template: str, extra: str = "") -> str:
    """Stable across retries and crashes: (candidacy, audit entry, template)."""
    domain = mail_domain(app.settings.mail_from)
    suffix = f".{extra}" if extra else ""
    return f"<ats.{candidacy_id}.{audit_seq}.{template}{suffix}@{domain}>"


def enqueue(
    uow: UnitOfWork,
    app: App,
    *,
    candidacy_id: int,
    audit_seq: int,
    template: str,
    context: Mapping[str, Any],
    now: datetime,
    extra: str = "",
    recipient_user_id: int | None = None,
) -> None:
    """Owe a mail, in the caller's transaction: to the candidate, or to a staff member
    (``recipient_user_id``) about the candidacy."""
    uow.outbox.add(
        message_id=message_id(app, candidacy_id, audit_seq, template, extra),
        recipient_user_id=recipient_user_id,
        candidacy_id=candidacy_id,
        audit_seq=audit_seq,
        template=template,
        context=dict(context),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        created_at=now,
        sent_at=None,
    )


# -- rendering -----------------------------------------------------------------------------


def compose(
    app: App, uow: UnitOfWork, row: Mapping[str, Any] | RowMapping, *, language: str | None = None
) -> OutgoingMail:
    """The mail for an outbox row, rendered now from the candidate's current data."""
    context = row["context"]
    found = uow.candidacies.get(row["candidacy_id"])
    if found is None:
        raise NotFound(f"candidacy {row['candidacy_id']} is gone")
    candidacy = found[0]
    person = uow.connection.execute(
        select(CANDIDATE.c.name, CANDIDATE.c.email, CANDIDATE.c.language, CANDIDATE.c.key).where(
            CANDIDATE.c.key == candidacy.candidate_key
        )
    ).one()
    vacancy = uow.catalogue.vacancy(candidacy.vacancy)
    if vacancy is None:
        raise NotFound(f"vacancy {candidacy.vacancy} is gone")
    definition = app.registry.definition(
        uow, context.get("workflow_version_id") or candidacy.workflow_version_id
    )
    state = definition.states.get(context.get("state") or candidacy.state)
    service = uow.connection.execute(
        select(SERVICE.c.name).where(SERVICE.c.code == vacancy["service"])
    ).one()
    at = datetime.fromisoformat(context["at"]) if context.get("at") else row["created_at"]
    due = datetime.fromisoformat(context["due"]) if context.get("due") else None

    invited = context.get("invitation")
    session = (
        {"start": datetime.fromisoformat(invited["start"]), "location": invited["location"]}
        if invited and invited.get("method") == "REQUEST"
        else None
    )

    staff = None
    if row.get("recipient_user_id") is not None:
        staff = uow.connection.execute(
            select(USER.c.display_name, USER.c.email, USER.c.language, USER.c.disabled).where(
                USER.c.id == row["recipient_user_id"]
            )
        ).first()
        if staff is None or staff.disabled or not staff.email:
            raise NotFound(f"user {row['recipient_user_id']} is gone, disabled or has no address")
        language = staff.language

    def names(language: str) -> dict[str, Any]:
        return {
            "member": {"name": staff.display_name} if staff else None,
            "candidacy_url": f"{app.settings.public_url.rstrip('/')}/candidacies/{candidacy.id}",
            "candidate": {"name": person.name},
            "vacancy": {"title": vacancy["title"].get(language, vacancy["title"]["en"])},
            "service": {"name": service.name.get(language, service.name["en"])},
            "status": state.public.get(language, "") if state else "",
            "reason": context.get("reason") or "",
            "at": at,
            "due": due,
            # Staff have their own link (candidacy_url); a candidate's status link is theirs alone.
            "status_url": "" if staff else status_url(app, candidacy.id),
            "session": session,
            "cancelled": bool(invited and invited.get("method") == "CANCEL"),
        }

    for attempt_language in app.renderer.languages_for(language or person.language):
        try:
            rendered = app.renderer.render(
                row["template"], attempt_language, names(attempt_language)
            )
            break
        except TemplateMissing:
            continue
    else:
        raise TemplateMissing(f"no template {row['template']!r} in any language")
    calendar, method = None, None
    invitation = context.get("invitation")
    if invitation:
        method = invitation["method"]
        organiser_name, organiser_address = parseaddr(app.settings.mail_from)
        summary = rendered.subject
        calendar = build_ics(
            Invitation(
                uid=invitation["uid"],
                sequence=int(invitation["sequence"]),
                method=method,
                start=datetime.fromisoformat(invitation["start"]),
                end=datetime.fromisoformat(invitation["end"]),
                summary=summary,
                location=invitation["location"],
                description=rendered.text,
                organiser_name=organiser_name or organiser_address,
                organiser_email=organiser_address,
                attendee_name=one_line(staff.display_name if staff else person.name),
                attendee_email=staff.email if staff else person.email,
                stamp=app.clock.now(),
            )
        )
    return OutgoingMail(
        message_id=row["message_id"],
        sender=app.settings.mail_from,
        to_name=staff.display_name if staff else person.name,
        to_address=staff.email if staff else person.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        sent_at=app.clock.now(),
        calendar=calendar,
        calendar_method=method,
    )


# -- the relay -----------------------------------------------------------------------------


@dataclass
class RelayReport:
    sent: int = 0
    deferred: int = 0
    dead: int = 0
    interrupted: bool = False
    transport_error: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.dead

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "dead": self.dead,
            "interrupted": self.interrupted,
            "transport_error": self.transport_error,
            "problems": self.problems,
        }


def relay(
    app: App,
    *,
    limit: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> RelayReport:
    """Send what is due, one message per transaction, over one transport connection."""
    report = RelayReport()
    tried: set[int] = set()  # a deferred message waits for its next attempt time anyway
    with app.transport() as transport:
        while limit is None or report.handled < limit:
            if stop():
                report.interrupted = True
                break
            now = app.clock.now()
            with app.unit_of_work() as uow:
                row = uow.outbox.claim_next(now, exclude=tried)
                if row is None:
                    break
                tried.add(row["id"])
                attempts = row["attempts"] + 1
                unavailable = False
                try:
                    mail = compose(app, uow, row)
                    said = transport.send(build_message(mail))
                except TemporaryFailure as exc:
                    outcome, detail = "temporary", str(exc)
                    unavailable = isinstance(exc, TransportUnavailable)
                except (
                    PermanentFailure,
                    TemplateMissing,
                    TemplateError,
                    NotFound,
                    ValueError,
                ) as exc:
                    outcome, detail = "permanent", f"{type(exc).__name__}: {exc}"
                else:
                    outcome, detail = "sent", said
                uow.outbox.attempt(
                    outbox_id=row["id"],
                    attempted_at=now,
                    outcome=outcome,
                    detail=detail[:2000],
                    process=app.process,
                )
                if outcome == "sent":
                    values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": None}
                elif outcome == "temporary" and attempts < app.settings.mail_max_attempts:
                    backoff = app.settings.mail_retry_seconds * 2 ** (attempts - 1)
                    values = {
                        "next_attempt_at": now + timedelta(seconds=backoff),
                        "last_error": detail,
                    }
                else:
                    values = {"status": "dead", "last_error": detail}
                if not uow.outbox.settle(
                    row["id"], expected_attempts=row["attempts"], attempts=attempts, **values
                ):
                    continue  # another relay settled it first (SQLite has no row locks)
                uow.commit()
            if outcome == "sent":
                report.sent += 1
            elif values.get("status") == "dead":
                report.dead += 1
                report.problems.append({"outbox": row["id"], "detail": detail})
                log.warning("outbox.dead", outbox=row["id"], candidacy=row["candidacy_id"])
            else:
                report.deferred += 1
            if unavailable:
                # One attempt tells us the server is out of reach: the rest wait for the
                # next pass instead of each burning an attempt now.
                report.transport_error = detail
                log.warning("outbox.transport_unavailable", waiting=True)
                break
    if report.handled:
        log.info("outbox.relayed", **{k: v for k, v in report.to_dict().items() if k != "problems"})
    return report


# -- reading and retrying --------------------------------------------------------------------


def messages(
    app: App, *, status: str | None = None, limit: int = 200, candidacy: int | None = None
) -> list[dict[str, Any]]:
    if status is not None and status not in ("pending", "sent", "dead"):
        raise InvalidInput(f"--state {status!r}: choose pending, sent or dead")
    query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
    if status:
        query = query.where(OUTBOX.c.status == status)
    if candidacy is not None:
        query = query.where(OUTBOX.c.candidacy_id == candidacy)
    zone = app.settings.zone
    with app.engine.connect() as connection:
        return [
            {
                "id": row["id"],
                "candidacy": row["candidacy_id"],
                "template": row["template"],
                "status": row["status"],
                "attempts": row["attempts"],
                "created": local_time(row["created_at"], zone),
                "next_attempt": local_time(row["next_attempt_at"], zone),
                "sent": local_time(row["sent_at"], zone) if row["sent_at"] else None,
                "last_error": row["last_error"],
                "message_id": row["message_id"],
            }
            for row in connection.execute(query).mappings()
        ]


def message(app: App, outbox_id: int) -> dict[str, Any]:
    zone = app.settings.zone
    with app.unit_of_work() as uow:
        row = uow.outbox.get(outbox_id)
        if row is None:
            raise NotFound(f"no outbox message {outbox_id}")
        attempts = uow.outbox.attempts(outbox_id)
    listed = next(m for m in messages(app, limit=1_000_000) if m["id"] == outbox_id)
    return {
        **listed,
        "context": dict(row["context"]),
        "attempt_log": [
            {
                "at": local_time(a["attempted_at"], zone),
                "outcome": a["outcome"],
                "detail": a["detail"],
                "process": a["process"],
            }
            for a in attempts
        ],
    }


def retry(app: App, outbox_id: int) -> None:
    with app.unit_of_work() as uow:
        row = uow.outbox.get(outbox_id)
        if row is None:
            raise NotFound(f"no outbox message {outbox_id}")
        if not uow.outbox.retry(outbox_id, now=app.clock.now()):
            raise InvalidInput(
                f"message {outbox_id} is {row['status']}; only dead messages are retried"
            )
        uow.commit()


def preview(app: App, candidacy_id: int, template: str, language: str) -> dict[str, str]:
    """What ``template`` would look like for this candidacy now, in ``language``."""
    with app.unit_of_work() as uow:
        found = uow.candidacies.get(candidacy_id)
        if found is None:
            raise NotFound(f"no candidacy {candidacy_id}")
        row = {
            "candidacy_id": candidacy_id,
            "template": template,
            "message_id": message_id(app, candidacy_id, found[0].version, template, "preview"),
            "created_at": app.clock.now(),
            "context": {
                "state": found[0].state,
                "workflow_version_id": found[0].workflow_version_id,
            },
        }
        try:
            mail = compose(app, uow, row, language=language)
        except TemplateMissing as exc:
            raise NotFound(str(exc)) from exc
    return {
        "subject": mail.subject,
        "text": mail.text,
        "html": mail.html,
        "message_id": mail.message_id,
    }
