"""Typed tables. The ORM classes serve admin and read paths; the transition hot
path runs Core statements against the same tables (see DESIGN.md, performance).

Times are stored in UTC (``UTCDateTime``) on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: store aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        date: Date,
    }


class WorkflowVersionRow(Base):
    """A workflow definition as loaded, by content hash; immutable once stored."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("name", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    definition: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]


class ServiceRow(Base):
    __tablename__ = "services"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[dict[str, Any]]
    short: Mapped[dict[str, Any]]
    url: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[dict[str, Any] | None]


class JobFunctionRow(Base):
    __tablename__ = "job_functions"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64))
    title: Mapped[dict[str, Any]]
    description: Mapped[dict[str, Any] | None]  # per language, for the careers site
    requirements: Mapped[dict[str, Any] | None]  # per language, a list of texts


class WaveRow(Base):
    __tablename__ = "waves"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    number: Mapped[int]
    opens_on: Mapped[date]
    title: Mapped[dict[str, Any]]
    closes_on: Mapped[date | None]


class VacancyRow(Base):
    __tablename__ = "vacancies"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    service: Mapped[str] = mapped_column(ForeignKey("services.code"))
    job_function: Mapped[str] = mapped_column(ForeignKey("job_functions.code"))
    wave: Mapped[str] = mapped_column(ForeignKey("waves.code"))
    track: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[int | None]
    title: Mapped[dict[str, Any]]
    opens_on: Mapped[date | None]
    closes_on: Mapped[date | None]  # None: open until the posts are filled
    place: Mapped[dict[str, Any] | None]
    employment_type: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[dict[str, Any] | None]


class CandidateRow(Base):
    """A person. Only this table holds personal data; audit entries name ``key``."""

    __tablename__ = "candidates"
    __table_args__ = (Index("ix_candidates_birth_date", "birth_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    language: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    birth_date: Mapped[date | None]  # optional; with the name it finds duplicate records
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)  # normalised email
    pool_consent_at: Mapped[datetime | None]  # talent-pool consent: keeps the file longer
    merged_into: Mapped[int | None]  # candidates.id it was merged into (no FK: SQLite ALTER)
    erased_at: Mapped[datetime | None]  # personal data erased; the key and dates remain


class CandidacyRow(Base):
    __tablename__ = "candidacies"
    __table_args__ = (
        UniqueConstraint("candidate_id", "vacancy"),
        Index("ix_candidacies_vacancy_state", "vacancy", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    vacancy: Mapped[str] = mapped_column(ForeignKey("vacancies.code"))
    workflow_version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    state: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    facts: Mapped[dict[str, Any]]
    audit_head: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    state_entered_at: Mapped[datetime]
    held_at: Mapped[datetime | None]  # a legal hold (dispute pending) blocks erasure
    hold_reason: Mapped[str | None] = mapped_column(Text)


class AuditEntryRow(Base):
    """One transition, append-only; ``hash`` chains it to the candidacy's previous entry."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("candidacy_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"))
    seq: Mapped[int]
    candidate_key: Mapped[str] = mapped_column(String(32))
    vacancy: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(64))
    src: Mapped[str | None] = mapped_column(String(64))
    dst: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any]]
    workflow_version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    workflow_hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    request_id: Mapped[str | None] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditEventRow(Base):
    """Events auditors care about that are not transitions: one global chain, rarely written."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    request_id: Mapped[str | None] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """Heads of the chains changed since the previous checkpoint, hashed and chained."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime]
    heads: Mapped[dict[str, Any]]  # candidacy id (text) -> [seq, hash]
    events_head: Mapped[dict[str, Any]]  # {"seq": n, "hash": h}, seq 0 before any event
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)
    key_id: Mapped[str | None] = mapped_column(String(64))


class AuditCheckpointHeadRow(Base):
    """Bookkeeping, not evidence: the head each chain had at its last checkpoint."""

    __tablename__ = "audit_checkpoint_heads"

    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class AuditLockRow(Base):
    """One row per global chain; updating it serialises that chain's writers on both databases."""

    __tablename__ = "audit_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    taken: Mapped[int]


class TimerRow(Base):
    """A deadline or reminder armed on entering a state (design invariant 5): a row, not a job."""

    __tablename__ = "timers"
    __table_args__ = (
        # id too: the claim orders by (due_at, id), and a deadline shared by thousands of
        # timers must not make each claim sort them all (docs/performance.md).
        Index("ix_timers_status_due_at_id", "status", "due_at", "id"),
        Index("ix_timers_candidacy_id_status", "candidacy_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"))
    state: Mapped[str] = mapped_column(String(64))
    state_version: Mapped[int]  # the candidacy's version on entering the state
    kind: Mapped[str] = mapped_column(String(16))  # timeout | reminder
    trigger: Mapped[str | None] = mapped_column(String(64))  # for a timeout
    template: Mapped[str | None] = mapped_column(String(64))  # for a reminder
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # armed | done | cancelled | skipped | failed
    armed_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    settled_by: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(Text)


class WorkerRow(Base):
    """A worker process's heartbeat: who is sweeping, and when it last did."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_sweep_at: Mapped[datetime | None]
    last_sweep_fired: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # running | stopped


class OutboxMessageRow(Base):
    """A mail owed to a candidate (or to staff about a candidacy), written in the transition's
    transaction (invariant 6)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at_id", "status", "next_attempt_at", "id"),
        # A candidacy's mail: invitations to cancel on leaving a state, erasure, access requests.
        Index("ix_outbox_messages_candidacy_id", "candidacy_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"))
    audit_seq: Mapped[int]
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]]  # what the template needs beyond the candidate's own data
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | dead
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # A staff member's mail about the candidacy (panel invitation, approval reminder); users
    # are disabled, never deleted, so no foreign key. None: the candidate's mail.
    recipient_user_id: Mapped[int | None]


