"""Personal data: retention by policy, erasure, legal holds, talent-pool consent, access requests.

A public authority cannot lean on consent for the procedure itself, so how long
a candidate's file is kept follows a policy per outcome (settings
``retention_*_months``), counted from each candidacy's final transition; consent
to the talent pool only extends it. Erasing a person removes what identifies
them (name, email, phone, birth date) and every free text that may (reasons,
text facts, remarks, mail context and the mail files), and keeps the
pseudonymous key, states and dates: the funnel counts stay right and every
audit chain still verifies, because audit records hash seals of their texts,
never the texts (``ats.domain.audit.seal_texts``).

A legal hold on a candidacy (a dispute is pending) blocks erasure until lifted.
Every erasure, hold and consent is an event on the audit log.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, cast

import structlog
from sqlalchemy import Connection, RowMapping, Table, delete, select, update

from ats.adapters.db.models import (
    CandidateLinkRow,
    DocumentRow,
    ScorecardRow,
    SelectionSeatRow,
    SelectionSessionRow,
    VacancyRow,
)
from ats.adapters.db.store import (
    ATTEMPT,
    AUDIT_TEXT,
    CANDIDACY,
    CANDIDATE,
    EVENT,
    OUTBOX,
    TIMER,
    kept_texts,
)
from ats.adapters.mail import maildir_path
from ats.domain.audit import (
    DATA_ERASED,
    LEGAL_HOLD,
    POOL_CONSENT,
    SealedTexts,
    open_texts,
    seal_texts,
)
from ats.errors import ATSError, ConflictError, InvalidInput, LegalHoldActive, NotFound
from ats.service import audit_reports
from ats.service.app import App
from ats.service.audit import record_event
from ats.service.handlers import add_months
from ats.service.unit_of_work import UnitOfWork

log = structlog.get_logger("ats")

SEAT = cast(Table, SelectionSeatRow.__table__)
DOCUMENT = cast(Table, DocumentRow.__table__)
SCORECARD = cast(Table, ScorecardRow.__table__)
SESSION = cast(Table, SelectionSessionRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)
LINK = cast(Table, CandidateLinkRow.__table__)

ERASED_NAME = "[erased]"  # shown where the name was; the key still tells records apart
SCRUBBED = "[erased]"
MAX_REASON = 2000
_SUFFIX = {  # what an exported CV is named by its (sniffed) type
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}


def erased_email(key: str) -> str:
    """A unique address no mail can reach (RFC 2606 ``.invalid``): the column stays unique."""
    return f"erased-{key}@erased.invalid"


# -- finding a person ----------------------------------------------------------------------


def find_candidate(connection: Connection, ref: str) -> RowMapping:
    """A candidate by key or email (as the audit extract finds them); a merged record is refused."""
    row = audit_reports.find_candidate(connection, ref)
    if row["merged_into"] is not None:
        kept = (
            connection.execute(select(CANDIDATE).where(CANDIDATE.c.id == row["merged_into"]))
            .mappings()
            .one()
        )
        raise InvalidInput(
            f"candidate {row['key']} was merged into {kept['key']}; use that key instead"
        )
    return row


# -- retention -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Retention:
    """When a candidate's file falls due for erasure, and why (or why not yet)."""

    candidate_key: str
    candidate_id: int
    due_on: date | None  # None while a candidacy is still open
    grounds: str
    open_candidacies: tuple[int, ...] = ()
    held_candidacies: tuple[int, ...] = ()
    consent_until: date | None = None

    def due(self, today: date) -> bool:
        return self.due_on is not None and self.due_on <= today

    def blocked(self) -> bool:
        return bool(self.held_candidacies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate_key,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "grounds": self.grounds,
            "open": list(self.open_candidacies),
            "held": list(self.held_candidacies),
            "consent_until": self.consent_until.isoformat() if self.consent_until else None,
        }


