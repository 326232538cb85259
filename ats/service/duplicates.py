"""Duplicate candidate records: flagged on apply, shown to recruiters, settled by a merge.

One person can end up with two candidate records: they applied once as
``an.peeters+jobs@example.org`` and once as ``An.Peeters@example.org``, or once
from a work and once from a private address. Two rules find such pairs when a
candidate applies:

- ``email``: the same address once normalised (case, a ``+tag``, and for Gmail
  the dots, do not tell mailboxes apart);
- ``name_birth_date``: the same name (case, accents and spacing aside) and the
  same birth date, both given.

A pair found is a *link* (``candidate_links``), open until staff settle it:
``merge`` moves everything of one record to the other, in one audited
transaction, and leaves the merged record as an empty shell pointing at the kept
one (its old audit entries still name its key; ``ats audit verify`` accepts
that). ``mark_distinct`` says the two are different people, so the warning stops.

Finding duplicates never fails an application: the search runs in a savepoint,
and a problem there is logged and forgotten. Logs name candidate keys only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from ats.adapters.db.models import CandidateLinkRow, SelectionSeatRow, VacancyRow
from ats.adapters.db.store import AUDIT_TEXT, CANDIDACY, CANDIDATE, take_lock
from ats.domain.audit import CANDIDATES_DISTINCT, CANDIDATES_MERGED, seal_texts
from ats.domain.people import normalised_email, normalised_name
from ats.errors import ConflictError, DuplicateApplication, Forbidden, InvalidInput, NotFound
from ats.service.app import App
from ats.service.audit import record_event, record_refusal
from ats.service.queries import local_time
from ats.service.unit_of_work import UnitOfWork

log = structlog.get_logger("ats")

LINK = cast(Table, CandidateLinkRow.__table__)
SEAT = cast(Table, SelectionSeatRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)

EMAIL = "email"
NAME_BIRTH_DATE = "name_birth_date"
RULES = {EMAIL: "same email address", NAME_BIRTH_DATE: "same name and birth date"}
OPEN, MERGED, DISTINCT, CLOSED = "open", "merged", "distinct", "closed"  # closed: one erased
# When two links of one pair meet in a merge, the one that says most survives.
_WEIGHT = {OPEN: 0, CLOSED: 1, DISTINCT: 1, MERGED: 2}
MERGE_ROLES = ("recruiter", "admin")
MAX_REASON = 2000
MERGED_NAME = ""  # a merged record keeps its key and dates, nothing that names a person


def merged_email(key: str) -> str:
    """A unique address no mail can reach (RFC 2606 ``.invalid``): the column stays unique."""
    return f"merged-{key}@merged.invalid"


# -- finding, on apply ---------------------------------------------------------------------


@dataclass(frozen=True)
class PossibleDuplicate:
    """A link just made: ``other_key``'s record may be the same person, by ``rule``."""

    other_key: str
    rule: str


def link_duplicates(uow: UnitOfWork, app: App, candidate_id: int) -> list[PossibleDuplicate]:
    """Link the candidate to every live record that may be the same person; the new links.

    Runs in the caller's (the application's) transaction, inside a savepoint:
    whatever goes wrong here is logged and the application goes on. A pair
    linked before, in either direction and whatever its status (a "distinct"
    verdict stands), is not linked again. Call it after the application's rows
    are written: SQLite's driver begins the transaction at the first write, and
    a savepoint before that would commit on its own.
    """
    connection = uow.connection
    person = (
        connection.execute(select(CANDIDATE).where(CANDIDATE.c.id == candidate_id))
        .mappings()
        .first()
    )
    if person is None or person["erased_at"] is not None or person["merged_into"] is not None:
        return []
    try:
        with connection.begin_nested():
            found = _matches(connection, person)
            if not found:
                return []
            linked = _linked_with(connection, candidate_id, list(found))
            new = [
                (other, key, rule) for other, (key, rule) in found.items() if other not in linked
            ]
            if new:
                now = app.clock.now()
                connection.execute(
                    LINK.insert(),
                    [
                        {
                            "candidate_id": candidate_id,
                            "other_id": other,
                            "rule": rule,
                            "found_at": now,
                            "status": OPEN,
                        }
                        for other, _, rule in new
                    ],
                )
    except SQLAlchemyError as exc:  # a race on the link's unique pair, a lost connection...
        log.warning(
            "candidate.duplicates_not_searched", candidate=person["key"], error=type(exc).__name__
        )
        return []
    for _, key, rule in new:
        log.warning("candidate.possible_duplicate", candidate=person["key"], other=key, rule=rule)
    return [PossibleDuplicate(key, rule) for _, key, rule in new]


