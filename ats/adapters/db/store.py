"""Repositories over one connection: Core statements, compiled once and cached.

Each repository reads and writes through the unit of work's connection, so
everything a command does lands in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ats.adapters.db.models import (
    AuditCheckpointHeadRow,
    AuditCheckpointRow,
    AuditEntryRow,
    AuditEventRow,
    AuditLockRow,
    AuditTextRow,
    CandidacyRow,
    CandidateRow,
    JobFunctionRow,
    OutboxAttemptRow,
    OutboxMessageRow,
    ServiceRow,
    TimerRow,
    VacancyRow,
    WaveRow,
    WorkerRow,
    WorkflowCurrentRow,
    WorkflowVersionRow,
)
from ats.domain.audit import (
    GENESIS,
    AuditEntry,
    AuditEvent,
    Checkpoint,
    SealedTexts,
    canonical_json,
    chain_hash,
    open_texts,
)
from ats.domain.candidacy import Candidacy
from ats.domain.drive import HiringDrive
from ats.domain.people import normalised_email
from ats.errors import ConflictError, DuplicateApplication

WORKFLOW = cast(Table, WorkflowVersionRow.__table__)
CURRENT = cast(Table, WorkflowCurrentRow.__table__)
CANDIDATE = cast(Table, CandidateRow.__table__)
CANDIDACY = cast(Table, CandidacyRow.__table__)
AUDIT = cast(Table, AuditEntryRow.__table__)
EVENT = cast(Table, AuditEventRow.__table__)
CHECKPOINT = cast(Table, AuditCheckpointRow.__table__)
CHECKPOINT_HEAD = cast(Table, AuditCheckpointHeadRow.__table__)
LOCK = cast(Table, AuditLockRow.__table__)
TIMER = cast(Table, TimerRow.__table__)
OUTBOX = cast(Table, OutboxMessageRow.__table__)
ATTEMPT = cast(Table, OutboxAttemptRow.__table__)
WORKER = cast(Table, WorkerRow.__table__)
AUDIT_TEXT = cast(Table, AuditTextRow.__table__)

# The transition's statements, built once: building a Core statement costs more than
# running it on SQLite (bench/transitions.py; docs/performance.md).
_LOAD = (
    select(CANDIDACY, CANDIDATE.c.key)
    .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
    .where(CANDIDACY.c.id == bindparam("candidacy_id"))
)
_SAVE = (
    update(CANDIDACY)
    .where(CANDIDACY.c.id == bindparam("id_"), CANDIDACY.c.version == bindparam("expected"))
    .values(
        state=bindparam("state"),
        version=bindparam("version"),
        facts=bindparam("facts"),
        workflow_version_id=bindparam("workflow_version_id"),
        state_entered_at=bindparam("state_entered_at"),
        audit_head=bindparam("audit_head"),
    )
)
_APPEND = insert(AUDIT).returning(AUDIT.c.id)
_CANCEL = (
    update(TIMER)
    .where(TIMER.c.candidacy_id == bindparam("of_candidacy"), TIMER.c.status == "armed")
    .values(
        status="cancelled",
        settled_at=bindparam("now"),
        settled_by=bindparam("by"),
        outcome="state left",
    )
)
_QUEUE = insert(OUTBOX)
_KEEP_TEXTS = insert(AUDIT_TEXT)
_KEEP_ENTRY_TEXTS = insert(AUDIT_TEXT).values(
    entry_id=bindparam("entry"),
    candidate_id=select(CANDIDACY.c.candidate_id)
    .where(CANDIDACY.c.id == bindparam("of_candidacy"))
    .scalar_subquery(),
    salt=bindparam("salt_"),
    reason=bindparam("reason_"),
    facts=bindparam("facts_"),
)
_SETTLE = (
    update(TIMER)
    .where(TIMER.c.id == bindparam("timer"), TIMER.c.status == "armed")
    .values(
        status=bindparam("status"),
        settled_at=bindparam("now"),
        settled_by=bindparam("by"),
        outcome=bindparam("outcome"),
    )
)


class WorkflowVersions:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def by_hash(self, content_hash: str) -> RowMapping | None:
        return (
            self.connection.execute(select(WORKFLOW).where(WORKFLOW.c.content_hash == content_hash))
            .mappings()
            .first()
        )

    def get(self, version_id: int) -> RowMapping | None:
        return (
            self.connection.execute(select(WORKFLOW).where(WORKFLOW.c.id == version_id))
            .mappings()
            .first()
        )

    def latest(self, name: str) -> RowMapping | None:
        return (
            self.connection.execute(
                select(WORKFLOW)
                .where(WORKFLOW.c.name == name)
                .order_by(WORKFLOW.c.number.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )

    def current(self, name: str) -> RowMapping | None:
        """The version new candidacies start on: the one the files last loaded, else the latest."""
        row = (
            self.connection.execute(
                select(WORKFLOW)
                .join(CURRENT, CURRENT.c.version_id == WORKFLOW.c.id)
                .where(CURRENT.c.name == name)
            )
            .mappings()
            .first()
        )
        return row if row is not None else self.latest(name)

    def make_current(self, name: str, version_id: int, *, now: datetime) -> bool:
        """Point new candidacies at ``version_id``; True when that changed anything."""
        held = self.connection.execute(
            select(CURRENT.c.version_id).where(CURRENT.c.name == name)
        ).scalar()
        if held == version_id:
            return False
        if held is None:
            self.connection.execute(
                insert(CURRENT).values(name=name, version_id=version_id, since=now)
            )
        else:
            self.connection.execute(
                update(CURRENT)
                .where(CURRENT.c.name == name)
                .values(version_id=version_id, since=now)
            )
        return True

    def find(self, name: str, number: int) -> RowMapping | None:
        return (
            self.connection.execute(
                select(WORKFLOW).where(WORKFLOW.c.name == name, WORKFLOW.c.number == number)
            )
            .mappings()
            .first()
        )

    def all(self) -> list[RowMapping]:
        return list(
            self.connection.execute(
                select(WORKFLOW).order_by(WORKFLOW.c.name, WORKFLOW.c.number)
            ).mappings()
        )

    def add(
        self,
        *,
        name: str,
        content_hash: str,
        definition: dict[str, Any],
        source: str,
        now: datetime,
    ) -> tuple[int, int]:
        number = (
            self.connection.execute(
                select(func.coalesce(func.max(WORKFLOW.c.number), 0)).where(WORKFLOW.c.name == name)
            ).scalar_one()
            + 1
        )
        version_id = self.connection.execute(
            insert(WORKFLOW)
            .values(
                name=name,
                number=number,
                content_hash=content_hash,
                definition=definition,
                source=source,
                loaded_at=now,
            )
            .returning(WORKFLOW.c.id)
        ).scalar_one()
        return version_id, number


class Catalogue:
    """Services, job functions, waves and vacancies, loaded from the drive file."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def load(self, drive: HiringDrive) -> dict[str, int]:
        """Insert what is new, update what changed; return counts per kind of thing."""
        counts: dict[str, int] = {}
        groups: list[tuple[Any, str, Iterable[Any]]] = [
            (cast(Table, ServiceRow.__table__), "services", drive.services),
            (cast(Table, JobFunctionRow.__table__), "job_functions", drive.job_functions),
            (cast(Table, WaveRow.__table__), "waves", drive.waves),
            (cast(Table, VacancyRow.__table__), "vacancies", drive.vacancies),
        ]
        for table, label, things in groups:
            changed = 0
            for thing in things:
                values = {
                    k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(thing).items()
                }
                existing = (
                    self.connection.execute(select(table).where(table.c.code == values["code"]))
                    .mappings()
                    .first()
                )
                if existing is None:
                    self.connection.execute(insert(table).values(**values))
                    changed += 1
                elif any(existing[k] != v for k, v in values.items()):
                    self.connection.execute(
                        update(table).where(table.c.code == values["code"]).values(**values)
                    )
                    changed += 1
            counts[label] = changed
        return counts

    def vacancy(self, code: str) -> RowMapping | None:
        vacancy, function = VacancyRow.__table__, JobFunctionRow.__table__
        return (
            self.connection.execute(
                select(vacancy, function.c.workflow)
                .join(function, function.c.code == vacancy.c.job_function)
                .where(vacancy.c.code == code)
            )
            .mappings()
            .first()
        )