def _files(app: App, uow: UnitOfWork, candidate_id: int | None = None) -> Iterator[Retention]:
    """Each live (not erased, not merged) candidate's retention, streamed in id order."""
    zone = app.settings.zone
    query = (
        select(
            CANDIDATE.c.id.label("candidate_id"),
            CANDIDATE.c.key,
            CANDIDATE.c.created_at.label("registered_at"),
            CANDIDATE.c.pool_consent_at,
            CANDIDACY.c.id,
            CANDIDACY.c.vacancy,
            CANDIDACY.c.state,
            CANDIDACY.c.workflow_version_id,
            CANDIDACY.c.state_entered_at,
            CANDIDACY.c.held_at,
        )
        .outerjoin(CANDIDACY, CANDIDACY.c.candidate_id == CANDIDATE.c.id)
        .where(CANDIDATE.c.erased_at.is_(None), CANDIDATE.c.merged_into.is_(None))
        .order_by(CANDIDATE.c.id, CANDIDACY.c.id)
    )
    if candidate_id is not None:
        query = query.where(CANDIDATE.c.id == candidate_id)
    # yield_per on the statement, not the connection: the erasure's writes follow on it.
    rows = uow.connection.execute(query.execution_options(yield_per=2000)).mappings()
    finals: dict[int, frozenset[str]] = {}
    for _, group in groupby(rows, key=lambda row: row["candidate_id"]):
        candidacies = list(group)
        first = candidacies[0]
        open_ids, held, ends = [], [], []
        for row in candidacies:
            if row["id"] is None:
                continue
            if row["held_at"] is not None:
                held.append(row["id"])
            version = row["workflow_version_id"]
            if version not in finals:
                definition = app.registry.definition(uow, version)
                finals[version] = frozenset(s.name for s in definition.states.values() if s.final)
            if row["state"] not in finals[version]:
                open_ids.append(row["id"])
                continue
            ended = row["state_entered_at"].astimezone(zone).date()
            months = app.settings.retention_months(row["state"])
            ends.append(
                (
                    add_months(ended, months),
                    f"{row['state']} {row['vacancy']} on {ended} + {months} months",
                )
            )
        if not ends and not open_ids:  # no candidacy at all: kept as briefly as the shortest
            registered = first["registered_at"].astimezone(zone).date()
            months = app.settings.retention_other_months
            ends.append(
                (add_months(registered, months), f"registered on {registered} + {months} months")
            )
        consent_until = None
        if first["pool_consent_at"] is not None:
            given = first["pool_consent_at"].astimezone(zone).date()
            consent_until = add_months(given, app.settings.talent_pool_months)
            ends.append((consent_until, f"talent-pool consent of {given}"))
        if open_ids:
            due_on, grounds = None, f"candidacy {open_ids[0]} is still open"
        else:
            due_on, grounds = max(ends)
        yield Retention(
            candidate_key=first["key"],
            candidate_id=first["candidate_id"],
            due_on=due_on,
            grounds=grounds,
            open_candidacies=tuple(open_ids),
            held_candidacies=tuple(held),
            consent_until=consent_until,
        )


def _retention(app: App, uow: UnitOfWork, candidate_id: int) -> Retention:
    """One candidate's retention, read to the end (no cursor left open under later writes)."""
    (retention,) = _files(app, uow, candidate_id)
    return retention


def today(app: App) -> date:
    return app.clock.now().astimezone(app.settings.zone).date()


def due(app: App, *, within_days: int = 30) -> list[Retention]:
    """Files due for erasure by ``within_days`` from today (overdue and held ones included)."""
    if within_days < 0:
        raise InvalidInput(f"--within: give a number of days from 0, got {within_days}")
    horizon = date.fromordinal(today(app).toordinal() + within_days)
    with app.unit_of_work() as uow:
        found = [r for r in _files(app, uow) if r.due_on is not None and r.due_on <= horizon]
    return sorted(found, key=lambda r: (r.due_on or date.max, r.candidate_key))


def retention_of(app: App, candidate: str) -> Retention:
    with app.unit_of_work() as uow:
        person = find_candidate(uow.connection, candidate)
        if person["erased_at"] is not None:
            raise InvalidInput(
                f"candidate {person['key']} was erased on {person['erased_at']:%Y-%m-%d}"
            )
        return _retention(app, uow, person["id"])


