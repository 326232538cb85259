"""Transition throughput: the whole engine path against the raw driver doing the same writes.

The engine path per transition: load the candidacy, check role and guard, fire
it through the cached machine, compare-and-set state and version, append the
hashed audit entry, cancel the timers of the state left and arm those of the
state entered, and queue the status mail. The floor is ``sqlite3`` / ``psycopg``
executing the same statements (counted in both, to show they match) with the
same commits: one per transition, then ``bulk_batch`` per transaction.

Targets (issue 9): one commit per transition at least 50% of the floor; in
bulk at least 10,000 transitions/s on SQLite and at least 30% of the floor.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url

from bench.harness import Result, Run, databases, make_app, stopwatch

VACANCY = "DVZ-SEC-W1"
FACTS = {"diploma_level": "secondary"}


def run(run: Run, workdir: Path) -> None:
    n, batch = run.sizes()["transitions"], run.sizes()["bulk_batch"]
    with databases(run, workdir) as found:
        for label, url in found:
            app = make_app(url, workdir)
            try:
                _measure(run, app, label, url, n, batch)
            finally:
                app.close()


def _apply(app: Any, count: int, tag: str) -> list[int]:
    from ats.service.commands import Apply

    return [
        int(
            app.handle(
                Apply(
                    vacancy=VACANCY,
                    name=f"Bench {tag} {i}",
                    email=f"bench.{tag}.{i}@example.org",
                    language="nl",
                )
            )
        )
        for i in range(count)
    ]


def _command(candidacy_id: int) -> Any:
    from ats.service.commands import FireTrigger

    return FireTrigger(
        candidacy_id=candidacy_id,
        trigger="screen",
        actor="recruiter:bench",
        role="recruiter",
        facts=FACTS,
    )


@contextmanager
def _counting(app: Any) -> Iterator[list[int]]:
    """Count the statements the engine sends (to compare with the floor's)."""
    count = [0]

    def before(*_args: object) -> None:
        count[0] += 1

    event.listen(app.engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(app.engine, "before_cursor_execute", before)


def _measure(run: Run, app: Any, label: str, url: str, n: int, batch: int) -> None:
    from ats.service.handlers import advance

    say = run.progress
    say(f"transitions on {label}: {n} one per commit, {n} in batches of {batch}")
    single_ids, bulk_ids = _apply(app, n, "single"), _apply(app, n, "bulk")
    app.clock.set(app.clock.now() + timedelta(hours=1))

    with _counting(app) as statements, stopwatch() as elapsed:
        for candidacy_id in single_ids:
            app.handle(_command(candidacy_id))
    engine_single = n / elapsed()
    per_transition = statements[0] / n

    with _counting(app) as bulk_statements, stopwatch() as elapsed:
        for start in range(0, n, batch):
            with app.unit_of_work() as uow:
                for candidacy_id in bulk_ids[start : start + batch]:
                    advance(uow, app, _command(candidacy_id))
                uow.commit()
    engine_bulk = n / elapsed()

    floor = _Floor(url, app)
    floor_ids = _apply(app, 2 * n, "floor")
    floor_single = floor.transitions(floor_ids[:n], per_commit=1)
    floor_bulk = floor.transitions(floor_ids[n:], per_commit=batch)
    floor.close()
    note = (
        f"engine {per_transition:.1f} statements per transition "
        f"(bulk {bulk_statements[0] / n:.1f}), floor {floor.statements_per_transition:.1f}"
    )
    say(f"  {note}")
    run.add(
        Result(
            "transitions",
            f"{label}: one commit per transition",
            engine_single,
            "transitions/s",
            floor=floor_single,
            target=">= 50% of floor",
            met=engine_single >= 0.5 * floor_single,
            notes=note,
        )
    )
    bulk_ok = engine_bulk >= 0.3 * floor_bulk
    target = ">= 30% of floor"
    if label == "sqlite":
        bulk_ok = bulk_ok and engine_bulk >= 10_000
        target += " and >= 10,000/s"
    run.add(
        Result(
            "transitions",
            f"{label}: {batch} per transaction",
            engine_bulk,
            "transitions/s",
            floor=floor_bulk,
            target=target,
            met=bulk_ok,
            notes=note,
        )
    )


class _Floor:
    """The raw driver doing the engine's writes for one transition, by hand, no ORM, no checks.

    Per transition: read the candidacy and its candidate's key, compare-and-set
    the candidacy, insert the audit entry (its SHA-256 computed the same way),
    cancel the state's timers (``screened`` arms none), queue the mail.
    """

    def __init__(self, url: str, app: Any) -> None:
        parsed = make_url(url)
        self.postgres = parsed.get_backend_name() == "postgresql"
        if self.postgres:
            import psycopg

            options = parsed.query.get("options")
            self.connection: Any = psycopg.connect(
                host=parsed.host or "127.0.0.1",
                port=parsed.port or 5432,
                user=parsed.username,
                dbname=parsed.database,
                options=options if isinstance(options, str) else None,
            )
        else:
            self.connection = sqlite3.connect(parsed.database or "", isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("PRAGMA foreign_keys=ON")  # as the engine does
            self.connection.execute(f"PRAGMA busy_timeout={app.settings.sqlite_busy_timeout_ms}")
        self.now = app.clock.now()
        self.statements = 0
        self.transitions_done = 0

    @property
    def statements_per_transition(self) -> float:
        return self.statements / max(self.transitions_done, 1)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    def _execute(self, cursor: Any, statement: str, params: tuple[Any, ...]) -> Any:
        self.statements += 1
        return cursor.execute(self._sql(statement), params)

    def _time(self, moment: Any) -> Any:
        return moment if self.postgres else moment.replace(tzinfo=None).isoformat(sep=" ")

    def transitions(self, ids: list[int], *, per_commit: int) -> float:
        """Transitions per second, committing every ``per_commit``."""
        cursor = self.connection.cursor()
        begin: Callable[[], None] = (
            (lambda: None) if self.postgres else (lambda: cursor.execute("BEGIN"))
        )
        with stopwatch() as elapsed:
            for start in range(0, len(ids), per_commit):
                begin()
                for candidacy_id in ids[start : start + per_commit]:
                    self._one(cursor, candidacy_id)
                self.connection.commit() if self.postgres else cursor.execute("COMMIT")
        return len(ids) / elapsed()

    def _one(self, cursor: Any, candidacy_id: int) -> None:
        self.transitions_done += 1
        row = self._execute(
            cursor,
            "SELECT c.version, c.audit_head, c.workflow_version_id, c.facts, k.key, c.vacancy "
            "FROM candidacies c JOIN candidates k ON k.id = c.candidate_id WHERE c.id = ?",
            (candidacy_id,),
        ).fetchone()
        version, head, workflow_id, _facts, key, vacancy = row
        facts = json.dumps(FACTS)
        at = self._time(self.now)
        changed = self._execute(
            cursor,
            "UPDATE candidacies SET state = ?, version = ?, facts = ?, workflow_version_id = ?, "
            "state_entered_at = ?, audit_head = ? WHERE id = ? AND version = ?",
            ("screened", version + 1, facts, workflow_id, at, "0" * 64, candidacy_id, version),
        )
        if changed.rowcount != 1:
            raise RuntimeError(f"the floor lost its compare-and-set on candidacy {candidacy_id}")
        payload = json.dumps(
            {
                "candidacy_id": candidacy_id,
                "seq": version + 1,
                "candidate_key": key,
                "trigger": "screen",
                "src": "applied",
                "dst": "screened",
                "facts": FACTS,
                "prev_hash": head,
                "occurred_at": self.now.isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        digest = hashlib.sha256(head.encode() + payload).hexdigest()
        self._execute(
            cursor,
            "INSERT INTO audit_entries (candidacy_id, seq, candidate_key, vacancy, actor, role, "
            "trigger, src, dst, reason, facts, workflow_version_id, workflow_hash, occurred_at, "
            "request_id, process, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                candidacy_id,
                version + 1,
                key,
                vacancy,
                "recruiter:bench",
                "recruiter",
                "screen",
                "applied",
                "screened",
                None,
                facts,
                workflow_id,
                "0" * 64,
                at,
                None,
                "bench",
                head,
                digest,
            ),
        )
        self._execute(
            cursor,
            "UPDATE timers SET status = 'cancelled', settled_at = ?, settled_by = ? "
            "WHERE candidacy_id = ? AND status = 'armed'",
            (at, "recruiter:bench", candidacy_id),
        )
        self._execute(
            cursor,
            "INSERT INTO outbox_messages (message_id, candidacy_id, audit_seq, template, context, "
            "status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"<floor.{candidacy_id}.{version + 1}@bench>",
                candidacy_id,
                version + 1,
                "screened",
                json.dumps({"state": "screened"}),
                "pending",
                0,
                at,
                at,
            ),
        )

    def close(self) -> None:
        self.connection.close()