class EmailTaken(Exception):
    """Two applications of one new person raced; the caller's transaction is spoilt: retry it."""


class Candidates:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def by_email(self, email: str) -> RowMapping | None:
        return (
            self.connection.execute(select(CANDIDATE).where(CANDIDATE.c.email == email))
            .mappings()
            .first()
        )

    def add(
        self,
        *,
        key: str,
        name: str,
        email: str,
        language: str,
        phone: str | None,
        now: datetime,
        birth_date: date | None = None,
    ) -> int:
        """The new candidate's id; EmailTaken when another transaction registered it first."""
        try:
            return int(
                self.connection.execute(
                    insert(CANDIDATE)
                    .values(
                        key=key,
                        name=name,
                        email=email,
                        language=language,
                        phone=phone,
                        birth_date=birth_date,
                        email_key=normalised_email(email),
                        created_at=now,
                    )
                    .returning(CANDIDATE.c.id)
                ).scalar_one()
            )
        except IntegrityError:
            raise EmailTaken(email) from None


class Candidacies:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def exists(self, candidate_id: int, vacancy: str) -> bool:
        return (
            self.connection.execute(
                select(CANDIDACY.c.id).where(
                    CANDIDACY.c.candidate_id == candidate_id, CANDIDACY.c.vacancy == vacancy
                )
            ).first()
            is not None
        )

    def add(
        self,
        *,
        candidate_id: int,
        vacancy: str,
        workflow_version_id: int,
        state: str,
        audit_head: str,
        now: datetime,
        facts: Mapping[str, Any] | None = None,
    ) -> int:
        try:
            return int(
                self.connection.execute(
                    insert(CANDIDACY)
                    .values(
                        candidate_id=candidate_id,
                        vacancy=vacancy,
                        workflow_version_id=workflow_version_id,
                        state=state,
                        version=1,
                        facts=dict(facts or {}),
                        audit_head=audit_head,
                        created_at=now,
                        state_entered_at=now,
                    )
                    .returning(CANDIDACY.c.id)
                ).scalar_one()
            )
        except IntegrityError:
            raise DuplicateApplication(
                f"this candidate has already applied to vacancy {vacancy}; "
                "look the candidacy up with `ats candidacy list --vacancy` instead"
            ) from None

    def set_head(self, candidacy_id: int, audit_head: str) -> None:
        self.connection.execute(
            update(CANDIDACY).where(CANDIDACY.c.id == candidacy_id).values(audit_head=audit_head)
        )

    def lock_now(self, candidacy_id: int) -> bool:
        """Lock the candidacy row without waiting (PostgreSQL); False when someone holds it.

        The sweeper holds a timer lock when it asks; waiting here could deadlock with
        a person's transition, which locks the candidacy first and the timers next.
        """
        if self.connection.dialect.name != "postgresql":
            return True  # SQLite has one writer at a time; there is nothing to wait on
        row = self.connection.execute(
            select(CANDIDACY.c.id)
            .where(CANDIDACY.c.id == candidacy_id)
            .with_for_update(skip_locked=True)
        ).first()
        return row is not None

    def states_on_version(self, workflow_version_id: int) -> list[tuple[int, str]]:
        rows = self.connection.execute(
            select(CANDIDACY.c.id, CANDIDACY.c.state)
            .where(CANDIDACY.c.workflow_version_id == workflow_version_id)
            .order_by(CANDIDACY.c.id)
        )
        return [(row.id, row.state) for row in rows]

    def get(self, candidacy_id: int) -> tuple[Candidacy, str] | None:
        """The candidacy and its audit chain head."""
        row = self.connection.execute(_LOAD, {"candidacy_id": candidacy_id}).mappings().first()
        if row is None:
            return None
        candidacy = Candidacy(
            id=row["id"],
            candidate_key=row["key"],
            vacancy=row["vacancy"],
            workflow_version_id=row["workflow_version_id"],
            state=row["state"],
            version=row["version"],
            facts=dict(row["facts"] or {}),
            state_entered_at=row["state_entered_at"],
        )
        return candidacy, row["audit_head"]

    def save(self, candidacy: Candidacy, *, expected_version: int, audit_head: str) -> None:
        """Compare-and-set on ``version``; a stale version is a ConflictError."""
        result = self.connection.execute(
            _SAVE,
            {
                "id_": candidacy.id,
                "expected": expected_version,
                "state": candidacy.state,
                "version": candidacy.version,
                "facts": candidacy.facts,
                "workflow_version_id": candidacy.workflow_version_id,
                "state_entered_at": candidacy.state_entered_at,
                "audit_head": audit_head,
            },
        )
        if result.rowcount != 1:
            raise ConflictError(
                f"candidacy {candidacy.id} changed since version {expected_version} was read; "
                "look at `ats history` and try again"
            )


