"""Reading the audit log: filtered listings, checkable exports, a data subject's extract.

Three reports over the transitions in ``audit_entries``:

- ``entries``: the log, filtered by candidacy, vacancy, service, actor, trigger,
  state (source or destination) and a period of local (Europe/Brussels) dates,
  oldest first;
- ``export``: the same rows written to CSV or JSON Lines, with a manifest beside
  the file (``PATH.manifest.json``: format, rows, sha256, filters, exporter,
  creation time, ATS version, columns) so the export itself can be checked, and
  one ``audit.exported`` event on the global event chain;
- ``extract``: one candidate's timeline across their candidacies, in their
  language, with staff identities replaced by roles.

Formula injection. Spreadsheets run a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula (and skip a leading tab or carriage return before
looking), so a reason such as ``=HYPERLINK("http://evil","x")`` would become a
live link in an auditor's spreadsheet. In the CSV export every text field that
starts with one of ``= + - @ \\t \\r`` gets a leading single quote (``'``), which
spreadsheets show as text and never evaluate. Numbers are written as they are.
JSON Lines is not opened by spreadsheets, so its values are left untouched.

Writing. An export goes to a temporary file in the target's directory (mode
0600) and is renamed into place only once complete, so a failed export leaves
nothing half-written; an existing file is refused unless ``force`` is given.
The ``audit.exported`` event is committed before the rename: if anything fails
between the two, the log records an export that never appeared, never the
other way round.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, RowMapping, Select, Table, func, or_, select

import ats
from ats.adapters.db.models import (
    AuditEntryRow,
    CandidacyRow,
    CandidateRow,
    ServiceRow,
    VacancyRow,
    WorkflowVersionRow,
)
from ats.adapters.db.store import opened_entries
from ats.domain.audit import EXPORT_MADE, canonical_json
from ats.errors import InvalidInput, NotFound
from ats.service.app import App
from ats.service.queries import local_time

log = structlog.get_logger("ats")

AUDIT = cast(Table, AuditEntryRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)
SERVICE = cast(Table, ServiceRow.__table__)
WORKFLOW = cast(Table, WorkflowVersionRow.__table__)
CANDIDACY = cast(Table, CandidacyRow.__table__)
CANDIDATE = cast(Table, CandidateRow.__table__)

FORMATS = ("csv", "jsonl")

# One export row, in this order; `ats audit log --json` gives the same keys.
COLUMNS = (
    "at",
    "at_utc",
    "candidacy",
    "seq",
    "candidate_key",
    "vacancy",
    "service",
    "actor",
    "role",
    "trigger",
    "from",
    "to",
    "reason",
    "facts",
    "workflow",
    "workflow_version",
    "workflow_hash",
    "request_id",
    "process",
    "prev_hash",
    "hash",
)

# What a spreadsheet may read as the start of a formula (OWASP, "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_EXPORTER_MAX = 200  # audit_events.actor
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, kw_only=True)
class AuditFilters:
    """Which audit entries to read; None means "any". Dates are local and inclusive."""

    candidacy: int | None = None
    vacancy: str | None = None
    service: str | None = None
    actor: str | None = None
    trigger: str | None = None
    state: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(
        cls,
        *,
        candidacy: int | None = None,
        vacancy: str | None = None,
        service: str | None = None,
        actor: str | None = None,
        trigger: str | None = None,
        state: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> AuditFilters:
        """Filters from text as typed on a command line; every bad value named in one error."""
        problems: list[str] = []
        since_date = _parse_date("since", since, problems)
        until_date = _parse_date("until", until, problems)
        if candidacy is not None and candidacy < 1:
            problems.append(f"candidacy: ids start at 1, got {candidacy}")
        if since_date and until_date and until_date < since_date:
            problems.append(
                f"until {until_date.isoformat()} is before since {since_date.isoformat()}; "
                "swap them or widen the period"
            )
        if problems:
            raise InvalidInput("bad audit filter: " + "; ".join(problems))
        return cls(
            candidacy=candidacy,
            vacancy=vacancy or None,
            service=service or None,
            actor=actor or None,
            trigger=trigger or None,
            state=state or None,
            since=since_date,
            until=until_date,
        )

    def to_dict(self) -> dict[str, object]:
        """The filters that were given, as recorded in manifests and export events."""
        values: dict[str, object] = {
            "candidacy": self.candidacy,
            "vacancy": self.vacancy,
            "service": self.service,
            "actor": self.actor,
            "trigger": self.trigger,
            "state": self.state,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {k: v for k, v in values.items() if v is not None}


def _parse_date(name: str, text: str | None, problems: list[str]) -> date | None:
    if text is None or text == "":
        return None
    try:
        # fromisoformat alone would also take 20210628 and 2021-W26-1; ask for one form.
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{name} {text!r}: give a date as YYYY-MM-DD, e.g. 2021-06-28")
        return None


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local calendar day begins (DST-aware)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


# -- the log -------------------------------------------------------------------------------


def _check_codes(connection: Connection, filters: AuditFilters) -> None:
    """A misspelt vacancy or service is an error, not a silently empty report."""
    problems: list[str] = []
    if filters.vacancy is not None:
        found = connection.execute(
            select(VACANCY.c.code).where(VACANCY.c.code == filters.vacancy)
        ).first()
        if found is None:
            problems.append(f"no vacancy {filters.vacancy!r} (`ats vacancy list` shows the codes)")
    if filters.service is not None:
        known = list(connection.execute(select(SERVICE.c.code).order_by(SERVICE.c.code)).scalars())
        if filters.service not in known:
            problems.append(
                f"no service {filters.service!r} (known: {', '.join(known) or 'none; run `ats init`'})"
            )
    if problems:
        raise InvalidInput("bad audit filter: " + "; ".join(problems))


def _entries_query(filters: AuditFilters, zone: ZoneInfo) -> Select[Any]:
    query = (
        select(
            AUDIT,
            VACANCY.c.service.label("service"),
            WORKFLOW.c.name.label("workflow_name"),
            WORKFLOW.c.number.label("workflow_number"),
        )
        # Outer joins: an entry is never dropped from an audit report for want of a match.
        .outerjoin(VACANCY, VACANCY.c.code == AUDIT.c.vacancy)
        .outerjoin(WORKFLOW, WORKFLOW.c.id == AUDIT.c.workflow_version_id)
        .order_by(AUDIT.c.occurred_at, AUDIT.c.candidacy_id, AUDIT.c.seq)
    )
    if filters.candidacy is not None:
        query = query.where(AUDIT.c.candidacy_id == filters.candidacy)
    if filters.vacancy is not None:
        query = query.where(AUDIT.c.vacancy == filters.vacancy)
    if filters.service is not None:
        query = query.where(VACANCY.c.service == filters.service)
    if filters.actor is not None:
        query = query.where(AUDIT.c.actor == filters.actor)
    if filters.trigger is not None:
        query = query.where(AUDIT.c.trigger == filters.trigger)
    if filters.state is not None:
        query = query.where(or_(AUDIT.c.src == filters.state, AUDIT.c.dst == filters.state))
    if filters.since is not None:
        query = query.where(AUDIT.c.occurred_at >= _day_start(filters.since, zone))
    if filters.until is not None:
        query = query.where(
            AUDIT.c.occurred_at < _day_start(filters.until + timedelta(days=1), zone)
        )
    return query


def _opened_in_batches(
    connection: Connection, rows: Iterable[RowMapping]
) -> Iterator[dict[str, Any]]:
    """Stream entries with their sealed texts opened, a thousand at a time."""
    iterator = iter(rows)
    while batch := list(islice(iterator, 1000)):
        yield from opened_entries(connection, batch)


def _entry(row: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    occurred: datetime = row["occurred_at"]
    return {
        "at": local_time(occurred, zone),
        "at_utc": occurred.isoformat(),
        "candidacy": row["candidacy_id"],
        "seq": row["seq"],
        "candidate_key": row["candidate_key"],
        "vacancy": row["vacancy"],
        "service": row["service"],
        "actor": row["actor"],
        "role": row["role"],
        "trigger": row["trigger"],
        "from": row["src"],
        "to": row["dst"],
        "reason": row["reason"],
        "facts": dict(row["facts"] or {}),
        "workflow": row["workflow_name"],
        "workflow_version": row["workflow_number"],
        "workflow_hash": row["workflow_hash"],
        "request_id": row["request_id"],
        "process": row["process"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


def entries(app: App, filters: AuditFilters, *, limit: int | None = 1000) -> list[dict[str, Any]]:
    """Audit entries matching ``filters``, oldest first (then by candidacy and sequence)."""
    if limit is not None and limit < 1:
        raise InvalidInput(f"limit: give a positive number of entries, got {limit}")
    zone = app.settings.zone
    query = _entries_query(filters, zone)
    if limit is not None:
        query = query.limit(limit)
    with app.engine.connect() as connection:
        _check_codes(connection, filters)
        opened = opened_entries(connection, connection.execute(query).mappings())
        rows = [_entry(row, zone) for row in opened]
    log.info("audit.listed", entries=len(rows))
    return rows


# -- the export ----------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """Make a CSV cell inert in spreadsheets: a leading ``'`` before a formula start."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = canonical_json(value).decode()
    if isinstance(value, str):
        return neutralise(value)
    return value


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and what its manifest says."""

    path: Path
    manifest_path: Path
    manifest: dict[str, Any]


def manifest_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def _write_rows(handle: TextIO, fmt: str, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_csv_cell(row[column]) for column in COLUMNS])
            count += 1
    else:
        for row in rows:
            handle.write(json.dumps({c: row[c] for c in COLUMNS}, ensure_ascii=False) + "\n")
            count += 1
    return count


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[tuple[Path, TextIO]]:
    """A new file in ``target``'s directory, removed unless renamed away before the end."""
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield temporary, handle
    finally:
        temporary.unlink(missing_ok=True)


