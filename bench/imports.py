"""Imports: a 5,000-row Selor results file, validation plus application, against the raw driver.

A session with ``ROWS`` seats is seeded in bulk: candidacies in ``selor_test``
(invited, with the invitation's facts and their timeout armed), one booked
seat each. The session is written directly, not through ``create_session``,
because a planned session has at most 1,000 seats while a results file may
hold 5,000 rows (``session_results.MAX_ROWS``): the import checks the file
against the seats, not the seat limit. The clock then stands after the
session, and a results file is built as Excel saves it (reference, score,
passed, remark; scores spread over 0..100, so both pass and fail occur).

Timed:

- validation alone: the same file with its last row naming an unknown
  candidate, refused after every row was read and checked (nothing written);
- ``import_results``: every row checked, then every candidacy's pass or fail
  transition (audit entry, sealed reason, timers, mail) and its seat's result,
  in one transaction.

Floor: the raw driver (``sqlite3`` / ``psycopg``) doing the same writes for a
second, identical session, in one transaction: per row read the candidacy,
compare-and-set it, append the hashed audit entry and the text behind its
sealed reason, cancel its timers, queue the mail, record the seat's result.
No parsing, no checks. Run on each database the bench has.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, make_url, select

from bench.harness import START, Result, Run, databases, make_app, stopwatch
from bench.memory import seed_candidacies

VACANCY = "DVZ-SEC-W1"
MODULE = "selor_c"
ACTOR = "selor:bench"
SESSION_AT = START + timedelta(days=5)  # Saturday 3 July 2021, 10:00 in Brussels
PLACE = "Selor, Bd. Bischoffsheim 15, Brussel"
# Rows in the results file per size (5,000 is the most a file may hold).
ROWS = {"smoke": 200, "default": 5_000, "full": 5_000}


def run(run: Run, workdir: Path) -> None:
    rows = ROWS[run.size]
    with databases(run, workdir) as found:
        for label, url in found:
            app = make_app(url, workdir)
            try:
                _measure(run, app, label, url, rows)
            finally:
                app.close()


def _measure(run: Run, app: Any, label: str, url: str, rows: int) -> None:
    from ats.service.session_results import ResultsRefused, import_results

    say = run.progress
    say(f"imports on {label}: a {rows:,}-row results file")
    engine_session = _seat(app, "BENCH-ENGINE", rows)
    floor_session = _seat(app, "BENCH-FLOOR", rows)
    app.clock.set(SESSION_AT + timedelta(days=1))
    data = _results_file(app, engine_session)
    refused = _results_file(app, engine_session, unknown_last=True)

    with stopwatch() as elapsed:
        try:
            import_results(app, "BENCH-ENGINE", refused, actor=ACTOR)
        except ResultsRefused as refusal:
            problems = len(refusal.problems)
        else:
            raise RuntimeError("a file naming an unknown candidate was applied")
    validation = elapsed()
    with stopwatch() as elapsed:
        report = import_results(app, "BENCH-ENGINE", data, actor=ACTOR)
    seconds = elapsed()
    applied = len(report.applied)
    passed = sum(1 for item in report.applied if item["to"] != "rejected")
    say(
        f"  validation alone {validation:.2f} s ({problems} problem found); "
        f"validate and apply {seconds:.2f} s: {applied:,} applied, {passed:,} passed"
    )
    floor = _Floor(url, app)
    try:
        floor_seconds = floor.apply(floor_session)
    finally:
        floor.close()
    say(f"  floor (raw driver, same writes, one transaction): {floor_seconds:.2f} s")
    run.add(
        Result(
            "imports",
            f"{label}: {rows:,}-row results file, validate and apply",
            rows / seconds,
            "rows/s",
            floor=rows / floor_seconds,
            target="every row applied",
            met=applied == rows,
            notes=(
                f"{seconds:.2f} s in all, of which validation about {validation:.2f} s "
                f"({validation / seconds:.0%}); {passed:,} passed, {applied - passed:,} failed; "
                f"{len(data):,} bytes; floor: raw driver, the same writes per row in one "
                f"transaction, {floor_seconds:.2f} s"
            ),
        )
    )
    run.add(
        Result(
            "imports",
            f"{label}: {rows:,}-row results file, validation alone",
            rows / validation,
            "rows/s",
            notes="the same file with its last row unknown: read, every row checked, refused",
        )
    )


def _seat(app: Any, code: str, count: int) -> dict[str, Any]:
    """A session of ``count`` seats, each taken by a fresh candidacy invited to it."""
    from ats.adapters.db.store import CANDIDACY, TIMER
    from ats.service.selection import SEAT, SESSION, SESSION_VACANCY

    facts = {
        "diploma_level": "secondary",
        "selor_session_at": SESSION_AT.isoformat(),
        "selor_session_place": PLACE,
    }
    invited = START - timedelta(days=1)
    ids = seed_candidacies(
        app,
        vacancy=VACANCY,
        count=count,
        state="selor_test",
        tag=code.lower(),
        version=3,
        facts=facts,
        entered_at=invited,
    )
    with app.unit_of_work() as uow:
        definition = app.registry.definition(
            uow, uow.workflows.current(uow.catalogue.vacancy(VACANCY)["workflow"])["id"]
        )
        timeout = definition.states["selor_test"].timeout
        due = app.calendar.add(invited, timeout.after)
        candidates = dict(
            uow.connection.execute(
                select(CANDIDACY.c.id, CANDIDACY.c.candidate_id).where(
                    CANDIDACY.c.id.between(ids.start, ids.stop - 1)
                )
            ).all()
        )
        session_id = uow.connection.execute(
            insert(SESSION)
            .values(
                code=code,
                module=MODULE,
                kind="computer_test",
                starts_at=SESSION_AT,
                place=PLACE,
                seats=count,
                status="planned",
                created_at=invited,
                created_by=ACTOR,
            )
            .returning(SESSION.c.id)
        ).scalar_one()
        uow.connection.execute(
            insert(SESSION_VACANCY).values(session_id=session_id, vacancy=VACANCY)
        )
        day = SESSION_AT.astimezone(app.settings.zone).date()
        uow.connection.execute(
            insert(SEAT),
            [
                {
                    "session_id": session_id,
                    "candidacy_id": candidacy_id,
                    "candidate_id": candidates[candidacy_id],
                    "seat_no": number,
                    "day": day,
                    "status": "booked",
                    "booked_at": invited,
                }
                for number, candidacy_id in enumerate(ids, start=1)
            ],
        )
        uow.connection.execute(
            insert(TIMER),
            [
                {
                    "candidacy_id": candidacy_id,
                    "state": "selor_test",
                    "state_version": 3,
                    "kind": "timeout",
                    "trigger": timeout.trigger,
                    "template": None,
                    "due_at": due,
                    "status": "armed",
                    "armed_at": invited,
                }
                for candidacy_id in ids
            ],
        )
        uow.commit()
    return {"id": session_id, "code": code, "candidacies": ids}


def _scores(count: int) -> list[int]:
    return [(i * 37) % 101 for i in range(count)]


def _results_file(app: Any, session: dict[str, Any], *, unknown_last: bool = False) -> bytes:
    """The session's results as Excel writes a CSV: header, CRLF, one row per seat."""
    from ats.adapters.db.store import CANDIDACY, CANDIDATE

    ids = session["candidacies"]
    with app.engine.connect() as connection:
        keys = dict(
            connection.execute(
                select(CANDIDACY.c.id, CANDIDATE.c.key)
                .join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
                .where(CANDIDACY.c.id.between(ids.start, ids.stop - 1))
            ).all()
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("reference", "score", "passed", "remark"))
    for number, (candidacy_id, score) in enumerate(zip(ids, _scores(len(ids)), strict=True)):
        reference = keys[candidacy_id]
        if unknown_last and number == len(ids) - 1:
            reference = "0123456789abcdef"  # candidate keys are 16 random hex digits
        writer.writerow((reference, score, "yes" if score >= 60 else "no", f"seat {number + 1}"))
    return buffer.getvalue().encode("utf-8")