class AuditLog:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def append(
        self, entry: AuditEntry, *, texts: SealedTexts | None = None, digest: str | None = None
    ) -> str:
        """Append the (sealed) entry and keep the texts behind its seals beside it.

        ``digest`` is the entry's hash when the caller computed it already.
        """
        values = entry.fields()
        digest = digest or chain_hash(entry.prev_hash, canonical_json(values))
        values["facts"] = dict(entry.facts)
        values["hash"] = digest
        entry_id = self.connection.execute(_APPEND, values).scalar_one()
        if texts is not None:  # the candidate the texts are about: the candidacy's
            self.connection.execute(
                _KEEP_ENTRY_TEXTS,
                {
                    "entry": entry_id,
                    "of_candidacy": entry.candidacy_id,
                    "salt_": texts.salt,
                    "reason_": texts.reason,
                    "facts_": dict(texts.facts),
                },
            )
        return digest

    def history(self, candidacy_id: int) -> list[dict[str, Any]]:
        """The candidacy's entries in order, their sealed texts opened."""
        return opened_entries(
            self.connection,
            self.connection.execute(
                select(AUDIT).where(AUDIT.c.candidacy_id == candidacy_id).order_by(AUDIT.c.seq)
            ).mappings(),
        )


def keep_texts(
    connection: Connection,
    texts: SealedTexts,
    *,
    candidate_id: int | None,
    entry_id: int | None = None,
    event_id: int | None = None,
) -> None:
    connection.execute(
        _KEEP_TEXTS,
        {
            "entry_id": entry_id,
            "event_id": event_id,
            "candidate_id": candidate_id,
            "salt": texts.salt,
            "reason": texts.reason,
            "facts": dict(texts.facts),
        },
    )