def _place(temporary: Path, target: Path, *, force: bool) -> None:
    """Rename into place; without ``force`` an existing target is never replaced."""
    if force:
        os.replace(temporary, target)
        return
    try:
        # A hard link fails if the target exists, so a file that appeared meanwhile survives.
        os.link(temporary, target)
    except FileExistsError:
        raise InvalidInput(f"{target} appeared while exporting; nothing was overwritten") from None
    except OSError:
        # No hard links on this file system: check, then rename (a narrow race remains).
        if target.exists():
            raise InvalidInput(
                f"{target} appeared while exporting; nothing was overwritten"
            ) from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def _check_target(path: Path, *, force: bool) -> None:
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot export to {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise InvalidInput(f"cannot export to {path}: it is a directory; give a file name")
    if len(path.name) > _EXPORTER_MAX:  # the event's subject column holds the file name
        raise InvalidInput(
            f"cannot export to {path}: use a file name of at most {_EXPORTER_MAX} characters"
        )
    if not force:
        for existing in (path, manifest_path_for(path)):
            if existing.exists():
                raise InvalidInput(
                    f"{existing} exists; choose another --out or pass --force to overwrite it"
                )


def export(
    app: App,
    filters: AuditFilters,
    *,
    fmt: str,
    out: Path,
    exporter: str = "cli",
    force: bool = False,
    request_id: str | None = None,
) -> ExportResult:
    """Write the filtered audit log to ``out`` with its manifest, and record the export."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    exporter = exporter.strip()
    if not exporter or len(exporter) > _EXPORTER_MAX or any(c in exporter for c in "\r\n\t\x00"):
        raise InvalidInput(
            f"exporter: name who exports, one line, at most {_EXPORTER_MAX} characters"
        )
    path = Path(out).absolute()
    _check_target(path, force=force)
    manifest_path = manifest_path_for(path)
    zone = app.settings.zone
    created_at = app.clock.now()
    with app.engine.connect() as connection:
        _check_codes(connection, filters)

    with contextlib.ExitStack() as stack:
        data_temporary, data_handle = stack.enter_context(_temporary_beside(path))
        with (
            app.engine.connect() as connection,
            app.engine.connect() as texts_connection,
            # Streamed (a server-side cursor on PostgreSQL), closed even if writing fails.
            connection.execution_options(yield_per=1000).execute(
                _entries_query(filters, zone)
            ) as result,
        ):
            opened = _opened_in_batches(texts_connection, result.mappings())
            rows = _write_rows(data_handle, fmt, (_entry(r, zone) for r in opened))
        data_handle.flush()
        os.fsync(data_handle.fileno())
        data_handle.close()
        digest = _sha256(data_temporary)
        manifest: dict[str, Any] = {
            "file": path.name,
            "format": fmt,
            "rows": rows,
            "sha256": digest,
            "filters": filters.to_dict(),
            "exporter": exporter,
            "created_at": created_at.isoformat(),
            "ats_version": ats.__version__,
            "columns": list(COLUMNS),
        }
        manifest_temporary, manifest_handle = stack.enter_context(_temporary_beside(manifest_path))
        manifest_handle.write(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        manifest_handle.flush()
        os.fsync(manifest_handle.fileno())
        manifest_handle.close()

        with app.unit_of_work() as uow:
            uow.events.append(
                kind=EXPORT_MADE,
                actor=exporter,
                role="auditor",
                subject=path.name,
                details={
                    "format": fmt,
                    "rows": rows,
                    "sha256": digest,
                    "filters": filters.to_dict(),
                },
                occurred_at=created_at,
                request_id=request_id,
                process=app.process,
            )
            uow.commit()

        _place(data_temporary, path, force=force)
        try:
            _place(manifest_temporary, manifest_path, force=force)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    log.info("audit.exported", format=fmt, rows=rows)
    return ExportResult(path=path, manifest_path=manifest_path, manifest=manifest)


# -- a data subject's extract ----------------------------------------------------------------


def find_candidate(connection: Connection, candidate: str) -> RowMapping:
    """A candidate by pseudonymous key or by email address (its case as people type it)."""
    text = candidate.strip()
    forms = {text.lower()}
    if "@" in text:
        # An international domain is stored as punycode, as apply stores it.
        with contextlib.suppress(EmailNotValidError):
            forms.add((validate_email(text, check_deliverability=False).ascii_email or "").lower())
    # Stored addresses keep the local part's case as typed at apply; emails are ASCII.
    where = or_(CANDIDATE.c.key == text, func.lower(CANDIDATE.c.email).in_(forms))
    row = connection.execute(select(CANDIDATE).where(where)).mappings().first()
    if row is None:
        raise NotFound(
            f"no candidate {text!r}: give the candidate key (16 hex digits, shown by "
            "`ats candidacy show`) or the email address they applied with"
        )
    return row


def _label(definition: Mapping[str, Any] | None, state: str | None, language: str) -> str | None:
    """The state as the candidate is told it (the workflow's ``public`` text), else its name."""
    if state is None:
        return None
    spec = (definition or {}).get("states", {}).get(state, {})
    public = spec.get("public") or {}
    return str(public.get(language) or public.get("en") or state)


def extract(app: App, candidate: str) -> dict[str, Any]:
    """A data subject's timeline over all their candidacies, roles in place of staff names.

    ``candidate`` is the email address or the pseudonymous candidate key. The
    actor of each entry is never read into the result: only its role.
    """
    zone = app.settings.zone
    with app.engine.connect() as connection:
        person = find_candidate(connection, candidate)
        language: str = person["language"]
        candidacies = list(
            connection.execute(
                select(
                    CANDIDACY.c.id,
                    CANDIDACY.c.vacancy,
                    CANDIDACY.c.state,
                    CANDIDACY.c.workflow_version_id,
                    CANDIDACY.c.created_at,
                    VACANCY.c.title,
                )
                .outerjoin(VACANCY, VACANCY.c.code == CANDIDACY.c.vacancy)
                .where(CANDIDACY.c.candidate_id == person["id"])
                .order_by(CANDIDACY.c.created_at, CANDIDACY.c.id)
            ).mappings()
        )
        ids = [c["id"] for c in candidacies]
        timeline = opened_entries(
            connection,
            connection.execute(
                # Deliberately no AUDIT.c.actor: staff identities never reach this report.
                select(
                    AUDIT.c.id,
                    AUDIT.c.candidacy_id,
                    AUDIT.c.seq,
                    AUDIT.c.vacancy,
                    AUDIT.c.role,
                    AUDIT.c.trigger,
                    AUDIT.c.src,
                    AUDIT.c.dst,
                    AUDIT.c.reason,
                    AUDIT.c.facts,
                    AUDIT.c.occurred_at,
                    AUDIT.c.workflow_version_id,
                )
                .where(AUDIT.c.candidacy_id.in_(ids))
                .order_by(AUDIT.c.occurred_at, AUDIT.c.candidacy_id, AUDIT.c.seq)
            ).mappings(),
        )
        version_ids = {c["workflow_version_id"] for c in candidacies} | {
            e["workflow_version_id"] for e in timeline
        }
        definitions: dict[int, Mapping[str, Any]] = {
            row.id: row.definition
            for row in connection.execute(
                select(WORKFLOW.c.id, WORKFLOW.c.definition).where(WORKFLOW.c.id.in_(version_ids))
            )
        }

    titles = {c["vacancy"]: _title(c["title"], language, c["vacancy"]) for c in candidacies}
    result = {
        "candidate": {
            "key": person["key"],
            "name": person["name"],
            "email": person["email"],
            "language": language,
        },
        "candidacies": [
            {
                "id": c["id"],
                "vacancy": c["vacancy"],
                "vacancy_title": titles[c["vacancy"]],
                "applied": local_time(c["created_at"], zone),
                "state": c["state"],
                "status": _label(definitions.get(c["workflow_version_id"]), c["state"], language),
            }
            for c in candidacies
        ],
        "timeline": [
            {
                "at": local_time(e["occurred_at"], zone),
                "at_utc": e["occurred_at"].isoformat(),
                "candidacy": e["candidacy_id"],
                "seq": e["seq"],
                "vacancy": e["vacancy"],
                "vacancy_title": titles.get(e["vacancy"], e["vacancy"]),
                "role": e["role"],
                "trigger": e["trigger"],
                "from_state": e["src"],
                "to_state": e["dst"],
                "from": _label(definitions.get(e["workflow_version_id"]), e["src"], language),
                "to": _label(definitions.get(e["workflow_version_id"]), e["dst"], language),
                "reason": e["reason"],
                "facts": dict(e["facts"] or {}),
            }
            for e in timeline
        ],
    }
    log.info("audit.extracted", candidacies=len(candidacies), entries=len(timeline))
    return result


def _title(title: Mapping[str, Any] | None, language: str, code: str) -> str:
    if not title:
        return code
    return str(title.get(language) or title.get("en") or code)