def _live() -> ColumnElement[bool]:
    return CANDIDATE.c.erased_at.is_(None) & CANDIDATE.c.merged_into.is_(None)


def _matches(connection: Connection, person: RowMapping) -> dict[int, tuple[str, str]]:
    """Other live records that may be ``person``: id -> (key, rule); the email rule first.

    One pass over the candidates: the database keeps those whose address starts
    with the normalised local part (case-blind; for Gmail, dots aside) or who
    share the birth date, and Python decides. No index serves either test (see
    docs/duplicates.md), so it is one scan, made as cheap as a scan can be.
    """
    wanted = normalised_email(person["email"])
    name = normalised_name(person["name"])
    by_birth = person["birth_date"] is not None and bool(name)
    # Both through an index: the stored normalised address, and the birth date.
    kinds: list[ColumnElement[bool]] = [CANDIDATE.c.email_key == wanted]
    if by_birth:
        kinds.append(CANDIDATE.c.birth_date == person["birth_date"])
    rows = connection.execute(
        select(
            CANDIDATE.c.id,
            CANDIDATE.c.key,
            CANDIDATE.c.email,
            CANDIDATE.c.name,
            CANDIDATE.c.birth_date,
        ).where(_live(), CANDIDATE.c.id != person["id"], or_(*kinds))
    )
    found: dict[int, tuple[str, str]] = {}
    for row in rows:
        if row.email != person["email"] and normalised_email(row.email) == wanted:
            found[row.id] = (row.key, EMAIL)
        elif (
            by_birth
            and row.birth_date == person["birth_date"]
            and normalised_name(row.name) == name
        ):
            found[row.id] = (row.key, NAME_BIRTH_DATE)
    return found


def _linked_with(connection: Connection, candidate_id: int, others: Sequence[int]) -> set[int]:
    """Which of ``others`` are linked to the candidate already, in either direction."""
    rows = connection.execute(
        select(LINK.c.candidate_id, LINK.c.other_id).where(
            or_(
                (LINK.c.candidate_id == candidate_id) & LINK.c.other_id.in_(others),
                (LINK.c.other_id == candidate_id) & LINK.c.candidate_id.in_(others),
            )
        )
    )
    return {a if b == candidate_id else b for a, b in rows}


# -- reading -------------------------------------------------------------------------------


def duplicates(
    app: App, *, candidate: str | None = None, candidacy: int | None = None
) -> list[dict[str, Any]]:
    """The open links of a candidate (by key, or the candidate of a candidacy), oldest first.

    Each names the other record by key, the rule that linked them, when, and the
    other record's candidacies (id, vacancy, its service, state) so staff can look.
    """
    if (candidate is None) == (candidacy is None):
        raise TypeError("give a candidate key or a candidacy id")
    with app.engine.connect() as connection:
        if candidacy is not None:
            person = _person_of_candidacy(connection, candidacy)
        else:
            person = _person(connection, str(candidate))
            if person["merged_into"] is not None:
                raise InvalidInput(
                    f"candidate {person['key']} was merged into "
                    f"{_key_of(connection, person['merged_into'])}; use that key instead"
                )
        me = person["id"]
        other = CANDIDATE.alias("other")
        links: dict[int, dict[str, Any]] = {}
        # A link is stored one way round; read it from both sides.
        for mine, theirs in (
            (LINK.c.candidate_id, LINK.c.other_id),
            (LINK.c.other_id, LINK.c.candidate_id),
        ):
            rows = connection.execute(
                select(theirs.label("other_id"), other.c.key, LINK.c.rule, LINK.c.found_at)
                .join(other, other.c.id == theirs)
                .where(
                    mine == me,
                    LINK.c.status == OPEN,
                    other.c.erased_at.is_(None),
                    other.c.merged_into.is_(None),
                )
            ).mappings()
            for row in rows:
                if row["other_id"] in links:  # linked both ways (two applications at once)
                    continue
                links[row["other_id"]] = {
                    "candidate": person["key"],
                    "other": row["key"],
                    "rule": row["rule"],
                    "rule_text": RULES.get(row["rule"], row["rule"]),
                    "found_at": local_time(row["found_at"], app.settings.zone),
                    "found_at_utc": row["found_at"],
                    "candidacies": [],
                }
        if links:
            rows = connection.execute(
                select(
                    CANDIDACY.c.candidate_id,
                    CANDIDACY.c.id,
                    CANDIDACY.c.vacancy,
                    CANDIDACY.c.state,
                    VACANCY.c.service,
                )
                .join(VACANCY, VACANCY.c.code == CANDIDACY.c.vacancy)
                .where(CANDIDACY.c.candidate_id.in_(list(links)))
                .order_by(CANDIDACY.c.id)
            ).mappings()
            for row in rows:
                links[row["candidate_id"]]["candidacies"].append(
                    {
                        "id": row["id"],
                        "vacancy": row["vacancy"],
                        "service": row["service"],
                        "state": row["state"],
                    }
                )
    found = sorted(links.values(), key=lambda d: (d["found_at_utc"], d["other"]))
    for item in found:
        item["found_at_utc"] = item["found_at_utc"].isoformat()
    return found