def kept_texts(
    connection: Connection, *, entry_ids: Iterable[int] = (), event_ids: Iterable[int] = ()
) -> tuple[dict[int, SealedTexts], dict[int, SealedTexts]]:
    """The texts kept behind entries' and events' seals, by entry id and by event id."""
    by_entry: dict[int, SealedTexts] = {}
    by_event: dict[int, SealedTexts] = {}
    for column, ids, found in (
        (AUDIT_TEXT.c.entry_id, list(entry_ids), by_entry),
        (AUDIT_TEXT.c.event_id, list(event_ids), by_event),
    ):
        for start in range(0, len(ids), 500):  # stay under every driver's parameter limit
            rows = connection.execute(
                select(column.label("ref"), AUDIT_TEXT).where(column.in_(ids[start : start + 500]))
            ).mappings()
            for row in rows:
                found[row["ref"]] = SealedTexts(
                    salt=row["salt"], reason=row["reason"], facts=dict(row["facts"] or {})
                )
    return by_entry, by_event


def opened_entries(connection: Connection, rows: Iterable[RowMapping]) -> list[dict[str, Any]]:
    """Audit entry rows as people read them: sealed texts restored, or shown as erased."""
    entries = [dict(row) for row in rows]
    texts, _ = kept_texts(connection, entry_ids=[entry["id"] for entry in entries])
    for entry in entries:
        entry["reason"], entry["facts"] = open_texts(
            entry["reason"], entry["facts"] or {}, texts.get(entry["id"])
        )
    return entries


