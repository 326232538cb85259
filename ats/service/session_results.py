"""Selor results files: read, check every row, then apply all of them or none.

A file is CSV (comma, semicolon or tab), UTF-8 with or without a BOM, or
Windows-1252 as Excel on a Belgian desktop saves it. Its columns: the
candidate's reference or email, score, passed, and an optional remark (Dutch
and French headers are understood too). Every row is checked before anything
is written; one bad row means nothing changes and the report names each bad
row by its line. A clean file fires each candidacy's pass or fail transition
(actor: the importing user; reason: the session) with its audit entry and mail,
in one transaction. The same file twice is recognised by its SHA-256 and
changes nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert, select, update

from ats.adapters.db.engine import lowered
from ats.adapters.db.models import SelectionImportRow
from ats.domain.candidacy import decide
from ats.errors import InvalidInput
from ats.service.app import App
from ats.service.commands import FireTrigger
from ats.service.handlers import advance
from ats.service.queries import local_time
from ats.service.selection import CANDIDACY, CANDIDATE, ROLE, SEAT, _lock_session

log = structlog.get_logger("ats")
IMPORT = cast(Table, SelectionImportRow.__table__)

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
COLUMNS = {
    "reference": ("reference", "ref", "referentie", "référence", "candidate", "kandidaat"),
    "email": ("email", "e-mail", "mail", "courriel"),
    "score": ("score", "punten", "points", "note"),
    "passed": ("passed", "geslaagd", "réussi", "reussi", "result", "resultaat", "résultat"),
    "remark": ("remark", "opmerking", "remarque", "comment", "commentaar", "commentaire"),
}
YES = ("yes", "y", "true", "1", "ja", "j", "oui", "o", "pass", "geslaagd", "réussi")
NO = ("no", "n", "false", "0", "nee", "non", "fail", "niet geslaagd", "échoué", "echoue")


class ResultsRefused(InvalidInput):
    """The file has problems; ``problems`` lists each as (line, message); nothing was applied."""

    def __init__(self, session: str, problems: list[tuple[int | None, str]]) -> None:
        self.problems = problems
        listed = "".join(
            f"\n  line {line}: {message}" if line else f"\n  {message}"
            for line, message in problems[:200]
        )
        more = f"\n  ... and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(
            f"results for session {session} not applied: {len(problems)} problem(s){listed}{more}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "problems": [{"line": line, "message": message} for line, message in self.problems],
        }


@dataclass
class ImportReport:
    session: str
    sha256: str
    rows: int = 0
    applied: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    already_imported: bool = False
    without_result: int = 0


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or else Windows-1252; anything else is refused."""
    if b"\x00" in data:
        raise InvalidInput("the file is not text (it holds NUL bytes); save it as CSV")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the file is neither UTF-8 nor Windows-1252 (byte {exc.start}); save it as CSV UTF-8"
        ) from None