# -- erasure -------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Erasure:
    """What one erasure removed."""

    candidate_key: str
    grounds: str
    candidacies: list[int] = field(default_factory=list)
    texts: int = 0  # audit texts (reasons, text facts) deleted
    messages: int = 0  # outbox messages emptied
    mail_files: int = 0  # rendered mails deleted from the mail folder
    mail_file_errors: list[str] = field(default_factory=list)
    documents: int = 0  # uploaded files (CVs) deleted
    document_file_errors: list[str] = field(default_factory=list)
    stored_names: list[str] = field(default_factory=list)  # their files, removed after commit

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate_key,
            "grounds": self.grounds,
            "candidacies": self.candidacies,
            "texts": self.texts,
            "messages": self.messages,
            "mail_files": self.mail_files,
            "mail_file_errors": self.mail_file_errors,
            "documents": self.documents,
            "document_file_errors": self.document_file_errors,
        }


def _identifiers(person: RowMapping) -> re.Pattern[str] | None:
    """What identifies the person in free text: name and its parts, email, its local part, phone.

    The phone matches whatever the spacing or punctuation (``+32 470 55 66 77``,
    ``0470/55.66.77``); only used on texts that are technical or about the erasure.
    """
    parts: list[str] = []
    name = str(person["name"] or "")
    parts += [re.escape(name)] if name else []
    parts += [re.escape(token) for token in re.split(r"[\s,.'-]+", name) if len(token) >= 3]
    email = str(person["email"] or "")
    if email:
        parts += [re.escape(email), re.escape(email.partition("@")[0])]
    digits = re.sub(r"\D", "", str(person["phone"] or ""))
    if len(digits) >= 6:
        tail = digits[-8:]  # the subscriber number, with or without country or trunk prefix
        parts.append(r"[\s./()-]*".join(tail))
    if not parts:
        return None
    parts.sort(key=len, reverse=True)  # the whole name before its parts
    return re.compile("|".join(parts), re.IGNORECASE)


def _scrub(value: str | None, pattern: re.Pattern[str] | None) -> str | None:
    """A text with the person's identifiers cut out."""
    if value is None or pattern is None:
        return value
    return str(pattern.sub(SCRUBBED, value))


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"--reason: say why, in at most {MAX_REASON} characters")
    return reason


def erase(
    app: App,
    candidate: str,
    *,
    reason: str,
    actor: str,
    role: str = "admin",
    grounds: str = "request",
    request_id: str | None = None,
) -> Erasure:
    """Erase a candidate's personal data in one transaction, then their mail files.

    Refused while a candidacy is open (withdraw or reject it first: the
    procedure needs the person) or under legal hold.
    """
    reason = _check_reason(reason)
    with app.unit_of_work() as uow:
        person = find_candidate(uow.connection, candidate)
        key = person["key"]
        if person["erased_at"] is not None:
            raise InvalidInput(
                f"candidate {key} was already erased on {person['erased_at']:%Y-%m-%d}"
            )
        retention = _retention(app, uow, person["id"])
        if retention.held_candidacies:
            raise LegalHoldActive(
                f"candidacy {retention.held_candidacies[0]} of candidate {key} is under legal "
                "hold; lift it with `ats gdpr hold CANDIDACY off --reason ...` once the dispute "
                "is settled"
            )
        if retention.open_candidacies:
            raise InvalidInput(
                f"candidacy {retention.open_candidacies[0]} of candidate {key} is still open; "
                "withdraw or reject it first (the procedure cannot go on without the person)"
            )
        needles = _identifiers(person)
        erasure = Erasure(candidate_key=key, grounds=grounds)
        now = app.clock.now()
        # First, and only if nobody erased them meanwhile: two workers never erase one person twice.
        erased = uow.connection.execute(
            update(CANDIDATE)
            .where(CANDIDATE.c.id == person["id"], CANDIDATE.c.erased_at.is_(None))
            .values(
                name=ERASED_NAME,
                email=erased_email(key),
                email_key=None,
                phone=None,
                birth_date=None,
                pool_consent_at=None,
                erased_at=now,
            )
        ).rowcount
        if erased != 1:
            raise ConflictError(f"candidate {key} was erased by another process just now")
        _erase_rows(app, uow, person, needles, erasure)
        message_ids = [
            row.message_id
            for row in uow.connection.execute(
                select(OUTBOX.c.message_id).where(OUTBOX.c.candidacy_id.in_(erasure.candidacies))
            )
        ]
        record_event(
            uow,
            app,
            kind=DATA_ERASED,
            actor=actor,
            role=role,
            subject=f"candidate:{key}",
            details={
                "grounds": grounds,
                "reason": _scrub(reason, needles),  # said by staff; the person is cut out anyway
                "candidacies": erasure.candidacies,
                "texts": erasure.texts,
                "messages": erasure.messages,
                "documents": erasure.documents,
            },
            request_id=request_id,
        )
        uow.commit()
    # The files go after the commit: a failed commit must not lose mail that stays owed,
    # nor a CV the kept candidacy still points at.
    folder = app.settings.mail_folder
    paths = [
        path
        for message_id in message_ids
        for path in (
            maildir_path(folder, message_id),
            maildir_path(folder, message_id).with_suffix(".eml.partial"),
        )
    ]
    uploads = [app.settings.uploads_folder / name for name in erasure.stored_names]
    erasure.mail_files = _unlink(paths, erasure.mail_file_errors)
    _unlink(uploads, erasure.document_file_errors)
    if erasure.mail_file_errors or erasure.document_file_errors:
        log.error(
            "privacy.files_left",
            candidate=key,
            mail_errors=len(erasure.mail_file_errors),
            document_errors=len(erasure.document_file_errors),
        )
    log.info(
        "privacy.erased",
        candidate=key,
        grounds=grounds,
        candidacies=len(erasure.candidacies),
        texts=erasure.texts,
    )
    return erasure