def take_lock(connection: Connection, name: str) -> None:
    """Serialise the writers of one global chain until this transaction ends.

    An UPDATE row-locks on PostgreSQL and takes the write lock on SQLite, so the
    chain's head read next is the one this transaction will extend.
    """
    connection.execute(update(LOCK).where(LOCK.c.name == name).values(taken=LOCK.c.taken + 1))


class AuditEvents:
    """The global chain of non-transition events."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def head(self) -> tuple[int, str]:
        row = self.connection.execute(
            select(EVENT.c.seq, EVENT.c.hash).order_by(EVENT.c.seq.desc()).limit(1)
        ).first()
        return (row.seq, row.hash) if row else (0, GENESIS)

    def append(
        self,
        *,
        kind: str,
        actor: str,
        role: str,
        subject: str | None,
        details: Mapping[str, object],
        occurred_at: datetime,
        request_id: str | None,
        process: str,
        texts: SealedTexts | None = None,
        candidate_id: int | None = None,
    ) -> AuditEvent:
        """Append an event; ``texts`` (the plaintext behind sealed details) belong to a candidate."""
        take_lock(self.connection, "events")
        seq, prev_hash = self.head()
        event = AuditEvent(
            seq=seq + 1,
            kind=kind,
            actor=actor,
            role=role,
            subject=subject,
            details=dict(details),
            occurred_at=occurred_at,
            request_id=request_id,
            process=process,
            prev_hash=prev_hash,
        )
        values = asdict(event)
        values["details"] = dict(event.details)
        event_id = self.connection.execute(
            insert(EVENT).values(**values, hash=event.hash).returning(EVENT.c.id)
        ).scalar_one()
        if texts is not None:
            keep_texts(self.connection, texts, candidate_id=candidate_id, event_id=event_id)
        return event


class Checkpoints:
    """Checkpoints of the chain heads, and the bookkeeping of what each last covered."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def latest(self) -> RowMapping | None:
        return (
            self.connection.execute(select(CHECKPOINT).order_by(CHECKPOINT.c.seq.desc()).limit(1))
            .mappings()
            .first()
        )

    def changed_heads(self) -> dict[str, list[object]]:
        """Chains whose head moved since their last checkpoint: candidacy id -> [seq, hash]."""
        rows = self.connection.execute(
            select(CANDIDACY.c.id, CANDIDACY.c.version, CANDIDACY.c.audit_head)
            .outerjoin(CHECKPOINT_HEAD, CHECKPOINT_HEAD.c.candidacy_id == CANDIDACY.c.id)
            .where(
                (CHECKPOINT_HEAD.c.hash.is_(None))
                | (CHECKPOINT_HEAD.c.hash != CANDIDACY.c.audit_head)
            )
            .order_by(CANDIDACY.c.id)
        )
        return {str(row.id): [row.version, row.audit_head] for row in rows}

    def append(self, checkpoint: Checkpoint, *, signature: str | None, key_id: str | None) -> None:
        values = asdict(checkpoint)
        values["heads"] = {k: list(v) for k, v in checkpoint.heads.items()}
        values["events_head"] = dict(checkpoint.events_head)
        self.connection.execute(
            insert(CHECKPOINT).values(
                **values, hash=checkpoint.hash, signature=signature, key_id=key_id
            )
        )
        for candidacy_id, (seq, digest) in checkpoint.heads.items():
            updated = self.connection.execute(
                update(CHECKPOINT_HEAD)
                .where(CHECKPOINT_HEAD.c.candidacy_id == int(candidacy_id))
                .values(seq=seq, hash=digest)
            )
            if updated.rowcount == 0:
                self.connection.execute(
                    insert(CHECKPOINT_HEAD).values(
                        candidacy_id=int(candidacy_id), seq=seq, hash=digest
                    )
                )