class OutboxAttemptRow(Base):
    """Every delivery attempt, kept: when, by which process, and what the server said."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    attempted_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # sent | temporary | permanent
    detail: Mapped[str] = mapped_column(Text)
    process: Mapped[str] = mapped_column(String(128))


class UserRow(Base):
    """A staff member: roles, the services they work for, and their interface language."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[dict[str, Any]]  # {"roles": [...], "services": [...]}
    language: Mapped[str] = mapped_column(String(2))
    disabled: Mapped[bool]
    created_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(320))  # panel invitations, reminders


class ApiTokenRow(Base):
    """A revocable API token; only its SHA-256 is stored (tokens carry 256 random bits)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class WorkflowCurrentRow(Base):
    """Which stored version of each workflow new candidacies start on (the files' current one)."""

    __tablename__ = "workflow_current"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    since: Mapped[datetime]


class WebSessionRow(Base):
    """A signed-in browser: only the SHA-256 of the cookie is stored; logout or disabling ends it."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LoginFailureRow(Base):
    """A failed sign-in, counted per username and per address to slow down password guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


class SelectionSessionRow(Base):
    """A Selor session: when, where, what kind, how many seats, for which vacancies."""

    __tablename__ = "selection_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    module: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # computer_test | assessment | language_test
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(300))
    seats: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # planned | cancelled
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class SelectionSessionVacancyRow(Base):
    """The vacancies a session tests for (all of them need its module)."""

    __tablename__ = "selection_session_vacancies"

    session_id: Mapped[int] = mapped_column(ForeignKey("selection_sessions.id"), primary_key=True)
    vacancy: Mapped[str] = mapped_column(ForeignKey("vacancies.code"), primary_key=True)


class SelectionSeatRow(Base):
    """A candidacy's seat in a session, and later its result.

    Partial unique indexes keep the rules in the database, whatever process
    writes: one booked seat per seat number, per candidacy, and per candidate
    and day (nobody sits two sessions on one day).
    """

    __tablename__ = "selection_seats"
    __table_args__ = (
        Index(
            "uq_selection_seats_session_seat",
            "session_id",
            "seat_no",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index(
            "uq_selection_seats_candidacy",
            "candidacy_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index(
            "uq_selection_seats_candidate_day",
            "candidate_id",
            "day",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_selection_seats_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("selection_sessions.id"))
    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"))
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
    seat_no: Mapped[int]
    day: Mapped[date]  # the session's day in Brussels
    status: Mapped[str] = mapped_column(String(16))  # booked | released
    booked_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    score: Mapped[int | None]
    passed: Mapped[bool | None]
    remark: Mapped[str | None] = mapped_column(Text)
    result_at: Mapped[datetime | None]


class SelectionImportRow(Base):
    """A results file applied to a session; the same file twice is recognised by its SHA-256."""

    __tablename__ = "selection_imports"
    __table_args__ = (UniqueConstraint("session_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("selection_sessions.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    imported_at: Mapped[datetime]
    imported_by: Mapped[str] = mapped_column(String(200))


class AuditTextRow(Base):
    """The free text behind an audit record's seals: erasable, while the seals stay hashed.

    An entry's reason and text facts are hashed as ``sealed:<sha256(salt + text)>``;
    the text and the salt live here. Erasing a person deletes these rows: the
    chain still verifies, and without the salt nobody can test a guess against
    a seal.
    """

    __tablename__ = "audit_texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"), unique=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any]]  # fact name -> text


class CandidateLinkRow(Base):
    """Two candidate records that may be one person, found on apply; merging settles it."""

    __tablename__ = "candidate_links"
    __table_args__ = (UniqueConstraint("candidate_id", "other_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    rule: Mapped[str] = mapped_column(String(32))  # email | name_birth_date
    found_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # open | merged | distinct


class DocumentRow(Base):
    """A file a candidate sent with their application (a CV), kept outside the web root.

    The file lives under ``uploads_dir`` by ``stored_name`` (random); the row keeps
    what the recruiter needs to open it, and its SHA-256 to show it is the file
    sent. Erasure deletes both.
    """

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # cv
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(200))  # as sent, cleaned; personal data
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]


class FormPostRow(Base):
    """A post of a public form, counted per (keyed hash of the) address to slow down bots."""

    __tablename__ = "form_posts"
    __table_args__ = (Index("ix_form_posts_form_address_at", "form", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))  # HMAC of the client address, never clear
    at: Mapped[datetime]


class PanelMemberRow(Base):
    """A staff member on a vacancy's interview panel; one of them chairs it."""

    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("vacancy", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vacancy: Mapped[str] = mapped_column(ForeignKey("vacancies.code"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    chair: Mapped[bool]
    added_at: Mapped[datetime]


class ScorecardRow(Base):
    """One panel member's scores for one candidacy, or the chair's consensus scores.

    Never updated but to be superseded (``superseded_at``) by a newer card of the
    same member, with a reason in the audit log. ``comment`` is free text about
    the candidate: erased with them (its seal stays in the audit event).
    """

    __tablename__ = "scorecards"
    # One live card per member and kind: two submissions at once cannot both be filed.
    __table_args__ = (
        Index(
            "uq_scorecards_live",
            "candidacy_id",
            "user_id",
            "kind",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidacy_id: Mapped[int] = mapped_column(ForeignKey("candidacies.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # member | consensus
    scores: Mapped[dict[str, Any]]  # criterion -> whole number
    total: Mapped[int]
    passed: Mapped[bool]  # what the pass rule says of these scores
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]
    event_seq: Mapped[int]  # the audit event that recorded it (audit_events.seq)