def _unlink(paths: list[Path], errors: list[str]) -> int:
    """Delete the files that exist; count them, and note those that could not go."""
    deleted = 0
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # never written (not sent, or another transport)
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror}")
        else:
            deleted += 1
    return deleted


def _erase_rows(
    app: App,
    uow: UnitOfWork,
    person: RowMapping,
    needles: re.Pattern[str] | None,
    erasure: Erasure,
) -> None:
    connection = uow.connection
    candidacies = list(
        connection.execute(
            select(CANDIDACY.c.id, CANDIDACY.c.facts, CANDIDACY.c.workflow_version_id).where(
                CANDIDACY.c.candidate_id == person["id"]
            )
        ).mappings()
    )
    erasure.candidacies = [row["id"] for row in candidacies]
    for row in candidacies:
        texts = app.registry.definition(uow, row["workflow_version_id"]).text_facts
        facts = {k: v for k, v in (row["facts"] or {}).items() if k not in texts}
        connection.execute(
            update(CANDIDACY)
            .where(CANDIDACY.c.id == row["id"])
            .values(facts=facts, hold_reason=None)
        )
    # Duplicate flags on an erased record have nothing left to compare.
    connection.execute(
        update(LINK)
        .where(
            (LINK.c.candidate_id == person["id"]) | (LINK.c.other_id == person["id"]),
            LINK.c.status == "open",
        )
        .values(status="closed")
    )
    erasure.texts = connection.execute(
        delete(AUDIT_TEXT).where(AUDIT_TEXT.c.candidate_id == person["id"])
    ).rowcount
    ids = erasure.candidacies
    if not ids:
        return
    outbox = list(
        connection.execute(
            select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.last_error).where(
                OUTBOX.c.candidacy_id.in_(ids)
            )
        ).mappings()
    )
    for message in outbox:
        values: dict[str, Any] = {
            "context": {},
            "last_error": _scrub(message["last_error"], needles),
        }
        if message["status"] == "pending":
            values.update(status="dead", last_error="not sent: the candidate's data was erased")
        connection.execute(update(OUTBOX).where(OUTBOX.c.id == message["id"]).values(**values))
        for attempt in connection.execute(
            select(ATTEMPT.c.id, ATTEMPT.c.detail).where(ATTEMPT.c.outbox_id == message["id"])
        ).mappings():
            scrubbed = _scrub(attempt["detail"], needles)
            if scrubbed != attempt["detail"]:
                connection.execute(
                    update(ATTEMPT).where(ATTEMPT.c.id == attempt["id"]).values(detail=scrubbed)
                )
    erasure.messages = len(outbox)
    for timer in connection.execute(
        select(TIMER.c.id, TIMER.c.outcome).where(TIMER.c.candidacy_id.in_(ids))
    ).mappings():
        scrubbed = _scrub(timer["outcome"], needles)
        if scrubbed != timer["outcome"]:
            connection.execute(
                update(TIMER).where(TIMER.c.id == timer["id"]).values(outcome=scrubbed)
            )
    connection.execute(update(SEAT).where(SEAT.c.candidacy_id.in_(ids)).values(remark=None))
    # What panel members wrote about the person; the scores and their seals stay.
    connection.execute(
        update(SCORECARD).where(SCORECARD.c.candidacy_id.in_(ids)).values(comment=None)
    )
    erasure.stored_names = [
        row.stored_name
        for row in connection.execute(
            select(DOCUMENT.c.stored_name).where(DOCUMENT.c.candidacy_id.in_(ids))
        )
    ]
    erasure.documents = connection.execute(
        delete(DOCUMENT).where(DOCUMENT.c.candidacy_id.in_(ids))
    ).rowcount