def claim_oldest(
    connection: Connection,
    waiting: ColumnElement[bool],
    due: Column[datetime],
    now: datetime,
    exclude: Iterable[int],
) -> RowMapping | None:
    """The oldest waiting row due by ``now``, for one worker at a time.

    On PostgreSQL the row is locked with SKIP LOCKED, so workers never wait for or
    collide on one; on SQLite (one writer) the caller's compare-and-set decides.
    """
    excluded = list(exclude)
    locking = connection.dialect.name == "postgresql"
    if excluded:  # rare (a row that failed this sweep): built on the spot
        query = _claim_query(waiting, due, locking).where(due.table.c.id.not_in(excluded))
    else:
        key = (str(waiting), due.table.name, locking)
        cached = _CLAIMS.get(key)
        if cached is None:
            cached = _CLAIMS[key] = _claim_query(waiting, due, locking)
        query = cached
    return connection.execute(query, {"claim_now": now}).mappings().first()


_CLAIMS: dict[tuple[str, str, bool], Select[Any]] = {}  # the sweeper's and relay's, built once


def _claim_query(waiting: ColumnElement[bool], due: Column[datetime], locking: bool) -> Select[Any]:
    table = due.table
    query = (
        select(table)
        .where(waiting, due <= bindparam("claim_now"))
        .order_by(due, table.c.id)
        .limit(1)
    )
    return query.with_for_update(skip_locked=True) if locking else query


class Timers:
    """Deadlines and reminders as rows: armed on entering a state, settled exactly once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def arm(self, rows: list[dict[str, object]]) -> None:
        if rows:
            self.connection.execute(insert(TIMER), rows)

    def next_deadline(self, candidacy_id: int) -> datetime | None:
        """When the candidacy's current state times out, if it does."""
        due: datetime | None = self.connection.execute(
            select(func.min(TIMER.c.due_at)).where(
                TIMER.c.candidacy_id == candidacy_id,
                TIMER.c.status == "armed",
                TIMER.c.kind == "timeout",
            )
        ).scalar()
        return due

    def armed_reminders(self, candidacy_id: int) -> set[str]:
        """Templates of the reminders of a candidacy still waiting to be sent."""
        return set(
            self.connection.execute(
                select(TIMER.c.template).where(
                    TIMER.c.candidacy_id == candidacy_id,
                    TIMER.c.status == "armed",
                    TIMER.c.kind == "reminder",
                )
            ).scalars()
        )

    def cancel(self, candidacy_id: int, *, now: datetime, by: str) -> int:
        """Cancel every armed timer of a candidacy (it is leaving its state)."""
        result = self.connection.execute(
            _CANCEL, {"of_candidacy": candidacy_id, "now": now, "by": by}
        )
        return int(result.rowcount)

    def claim_next(self, now: datetime, *, exclude: Iterable[int] = ()) -> RowMapping | None:
        """The oldest due armed timer; on PostgreSQL locked, skipping ones others hold."""
        return claim_oldest(
            self.connection, TIMER.c.status == "armed", TIMER.c.due_at, now, exclude
        )

    def settle(self, timer_id: int, *, status: str, now: datetime, by: str, outcome: str) -> bool:
        """Compare-and-set from armed; False when another worker settled it first."""
        result = self.connection.execute(
            _SETTLE,
            {"timer": timer_id, "status": status, "now": now, "by": by, "outcome": outcome},
        )
        return int(result.rowcount) == 1