def _person(connection: Connection, key: str) -> RowMapping:
    row = (
        connection.execute(select(CANDIDATE).where(CANDIDATE.c.key == key.strip()))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(
            f"no candidate {key.strip()[:40]!r}: give the candidate key (16 hex digits, "
            "shown by `ats candidacy show`)"
        )
    return row


def _person_of_candidacy(connection: Connection, candidacy_id: int) -> RowMapping:
    row = (
        connection.execute(
            select(CANDIDATE)
            .join(CANDIDACY, CANDIDACY.c.candidate_id == CANDIDATE.c.id)
            .where(CANDIDACY.c.id == candidacy_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no candidacy {candidacy_id}")
    return row


def _key_of(connection: Connection, candidate_id: int) -> str:
    return str(
        connection.execute(select(CANDIDATE.c.key).where(CANDIDATE.c.id == candidate_id)).scalar()
    )


# -- settling: merge, or distinct ----------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """What one merge moved from the merged record to the kept one."""

    kept: str
    merged: str
    candidacies: list[int] = field(default_factory=list)
    seats: int = 0
    texts: int = 0  # audit texts (reasons, text facts) now erasable with the kept record
    filled: list[str] = field(default_factory=list)  # fields the kept record lacked

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "merged": self.merged,
            "candidacies": self.candidacies,
            "seats": self.seats,
            "texts": self.texts,
            "filled": self.filled,
        }


def merge(
    app: App,
    *,
    keep: str,
    merge: str,
    reason: str,
    actor: str,
    role: str,
    request_id: str | None = None,
) -> Merge:
    """Merge candidate record ``merge`` into ``keep`` (both keys) in one audited transaction.

    The kept record takes the other's candidacies, Selor seats, audit texts,
    links and earlier merges, and the phone and birth date it lacked; the
    merged record keeps its key and dates and points at the kept one, its
    personal data cleared. Refused, changing nothing, when the two are one
    record, either is erased or merged already, both applied to one vacancy,
    or both hold a Selor seat on one day.
    """
    reason = _check(app, reason, keep, actor=actor, role=role)
    if keep.strip() == merge.strip():
        raise InvalidInput(
            f"candidate {keep.strip()[:40]}: a record cannot be merged into itself; "
            "give the key to keep and the key of the other record"
        )
    with app.unit_of_work() as uow:
        connection = uow.connection
        # Merges are rare: one at a time. On SQLite this also takes the write lock
        # before anything is read, so what is checked below stays true until commit.
        take_lock(connection, "events")
        kept = _live_record(connection, keep, "keep")
        gone = _live_record(connection, merge, "merge")
        kept_id, gone_id = kept["id"], gone["id"]
        _refuse_clashes(connection, kept, gone)
        moved = list(
            connection.execute(
                select(CANDIDACY.c.id)
                .where(CANDIDACY.c.candidate_id == gone_id)
                .order_by(CANDIDACY.c.id)
            ).scalars()
        )
        connection.execute(
            update(CANDIDACY)
            .where(CANDIDACY.c.candidate_id == gone_id)
            .values(candidate_id=kept_id)
        )
        seats = connection.execute(
            update(SEAT).where(SEAT.c.candidate_id == gone_id).values(candidate_id=kept_id)
        ).rowcount
        texts = connection.execute(
            update(AUDIT_TEXT)
            .where(AUDIT_TEXT.c.candidate_id == gone_id)
            .values(candidate_id=kept_id)
        ).rowcount
        # `ats audit verify` looks one level up: records merged into this one move along.
        connection.execute(
            update(CANDIDATE).where(CANDIDATE.c.merged_into == gone_id).values(merged_into=kept_id)
        )
        _move_links(connection, kept_id, gone_id)
        filled = {
            name: gone[name]
            for name in ("phone", "birth_date")
            if kept[name] is None and gone[name] is not None
        }
        consents = [c for c in (kept["pool_consent_at"], gone["pool_consent_at"]) if c is not None]
        if consents and max(consents) != kept["pool_consent_at"]:
            filled["pool_consent_at"] = max(consents)  # the latest consent keeps the file longest
        connection.execute(
            update(CANDIDATE)
            .where(CANDIDATE.c.id == gone_id)
            .values(
                name=MERGED_NAME,
                email=merged_email(gone["key"]),
                email_key=None,
                phone=None,
                birth_date=None,
                pool_consent_at=None,
                merged_into=kept_id,
            )
        )
        if filled:
            connection.execute(update(CANDIDATE).where(CANDIDATE.c.id == kept_id).values(**filled))
        result = Merge(
            kept=kept["key"],
            merged=gone["key"],
            candidacies=moved,
            seats=int(seats),
            texts=int(texts),
            filled=sorted(filled),
        )
        # Staff may name the person in the reason: it is sealed, and erased with the kept record.
        sealed, _, sealed_texts = seal_texts(reason, {}, ())
        record_event(
            uow,
            app,
            kind=CANDIDATES_MERGED,
            actor=actor,
            role=role,
            subject=f"candidate:{kept['key']}",
            details={
                "kept": kept["key"],
                "merged": gone["key"],
                "candidacies": moved,
                "seats": result.seats,
                "reason": sealed,
            },
            request_id=request_id,
            texts=sealed_texts,
            candidate_id=kept_id,
        )
        uow.commit()
    log.info(
        "candidates.merged",
        kept=result.kept,
        merged=result.merged,
        candidacies=len(moved),
        seats=result.seats,
    )
    return result


def mark_distinct(
    app: App,
    *,
    candidate: str,
    other: str,
    reason: str,
    actor: str,
    role: str,
    request_id: str | None = None,
) -> bool:
    """Say two linked records are different people: the link closes, audited; False if it was.

    Only an open link can be closed this way; a merged pair stays merged.
    """
    reason = _check(app, reason, candidate, actor=actor, role=role)
    with app.unit_of_work() as uow:
        connection = uow.connection
        take_lock(connection, "events")
        first = _person(connection, candidate)
        second = _person(connection, other)
        pair = or_(
            (LINK.c.candidate_id == first["id"]) & (LINK.c.other_id == second["id"]),
            (LINK.c.candidate_id == second["id"]) & (LINK.c.other_id == first["id"]),
        )
        statuses = set(connection.execute(select(LINK.c.status).where(pair)).scalars())
        if not statuses:
            raise NotFound(
                f"candidates {first['key']} and {second['key']} are not linked as possible "
                f"duplicates; `ats candidate duplicates {first['key']}` lists the links"
            )
        if MERGED in statuses:
            raise InvalidInput(
                f"candidates {first['key']} and {second['key']} were merged; that cannot be undone"
            )
        if OPEN not in statuses:
            return False
        connection.execute(update(LINK).where(pair).values(status=DISTINCT))
        sealed, _, sealed_texts = seal_texts(reason, {}, ())
        record_event(
            uow,
            app,
            kind=CANDIDATES_DISTINCT,
            actor=actor,
            role=role,
            subject=f"candidate:{first['key']}",
            details={"candidate": first["key"], "other": second["key"], "reason": sealed},
            request_id=request_id,
            texts=sealed_texts,
            candidate_id=first["id"],
        )
        uow.commit()
    log.info("candidates.distinct", candidate=first["key"], other=second["key"])
    return True


def _check(app: App, reason: str, subject: str, *, actor: str, role: str) -> str:
    """The reason, trimmed; a role that may not settle duplicates is refused, and audited."""
    if role not in MERGE_ROLES:
        record_refusal(
            app,
            actor=actor,
            roles=[role],
            subject=f"candidate:{subject.strip()[:40]}",
            reason="settling duplicate records needs recruiter or admin",
        )
        raise Forbidden(
            f"role {role!r} may not merge candidate records or mark them distinct: "
            f"that needs {' or '.join(MERGE_ROLES)}"
        )
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"reason: say why, in at most {MAX_REASON} characters (it goes into the audit log)"
        )
    return reason


def _live_record(connection: Connection, key: str, which: str) -> RowMapping:
    """A record that can take part in a merge, locked until the transaction ends."""
    row = (
        connection.execute(
            select(CANDIDATE).where(CANDIDATE.c.key == key.strip()).with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(
            f"no candidate {key.strip()[:40]!r} ({which}): give the candidate key "
            "(16 hex digits, shown by `ats candidacy show` and `ats candidate duplicates`)"
        )
    if row["erased_at"] is not None:
        raise InvalidInput(
            f"candidate {row['key']} was erased on {row['erased_at']:%Y-%m-%d}: "
            "an erased record cannot be merged"
        )
    if row["merged_into"] is not None:
        into = _key_of(connection, row["merged_into"])
        raise InvalidInput(
            f"candidate {row['key']} was merged into {into} already; use {into} instead"
        )
    return row


def _refuse_clashes(connection: Connection, kept: RowMapping, gone: RowMapping) -> None:
    """What one person cannot have twice: a candidacy per vacancy, a Selor seat per day."""
    mine, theirs = CANDIDACY.alias("mine"), CANDIDACY.alias("theirs")
    both = connection.execute(
        select(mine.c.vacancy, mine.c.id, theirs.c.id)
        .join(theirs, theirs.c.vacancy == mine.c.vacancy)
        .where(mine.c.candidate_id == kept["id"], theirs.c.candidate_id == gone["id"])
        .order_by(mine.c.vacancy)
    ).first()
    if both is not None:
        vacancy, first, second = both
        raise DuplicateApplication(
            f"candidates {kept['key']} and {gone['key']} both applied to vacancy {vacancy} "
            f"(candidacies {first} and {second}), and a person has one candidacy per vacancy: "
            "these records cannot be merged. Close the surplus candidacy (withdraw it) and "
            "keep the records apart"
        )
    a, b = SEAT.alias("a"), SEAT.alias("b")
    same_day = connection.execute(
        select(a.c.day, a.c.candidacy_id, b.c.candidacy_id)
        .join(b, b.c.day == a.c.day)
        .where(
            a.c.candidate_id == kept["id"],
            b.c.candidate_id == gone["id"],
            a.c.status == "booked",
            b.c.status == "booked",
        )
        .order_by(a.c.day)
    ).first()
    if same_day is not None:
        day, first, second = same_day
        raise ConflictError(
            f"candidates {kept['key']} and {gone['key']} both hold a Selor seat on "
            f"{day:%Y-%m-%d} (candidacies {first} and {second}), and a person sits one "
            "session a day: free one of the seats first (a seat is freed when its candidacy "
            "leaves the invited state or its session is cancelled), then merge"
        )


def _move_links(connection: Connection, kept_id: int, gone_id: int) -> None:
    """Links of the merged record become the kept record's; the pair itself is settled.

    Where both records were linked to one third record, one link survives,
    carrying the verdict that says most (merged, then distinct, then open).
    """
    pair = or_(
        (LINK.c.candidate_id == kept_id) & (LINK.c.other_id == gone_id),
        (LINK.c.candidate_id == gone_id) & (LINK.c.other_id == kept_id),
    )
    connection.execute(update(LINK).where(pair).values(status=MERGED))
    rows = connection.execute(
        select(LINK.c.id, LINK.c.candidate_id, LINK.c.other_id, LINK.c.status).where(
            or_(LINK.c.candidate_id == gone_id, LINK.c.other_id == gone_id), ~pair
        )
    ).mappings()
    for row in list(rows):
        third = row["other_id"] if row["candidate_id"] == gone_id else row["candidate_id"]
        existing = (
            connection.execute(
                select(LINK.c.id, LINK.c.status).where(
                    or_(
                        (LINK.c.candidate_id == kept_id) & (LINK.c.other_id == third),
                        (LINK.c.candidate_id == third) & (LINK.c.other_id == kept_id),
                    )
                )
            )
            .mappings()
            .first()
        )
        if existing is None:
            side = "candidate_id" if row["candidate_id"] == gone_id else "other_id"
            connection.execute(update(LINK).where(LINK.c.id == row["id"]).values({side: kept_id}))
            continue
        status = max(existing["status"], row["status"], key=lambda s: _WEIGHT.get(s, 0))
        if status != existing["status"]:
            connection.execute(
                update(LINK).where(LINK.c.id == existing["id"]).values(status=status)
            )
        connection.execute(delete(LINK).where(LINK.c.id == row["id"]))