@dataclass(kw_only=True)
class RetentionRun:
    """One pass of the retention job."""

    erased: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"erased": self.erased, "held": self.held, "failed": self.failed}


def erase_due(app: App, *, actor: str = "system:retention") -> RetentionRun:
    """Erase every file past its retention date and not held: the worker runs this daily.

    Each person is erased in a transaction of their own, so one failure (say, a
    candidacy reopened meanwhile) holds back only that person.
    """
    run = RetentionRun()
    for file in due(app, within_days=0):
        if file.blocked():
            run.held.append(file.candidate_key)
            continue
        try:
            erase(
                app,
                file.candidate_key,
                reason=f"retention period over: {file.grounds}",
                actor=actor,
                role="system",
                grounds="retention",
            )
        except ATSError as exc:
            run.failed[file.candidate_key] = str(exc)
            log.warning("privacy.erase_failed", candidate=file.candidate_key, error=str(exc))
        else:
            run.erased.append(file.candidate_key)
    log.info(
        "privacy.retention_run", erased=len(run.erased), held=len(run.held), failed=len(run.failed)
    )
    return run


# -- legal holds and consent ---------------------------------------------------------------


def hold(
    app: App,
    candidacy_id: int,
    *,
    on: bool,
    reason: str,
    actor: str,
    role: str = "admin",
    request_id: str | None = None,
) -> bool:
    """Put a candidacy under legal hold (or lift it); False when nothing changed."""
    reason = _check_reason(reason)
    with app.unit_of_work() as uow:
        row = (
            uow.connection.execute(
                select(
                    CANDIDACY.c.id,
                    CANDIDACY.c.held_at,
                    CANDIDACY.c.candidate_id,
                    CANDIDATE.c.key,
                    CANDIDATE.c.erased_at,
                )
                .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
                .where(CANDIDACY.c.id == candidacy_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no candidacy {candidacy_id}")
        if on and row["erased_at"] is not None:
            raise InvalidInput(
                f"candidacy {candidacy_id}: the candidate's data was erased on "
                f"{row['erased_at']:%Y-%m-%d}; there is nothing left to hold"
            )
        if (row["held_at"] is not None) == on:
            return False
        now = app.clock.now()
        uow.connection.execute(
            update(CANDIDACY)
            .where(CANDIDACY.c.id == candidacy_id)
            .values(held_at=now if on else None, hold_reason=reason if on else None)
        )
        # The reason may name the person or the dispute: sealed, and erased with them.
        sealed, _, texts = seal_texts(reason, {}, ())
        record_event(
            uow,
            app,
            kind=LEGAL_HOLD,
            actor=actor,
            role=role,
            subject=f"candidacy:{candidacy_id}",
            details={"candidate": row["key"], "on": on, "reason": sealed},
            request_id=request_id,
            texts=texts,
            candidate_id=row["candidate_id"],
        )
        uow.commit()
    log.info("privacy.hold", candidacy=candidacy_id, on=on)
    return True


def consent(
    app: App,
    candidate: str,
    *,
    given: bool,
    actor: str,
    role: str = "admin",
    request_id: str | None = None,
) -> date | None:
    """Record (or withdraw) consent to the talent pool; the date the file is kept until."""
    with app.unit_of_work() as uow:
        person = find_candidate(uow.connection, candidate)
        if person["erased_at"] is not None:
            raise InvalidInput(f"candidate {person['key']} was erased; there is no file to keep")
        now = app.clock.now()
        uow.connection.execute(
            update(CANDIDATE)
            .where(CANDIDATE.c.id == person["id"])
            .values(pool_consent_at=now if given else None)
        )
        record_event(
            uow,
            app,
            kind=POOL_CONSENT,
            actor=actor,
            role=role,
            subject=f"candidate:{person['key']}",
            details={"given": given, "months": app.settings.talent_pool_months if given else 0},
            request_id=request_id,
        )
        uow.commit()
    if not given:
        return None
    return add_months(now.astimezone(app.settings.zone).date(), app.settings.talent_pool_months)


# -- access requests -----------------------------------------------------------------------


def access_data(app: App, candidate: str) -> dict[str, Any]:
    """Everything ATS holds about one person, and nobody else's data (staff appear by role).

    Sections follow the tables: the candidate row, candidacies (with their
    facts), the audit timeline, audit events about them, mails, Selor seats,
    timers, and the duplicate flags on their record.
    """
    from ats.service.outbox import compose

    zone = app.settings.zone

    def when(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value else None

    with app.unit_of_work() as uow:
        connection = uow.connection
        person = find_candidate(connection, candidate)
        key = person["key"]
        retention = None if person["erased_at"] else _retention(app, uow, person["id"])
        candidacies = list(
            connection.execute(
                select(CANDIDACY, VACANCY.c.title)
                .outerjoin(VACANCY, VACANCY.c.code == CANDIDACY.c.vacancy)
                .where(CANDIDACY.c.candidate_id == person["id"])
                .order_by(CANDIDACY.c.id)
            ).mappings()
        )
        ids = [c["id"] for c in candidacies]
        language = person["language"]
        events = list(
            connection.execute(
                select(EVENT)
                .where(EVENT.c.subject.in_([f"candidate:{key}", *(f"candidacy:{i}" for i in ids)]))
                .order_by(EVENT.c.seq)
            ).mappings()
        )
        _, event_texts = kept_texts(connection, event_ids=[e["id"] for e in events])
        mails = []
        for row in connection.execute(
            select(OUTBOX).where(OUTBOX.c.candidacy_id.in_(ids)).order_by(OUTBOX.c.id)
        ).mappings():
            subject = text = None
            if person["erased_at"] is None and row["context"]:
                try:
                    rendered = compose(app, uow, row)
                    subject, text = rendered.subject, rendered.text
                except ATSError:
                    pass  # a template since removed: the record of the mail remains
            mails.append(
                {
                    "candidacy": row["candidacy_id"],
                    "template": row["template"],
                    "status": row["status"],
                    "queued": when(row["created_at"]),
                    "sent": when(row["sent_at"]),
                    "subject": subject,
                    "text": text,
                }
            )
        seats = [
            {
                "candidacy": row["candidacy_id"],
                "session": row["code"],
                "starts": when(row["starts_at"]),
                "place": row["place"],
                "seat": row["seat_no"],
                "status": row["status"],
                "score": row["score"],
                "passed": row["passed"],
                "remark": row["remark"],
            }
            for row in connection.execute(
                select(SEAT, SESSION.c.code, SESSION.c.starts_at, SESSION.c.place)
                .join(SESSION, SESSION.c.id == SEAT.c.session_id)
                .where(SEAT.c.candidacy_id.in_(ids))
                .order_by(SEAT.c.id)
            ).mappings()
        ]
        timers = [
            {
                "candidacy": row["candidacy_id"],
                "state": row["state"],
                "kind": row["kind"],
                "due": when(row["due_at"]),
                "status": row["status"],
            }
            for row in connection.execute(
                select(TIMER).where(TIMER.c.candidacy_id.in_(ids)).order_by(TIMER.c.id)
            ).mappings()
        ]
        documents = list(
            connection.execute(
                select(DOCUMENT).where(DOCUMENT.c.candidacy_id.in_(ids)).order_by(DOCUMENT.c.id)
            ).mappings()
        )
        # Interview scores and the chair's motivation; panel members by role, never by name.
        interviews = [
            {
                "candidacy": row["candidacy_id"],
                "by": "panel chair (consensus)" if row["kind"] == "consensus" else "panel member",
                "scores": dict(row["scores"]),
                "total": row["total"],
                "passed": row["passed"],
                "comment": row["comment"],
                "submitted": when(row["submitted_at"]),
                "superseded": when(row["superseded_at"]),
            }
            for row in connection.execute(
                select(SCORECARD).where(SCORECARD.c.candidacy_id.in_(ids)).order_by(SCORECARD.c.id)
            ).mappings()
        ]
        flags = [
            {"rule": row["rule"], "found": when(row["found_at"]), "status": row["status"]}
            for row in connection.execute(
                select(LINK).where(
                    (LINK.c.candidate_id == person["id"]) | (LINK.c.other_id == person["id"])
                )
            ).mappings()
        ]
    timeline = audit_reports.extract(app, key)["timeline"] if ids else []
    titles = {
        c["vacancy"]: (c["title"] or {}).get(language)
        or (c["title"] or {}).get("en")
        or c["vacancy"]
        for c in candidacies
    }
    return {
        "generated_at": when(app.clock.now()),
        "candidate": {
            "key": key,
            "name": person["name"],
            "email": None if person["erased_at"] else person["email"],
            "phone": person["phone"],
            "birth_date": person["birth_date"].isoformat() if person["birth_date"] else None,
            "language": language,
            "registered": when(person["created_at"]),
            "talent_pool_consent": when(person["pool_consent_at"]),
            "erased": when(person["erased_at"]),
        },
        "retention": retention.to_dict() if retention else None,
        "candidacies": [
            {
                "id": c["id"],
                "vacancy": c["vacancy"],
                "vacancy_title": titles[c["vacancy"]],
                "state": c["state"],
                "applied": when(c["created_at"]),
                "state_since": when(c["state_entered_at"]),
                "facts": dict(c["facts"] or {}),
                "legal_hold": when(c["held_at"]),
            }
            for c in candidacies
        ],
        "timeline": timeline,
        "events": [
            {
                "kind": e["kind"],
                "at": when(e["occurred_at"]),
                "role": e["role"],  # staff appear by role, never by name
                "details": _event_details(e, event_texts.get(e["id"])),
            }
            for e in events
        ],
        "emails": mails,
        "selection_seats": seats,
        "timers": timers,
        "duplicate_flags": flags,
        "interview_scores": interviews,
        "documents": [
            {
                "candidacy": d["candidacy_id"],
                "kind": d["kind"],
                "filename": d["filename"],
                "media_type": d["media_type"],
                "size": d["size"],
                "sha256": d["sha256"],
                "uploaded": when(d["uploaded_at"]),
                "file": f"{key}-{d['kind']}-{d['id']}{_SUFFIX.get(d['media_type'], '')}",
                "stored_name": d["stored_name"],
            }
            for d in documents
        ],
    }


def _event_details(event: RowMapping, texts: SealedTexts | None) -> dict[str, Any]:
    details = dict(event["details"] or {})
    reason, _ = open_texts(details.get("reason"), {}, texts)
    if "reason" in details:
        details["reason"] = reason
    # Other records' keys (a merged duplicate) are the same person's; staff names never appear.
    return {k: v for k, v in details.items() if k not in ("roles", "address")}


def write_access_export(app: App, candidate: str, folder: Path) -> tuple[Path, Path]:
    """Write the access request's JSON file and readable HTML page into ``folder``."""
    import json
    import os

    from ats.adapters.access_page import render_access_page

    data = access_data(app, candidate)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"access-{data['candidate']['key']}"
    paths = (folder / f"{stem}.json", folder / f"{stem}.html")
    # The person's own files go beside the export, named for them; where they are kept is ours.
    for document in data["documents"]:
        source = app.settings.uploads_folder / document.pop("stored_name")
        if source.is_file():
            target = folder / f"access-{document['file']}"
            target.unlink(missing_ok=True)
            with (
                source.open("rb") as original,
                os.fdopen(
                    os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb"
                ) as copy,
            ):
                shutil.copyfileobj(original, copy)  # as private as the original
            document["file"] = target.name
        else:
            document["file"] = None
    contents = (
        json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n",
        render_access_page(data),
    )
    for path, content in zip(paths, contents, strict=True):
        partial = path.with_name(path.name + ".partial")
        partial.write_text(content, encoding="utf-8")
        os.replace(partial, path)  # never half a file
    log.info("privacy.access_export", candidate=data["candidate"]["key"])
    return paths