class _Floor:
    """The raw driver doing an import's writes by hand: no parsing, no checks, one transaction."""

    def __init__(self, url: str, app: Any) -> None:
        parsed = make_url(url)
        self.postgres = parsed.get_backend_name() == "postgresql"
        if self.postgres:
            from bench.timers import _connect

            self.connection: Any = _connect(url)
        else:
            self.connection = sqlite3.connect(parsed.database or "", isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self.connection.execute(f"PRAGMA busy_timeout={app.settings.sqlite_busy_timeout_ms}")
        self.now = app.clock.now()

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def _time(self, moment: Any) -> Any:
        return moment if self.postgres else moment.replace(tzinfo=None).isoformat(sep=" ")

    def apply(self, session: dict[str, Any]) -> float:
        """Seconds to write every seat's result of ``session`` and its transition."""
        cursor = self.connection.cursor()
        ids = session["candidacies"]
        reason = f"Selor session {session['code']}"
        at = self._time(self.now)
        with stopwatch() as elapsed:
            if not self.postgres:
                cursor.execute("BEGIN")
            for number, (candidacy_id, score) in enumerate(
                zip(ids, _scores(len(ids)), strict=True)
            ):
                passed = score >= 60
                trigger, dst = (
                    ("pass_selor", "awaiting_interview") if passed else ("fail_selor", "rejected")
                )
                cursor.execute(
                    self._sql(
                        "SELECT c.version, c.audit_head, c.workflow_version_id, c.facts, k.key, "
                        "c.candidate_id FROM candidacies c JOIN candidates k "
                        "ON k.id = c.candidate_id WHERE c.id = ?"
                    ),
                    (candidacy_id,),
                )
                version, head, workflow_id, facts, key, candidate_id = cursor.fetchone()
                known = facts if isinstance(facts, dict) else json.loads(facts)
                merged = json.dumps({**known, "selor_score": score})
                salt = secrets.token_hex(16)
                sealed = "sealed:" + hashlib.sha256((salt + reason).encode()).hexdigest()
                payload = json.dumps(
                    {
                        "candidacy_id": candidacy_id,
                        "seq": version + 1,
                        "candidate_key": key,
                        "trigger": trigger,
                        "src": "selor_test",
                        "dst": dst,
                        "reason": sealed,
                        "facts": {"selor_score": score},
                        "prev_hash": head,
                        "occurred_at": self.now.isoformat(),
                    },
                    sort_keys=True,
                    separators=(",", ":"),
                ).encode()
                digest = hashlib.sha256(head.encode() + payload).hexdigest()
                cursor.execute(
                    self._sql(
                        "UPDATE candidacies SET state = ?, version = ?, facts = ?, "
                        "state_entered_at = ?, audit_head = ? WHERE id = ? AND version = ?"
                    ),
                    (dst, version + 1, merged, at, digest, candidacy_id, version),
                )
                cursor.execute(
                    self._sql(
                        "INSERT INTO audit_entries (candidacy_id, seq, candidate_key, vacancy, "
                        "actor, role, trigger, src, dst, reason, facts, workflow_version_id, "
                        "workflow_hash, occurred_at, request_id, process, prev_hash, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
                    ),
                    (
                        candidacy_id, version + 1, key, VACANCY, ACTOR, "selor", trigger,
                        "selor_test", dst, sealed, json.dumps({"selor_score": score}),
                        workflow_id, "0" * 64, at, None, "bench", head, digest,
                    ),
                )  # fmt: skip
                entry_id = cursor.fetchone()[0]
                cursor.execute(
                    self._sql(
                        "INSERT INTO audit_texts (entry_id, candidate_id, salt, reason, facts) "
                        "VALUES (?, ?, ?, ?, ?)"
                    ),
                    (entry_id, candidate_id, salt, reason, "{}"),
                )
                cursor.execute(
                    self._sql(
                        "UPDATE timers SET status = 'cancelled', settled_at = ?, settled_by = ?, "
                        "outcome = 'state left' WHERE candidacy_id = ? AND status = 'armed'"
                    ),
                    (at, ACTOR, candidacy_id),
                )
                template = "selor_passed" if passed else "rejected"
                cursor.execute(
                    self._sql(
                        "INSERT INTO outbox_messages (message_id, candidacy_id, audit_seq, "
                        "template, context, status, attempts, next_attempt_at, created_at) "
                        "VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
                    ),
                    (
                        f"<floor.{candidacy_id}.{version + 1}.{template}@bench>",
                        candidacy_id, version + 1, template,
                        json.dumps({"state": dst, "reason": reason, "at": self.now.isoformat()}),
                        at, at,
                    ),
                )  # fmt: skip
                cursor.execute(
                    self._sql(
                        "UPDATE selection_seats SET score = ?, passed = ?, remark = ?, "
                        "result_at = ? WHERE session_id = ? AND candidacy_id = ? "
                        "AND status = 'booked'"
                    ),
                    (score, passed, f"seat {number + 1}", at, session["id"], candidacy_id),
                )
            if self.postgres:
                self.connection.commit()
            else:
                cursor.execute("COMMIT")
        return elapsed()

    def close(self) -> None:
        self.connection.close()