def read_rows(text: str) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """The header's mapping to our columns, and each data row with its line number."""
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the file is empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: not valid CSV ({exc})") from None
    names: dict[str, str] = {}
    for index, raw in enumerate(header):
        title = raw.strip().lower()
        column = next((c for c, aliases in COLUMNS.items() if title in aliases), None)
        if column is None:
            raise InvalidInput(
                f"line 1: unknown column {raw.strip()!r} "
                f"(expected reference or email, score, passed, remark)"
            )
        if column in names.values():
            raise InvalidInput(f"line 1: column {column} appears twice")
        names[str(index)] = column
    present = set(names.values())
    if not {"reference", "email"} & present or not {"score", "passed"} <= present:
        raise InvalidInput(
            "line 1: the header needs reference (or email), score and passed "
            f"(found: {', '.join(h.strip() for h in header)})"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines, e.g. at the end of an Excel export
            line = reader.line_num
            if len(values) > len(header):
                rows.append(
                    (line, {"__error__": f"{len(values)} fields, the header has {len(header)}"})
                )
                continue
            rows.append(
                (line, {names[str(i)]: v.strip() for i, v in enumerate(values) if str(i) in names})
            )
            if len(rows) > MAX_ROWS:
                raise InvalidInput(f"more than {MAX_ROWS} rows; split the file")
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV ({exc})") from None
    return names, rows


def import_results(app: App, code: str, data: bytes, *, actor: str) -> ImportReport:
    """Check every row of ``data``; apply them all in one transaction, or raise ResultsRefused."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"the file is {len(data)} bytes; at most {MAX_BYTES} are accepted")
    digest = hashlib.sha256(data).hexdigest()
    report = ImportReport(code, digest)
    _, rows = read_rows(decode(data))
    report.rows = len(rows)
    imports = IMPORT
    with app.unit_of_work() as uow:
        session_row = _lock_session(uow, code)
        if session_row["status"] != "planned":
            raise InvalidInput(f"session {code} is {session_row['status']}; it has no results")
        if session_row["starts_at"] > app.clock.now():
            raise InvalidInput(
                f"session {code} has not taken place yet "
                f"(it starts {local_time(session_row['starts_at'], app.settings.zone)})"
            )
        if uow.connection.execute(
            select(imports.c.id).where(
                imports.c.session_id == session_row["id"], imports.c.sha256 == digest
            )
        ).first():
            report.already_imported = True
            return report
        seats = {
            s["candidacy_id"]: s
            for s in uow.connection.execute(
                select(SEAT).where(
                    SEAT.c.session_id == session_row["id"], SEAT.c.status == "booked"
                )
            ).mappings()
        }
        people = uow.connection.execute(
            select(
                CANDIDACY.c.id,
                CANDIDACY.c.state,
                CANDIDACY.c.facts,
                CANDIDACY.c.workflow_version_id,
                CANDIDATE.c.key,
                CANDIDATE.c.email,
            )
            .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
            .where(CANDIDACY.c.id.in_(list(seats)))
        ).mappings()
        by_reference = {p["key"].lower(): p for p in people}
        by_email = {p["email"].lower(): p for p in by_reference.values()}
        problems: list[tuple[int | None, str]] = []
        seen: dict[int, int] = {}
        plan: list[dict[str, Any]] = []
        for line, row in rows:
            if "__error__" in row:
                problems.append((line, row["__error__"]))
                continue
            who = row.get("reference") or row.get("email") or ""
            person = by_reference.get(row.get("reference", "").lower()) or by_email.get(
                row.get("email", "").lower()
            )
            if person is None:
                known = _known_elsewhere(uow, row)
                problems.append(
                    (
                        line,
                        f"{who or '(no reference or email)'}: "
                        + ("not seated in this session" if known else "unknown candidate"),
                    )
                )
                continue
            candidacy = person["id"]
            if candidacy in seen:
                problems.append(
                    (line, f"{who}: a second row for them (first on line {seen[candidacy]})")
                )
                continue
            seen[candidacy] = line
            definition = app.registry.definition(uow, person["workflow_version_id"])
            spec = definition.selection
            assert spec is not None  # noqa: S101 - seated only through a selection spec
            fact = definition.facts[spec.score]
            try:
                score = int(fact.parse(row.get("score", "")))
            except InvalidInput as exc:
                problems.append(
                    (line, f"{who}: score: {exc.message.removeprefix(f'fact {spec.score}: ')}")
                )
                continue
            passed_text = row.get("passed", "").strip().lower()
            if passed_text not in YES + NO:
                problems.append((line, f"{who}: passed {row.get('passed', '')!r}: say yes or no"))
                continue
            passed = passed_text in YES
            remark = row.get("remark", "")
            if len(remark) > 500 or any(c in remark for c in "\r\n"):
                problems.append((line, f"{who}: remark: one line, at most 500 characters"))
                continue
            seat = seats[candidacy]
            if seat["result_at"] is not None:
                if seat["score"] == score and seat["passed"] == passed:
                    report.unchanged += 1
                else:
                    problems.append(
                        (line, f"{who}: has a result already (score {seat['score']}); it stands")
                    )
                continue
            trigger = spec.passed if passed else spec.failed
            verdict = decide(
                definition,
                person["state"],
                {**(person["facts"] or {}), spec.score: score},
                trigger,
                ROLE,
                reason=f"Selor session {code}",
            )
            if not verdict.allowed:
                problems.append(
                    (
                        line,
                        f"{who}: passed={'yes' if passed else 'no'} with score {score} is refused: "
                        + "; ".join(verdict.reasons),
                    )
                )
                continue
            plan.append(
                {
                    "candidacy": candidacy,
                    "trigger": trigger,
                    "score": score,
                    "passed": passed,
                    "remark": remark or None,
                    "fact": spec.score,
                    "seat": seat["id"],
                    "line": line,
                }
            )
        if problems:
            raise ResultsRefused(code, problems)
        now = app.clock.now()
        for item in plan:
            event = advance(
                uow,
                app,
                FireTrigger(
                    candidacy_id=item["candidacy"],
                    trigger=item["trigger"],
                    actor=actor,
                    role=ROLE,
                    reason=f"Selor session {code}"
                    + (f": {item['remark']}" if item["remark"] else ""),
                    facts={item["fact"]: item["score"]},
                ),
            )
            uow.connection.execute(
                update(SEAT)
                .where(SEAT.c.id == item["seat"])
                .values(
                    score=item["score"], passed=item["passed"], remark=item["remark"], result_at=now
                )
            )
            report.applied.append(
                {"line": item["line"], "candidacy": item["candidacy"], "to": event.dst}
            )
        uow.connection.execute(
            insert(imports).values(
                session_id=session_row["id"],
                sha256=digest,
                rows=len(rows),
                imported_at=now,
                imported_by=actor,
            )
        )
        report.without_result = sum(
            1 for c, s in seats.items() if s["result_at"] is None and c not in seen
        )
        uow.commit()
    log.info(
        "session.results", session=code, applied=len(report.applied), unchanged=report.unchanged
    )
    return report


def _known_elsewhere(uow: Any, row: dict[str, str]) -> bool:
    reference, email = row.get("reference", "").lower(), row.get("email", "").lower()
    if not reference and not email:
        return False
    query = select(CANDIDATE.c.id)
    query = (
        query.where(lowered(CANDIDATE.c.key) == reference)
        if reference
        else query.where(lowered(CANDIDATE.c.email) == email)
    )
    return uow.connection.execute(query).first() is not None