class Workers:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def mark_lost(self, *, seen_before: datetime) -> int:
        """Workers that stopped sending heartbeats without saying goodbye (killed, host lost)."""
        result = self.connection.execute(
            update(WORKER)
            .where(WORKER.c.status == "running", WORKER.c.last_seen_at < seen_before)
            .values(status="lost")
        )
        return int(result.rowcount)

    def heartbeat(
        self,
        name: str,
        *,
        now: datetime,
        status: str = "running",
        swept: int | None = None,
    ) -> None:
        values: dict[str, object] = {"last_seen_at": now, "status": status}
        if swept is not None:
            values.update(last_sweep_at=now, last_sweep_fired=swept)
        updated = self.connection.execute(
            update(WORKER).where(WORKER.c.name == name).values(**values)
        )
        if updated.rowcount == 0:
            self.connection.execute(
                insert(WORKER).values(
                    name=name,
                    started_at=now,
                    last_seen_at=now,
                    last_sweep_at=now if swept is not None else None,
                    last_sweep_fired=swept or 0,
                    status=status,
                )
            )


class Outbox:
    """Mail owed to candidates: written with the transition, claimed and settled by the relay."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, **values: object) -> None:
        self.connection.execute(_QUEUE, values)

    def claim_next(self, now: datetime, *, exclude: Iterable[int] = ()) -> RowMapping | None:
        """The oldest pending message that is due; on PostgreSQL locked, skipping held ones."""
        return claim_oldest(
            self.connection, OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at, now, exclude
        )

    def get(self, outbox_id: int) -> RowMapping | None:
        return (
            self.connection.execute(select(OUTBOX).where(OUTBOX.c.id == outbox_id))
            .mappings()
            .first()
        )

    def settle(self, outbox_id: int, *, expected_attempts: int, **values: object) -> bool:
        """Compare-and-set on the attempt count, so two relays never both settle one message."""
        result = self.connection.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.id == outbox_id,
                OUTBOX.c.status == "pending",
                OUTBOX.c.attempts == expected_attempts,
            )
            .values(**values)
        )
        return int(result.rowcount) == 1

    def attempt(self, **values: object) -> None:
        self.connection.execute(insert(ATTEMPT).values(**values))

    def attempts(self, outbox_id: int) -> list[RowMapping]:
        return list(
            self.connection.execute(
                select(ATTEMPT).where(ATTEMPT.c.outbox_id == outbox_id).order_by(ATTEMPT.c.id)
            ).mappings()
        )

    def latest_invitation(self, candidacy_id: int, uid: str) -> dict[str, Any] | None:
        """The last invitation (or cancellation) with ``uid`` the candidate was sent (a panel
        member's copy or cancellation is theirs alone)."""
        rows = self.connection.execute(
            select(OUTBOX.c.context)
            .where(OUTBOX.c.candidacy_id == candidacy_id, OUTBOX.c.recipient_user_id.is_(None))
            .order_by(OUTBOX.c.id.desc())
        ).scalars()
        for context in rows:
            invitation = (context or {}).get("invitation")
            if invitation and invitation.get("uid") == uid:
                return dict(invitation)
        return None

    def retry(self, outbox_id: int, *, now: datetime) -> bool:
        """A dead message back in the queue, with a fresh attempt budget."""
        result = self.connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == outbox_id, OUTBOX.c.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now)
        )
        return int(result.rowcount) == 1
