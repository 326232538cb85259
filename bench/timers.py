"""Timer sweeps on PostgreSQL: the cost follows the number of timers due, not the number armed.

``armed`` candidacies wait in ``selor_test`` with their timeout timer armed
(seeded with ``COPY``, not through the engine), due one second apart in a
shuffled order, so that at a chosen simulated "now" exactly 0.1%, 1% or 10% of
them are due. For each share and for 1, 2 and 4 worker processes, the due
timers are fired by ``Worker.run_once(mail=False)`` (what ``ats worker --once
--now ... --no-mail`` runs: the sweeper claims each timer with ``FOR UPDATE SKIP
LOCKED`` and fires ``selor_no_show`` as an ordinary transition, one transaction
per timer). Worker processes are started once, warmed up, and started on each
sweep together; the time is from that start to the last worker's end.

Floor: the same worker processes running a raw ``psycopg`` loop that claims the
same timers with ``FOR UPDATE SKIP LOCKED LIMIT 1`` and does the engine's writes
by hand (lock the candidacy, settle the timer, compare-and-set the candidacy,
append the hashed audit entry, cancel its other timers, queue the mail), one
commit per timer: what a sweep costs without the engine.

After every sweep the database is checked: every due timer is settled once
(one audit entry per due candidacy, on distinct candidacies), no timer that was
not due moved; then the fired candidacies and their timers are put back, so
every sweep sees the same number armed. Also shown: a sweep that finds nothing
due among all those armed, and the time per fired timer at 0.1% and 10% due
against that at 1% (flat when the cost follows the number due).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import queue
import random
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from bench.harness import REPO, START, Result, Run, make_app, postgres_schema

VACANCY = "DVZ-SEC-W1"
STATE, TRIGGER, STATE_VERSION = "selor_test", "selor_no_show", 3
BASE = START + timedelta(days=30)  # the first due time; the others follow a second apart
# (share of the armed timers due, worker processes, with the raw floor): the 1%
# with 1, 2 and 4 workers against the floor; 0.1% and 10% to show the cost per timer.
PLAN = ((0.01, (1, 2, 4), True), (0.001, (1, 4), False), (0.1, (1, 4), False))
# Armed timers per size (the scale is the full one).
ARMED = {"smoke": 400, "default": 100_000, "full": 1_000_000}
VACUUM_FROM = 1_000  # timers re-armed after a sweep from which the tables are vacuumed
REPEAT_BELOW = 500  # judged sweeps of fewer timers run three times (median kept): too short once
START_DELAY = 0.05  # seconds between handing a sweep to the workers and its start
MAX_COST_SPREAD = 2.0  # time per fired timer at 0.1% and 10% due, against 1%, at most
MIN_JUDGED = 50  # timers a sweep must fire for its cost per timer to be judged (smoke fires fewer)


@dataclass(frozen=True)
class Sweep:
    kind: str  # engine | floor
    share: float
    workers: int
    due: int
    seconds: float
    fired: int
    by_worker: tuple[int, ...]
    cpu: float  # seconds of CPU the worker processes spent, all together
    problems: tuple[str, ...]

    @property
    def rate(self) -> float:
        return self.due / self.seconds


def run(run: Run, workdir: Path) -> None:
    if not run.postgres_url:
        run.progress(
            "timers: skipped, no PostgreSQL server given (--postgres URL or "
            "ATS_BENCH_DATABASE_URL); SKIP LOCKED sweeps by several workers need one"
        )
        return
    armed = ARMED[run.size]
    with postgres_schema(run.postgres_url) as url:
        app = make_app(url, workdir)
        try:
            run.progress(f"timers on postgresql: seeding {armed:,} candidacies with armed timers")
            _seed(app, url, armed)
        finally:
            app.close()
        ledger = _Ledger(url)
        try:
            ledger.vacuum()
            with _WorkerPool(url, workdir, max(max(plan[1]) for plan in PLAN)) as pool:
                _measure(run, pool, ledger, armed)
        finally:
            ledger.close()


def _measure(run: Run, pool: _WorkerPool, ledger: _Ledger, armed: int) -> None:
    say = run.progress
    idle = min(pool.sweep("engine", BASE - timedelta(seconds=1), 1)[0] for _ in range(3))
    warm_up = BASE + timedelta(seconds=max(1, round(armed * 0.001)) - 0.5)
    for kind in ("floor", "engine"):  # caches of both processes and the server, then undone
        pool.sweep(kind, warm_up, len(pool.processes))
        ledger.rearm()
    say(f"  nothing due among {armed:,} armed: a sweep takes {idle * 1000:.1f} ms")
    sweeps: list[Sweep] = []  # one per plan, kind and worker count (the median of its tries)
    checked: list[Sweep] = []  # every sweep run, each checked in the database
    for share, worker_counts, with_floor in PLAN:
        due = max(1, round(armed * share))
        now = BASE + timedelta(seconds=due - 0.5)
        for workers in worker_counts:
            for kind in ("floor", "engine") if with_floor else ("engine",):
                tries = []
                for _ in range(3 if MIN_JUDGED <= due < REPEAT_BELOW else 1):
                    tries.append(_sweep(pool, ledger, kind, share, now, due, workers))
                    ledger.rearm()
                checked += tries
                tries.sort(key=lambda sweep: sweep.seconds)
                problems = tuple(p for attempt in tries for p in attempt.problems)
                sweep = replace(tries[len(tries) // 2], problems=problems)
                sweeps.append(sweep)
                by_worker, seconds, cpu = sweep.by_worker, sweep.seconds, sweep.cpu
                say(
                    f"  {kind:6} {share:5.1%} due ({due:,}), {workers} worker(s): "
                    f"{seconds:.2f} s, {sweep.rate:,.0f} timers/s, per worker "
                    f"{'/'.join(str(n) for n in by_worker)}, worker CPU {cpu / due * 1000:.2f} ms/timer"
                    + (f" (median of {len(tries)})" if len(tries) > 1 else "")
                    + (f"  PROBLEMS: {'; '.join(problems)}" if problems else "")
                )
    floors = {(s.share, s.workers): s for s in sweeps if s.kind == "floor"}
    engine = [s for s in sweeps if s.kind == "engine"]
    for sweep in engine:
        floor = floors.get((sweep.share, sweep.workers))
        if floor is None:
            continue  # shown below, as the cost per timer against the 1% sweep
        run.add(
            Result(
                "timers",
                f"{sweep.share:.1%} of {armed:,} due, {sweep.workers} worker(s)",
                sweep.rate,
                "timers/s",
                floor=floor.rate,
                target="every due timer once",
                met=not sweep.problems,
                notes=(
                    f"{sweep.due:,} fired in {sweep.seconds:.2f} s, per worker "
                    f"{'/'.join(str(n) for n in sweep.by_worker)}, worker CPU "
                    f"{sweep.cpu / sweep.due * 1000:.2f} ms/timer; floor: raw psycopg SKIP LOCKED "
                    f"claim + the same writes, {floor.seconds:.2f} s, worker CPU "
                    f"{floor.cpu / floor.due * 1000:.2f} ms/timer"
                    + (f"; PROBLEMS: {'; '.join(sweep.problems)}" if sweep.problems else "")
                ),
            )
        )
    # Per fired timer, beyond what a sweep costs when nothing is due (two heartbeats, one claim).
    by_plan = {(s.share, s.workers): s for s in engine}
    for sweep in engine:
        reference = by_plan[0.01, sweep.workers]
        if sweep is reference:
            continue
        per_timer = max(sweep.seconds - idle, 0.0) / sweep.due
        per_timer_reference = max(reference.seconds - idle, 0.0) / reference.due
        judged = min(sweep.due, reference.due) >= MIN_JUDGED
        run.add(
            Result(
                "timers",
                f"{sweep.share:.1%} of {armed:,} due, {sweep.workers} worker(s): time per timer",
                per_timer * 1e6,
                "µs/timer",
                floor=per_timer_reference * 1e6,
                target=f"<= {MAX_COST_SPREAD:.0f}x the 1% sweep's (the floor)",
                met=(per_timer <= MAX_COST_SPREAD * per_timer_reference and not sweep.problems)
                if judged
                else None,
                notes=(
                    f"{sweep.due:,} fired in {sweep.seconds:.2f} s ({sweep.rate:,.0f}/s), "
                    f"against {reference.due:,} in {reference.seconds:.2f} s at 1%; a sweep with "
                    f"nothing due ({idle * 1000:.1f} ms) taken off both"
                    + ("" if judged else f"; not judged: under {MIN_JUDGED} timers")
                ),
            )
        )
    run.add(
        Result(
            "timers",
            f"sweep with nothing due among {armed:,} armed",
            idle * 1000,
            "ms",
            notes="two heartbeats and one claim through the (status, due_at) index",
        )
    )
    broken = [s for s in checked if s.problems]
    run.add(
        Result(
            "timers",
            "sweeps where every due timer fired exactly once",
            len(checked) - len(broken),
            "sweeps",
            target=f"all {len(checked)}",
            met=not broken,
            notes="; ".join(f"{s.kind} {s.share:.1%}x{s.workers}: {s.problems}" for s in broken),
        )
    )


def _sweep(
    pool: _WorkerPool,
    ledger: _Ledger,
    kind: str,
    share: float,
    now: datetime,
    due: int,
    workers: int,
) -> Sweep:
    """One sweep by ``workers`` processes at ``now``, and what the database says of it."""
    before = ledger.audit_max()
    seconds, by_worker, cpu = pool.sweep(kind, now, workers)
    problems = ledger.check(now, due, before)
    if sum(by_worker) != due:
        problems += (f"the workers reported {sum(by_worker)} settled for {due} due",)
    return Sweep(kind, share, workers, due, seconds, sum(by_worker), by_worker, cpu, problems)


# -- the worker processes ----------------------------------------------------------------------


class _WorkerPool:
    """Worker processes started once, each on its own app and connections.

    Forked where the platform can (forking skips re-importing everything; the
    children open connections of their own and never touch the parent's);
    spawned elsewhere.
    """

    def __init__(self, url: str, workdir: Path, size: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.results: Any = context.Queue()
        self.commands: list[Any] = [context.Queue() for _ in range(size)]
        self.processes = [
            context.Process(
                target=_worker_main,
                args=(url, str(workdir), f"bench-{i + 1}", self.commands[i], self.results),
                name=f"bench-timer-worker-{i + 1}",
                daemon=True,
            )
            for i in range(size)
        ]

    def __enter__(self) -> _WorkerPool:
        for process in self.processes:
            process.start()
        for _ in self.processes:
            self._result(timeout=120)  # each says it is ready
        return self

    def __exit__(self, *_exc: object) -> None:
        for commands in self.commands:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    def _result(self, *, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.results.get(timeout=1.0)
                break
            except queue.Empty:
                dead = [p.name for p in self.processes if p.exitcode is not None]
                if dead:
                    raise RuntimeError(f"timer worker process(es) died: {dead}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("a timer worker process did not answer in time") from None
        if isinstance(answer, str):
            raise RuntimeError(f"a timer worker process failed: {answer}")
        return answer

    def sweep(self, kind: str, now: datetime, workers: int) -> tuple[float, tuple[int, ...], float]:
        """Seconds from the common start to the last worker's end, what each settled, CPU used."""
        start = time.monotonic() + START_DELAY
        for commands in self.commands[:workers]:
            commands.put((kind, now.isoformat(), start))
        answers = [self._result(timeout=3_600) for _ in range(workers)]
        return (
            max(end for _, end, _ in answers) - start,
            tuple(n for n, _, _ in answers),
            sum(cpu for _, _, cpu in answers),
        )


def _worker_main(url: str, workdir: str, name: str, commands: Any, results: Any) -> None:
    """A worker process: its own app and connection; sweeps when told, reports (fired, end)."""
    try:
        logging.disable(logging.CRITICAL)
        from ats.bootstrap import bootstrap
        from ats.clock import ManualClock
        from ats.logs import configure_logging
        from ats.settings import Settings
        from ats.worker import Worker

        configure_logging(level="error", fmt="console")
        clock = ManualClock(START)
        app = bootstrap(
            Settings(home=REPO, database_url=url, mail_dir=str(Path(workdir) / "mail")),
            clock=clock,
        )
        worker = Worker(app, name=name)
        with app.unit_of_work() as uow:  # warm: a pooled connection, every definition parsed
            for row in uow.workflows.all():
                app.registry.machine(app.registry.definition(uow, row["id"]))
        floor = _RawSweeper(url, name)
    except Exception as exc:  # the parent waits for an answer: give it the reason
        results.put(f"{name}: {exc!r}")
        return
    results.put((0, 0.0, 0.0))
    try:
        while (command := commands.get()) is not None:
            kind, now_text, start = command
            now = datetime.fromisoformat(now_text)
            clock.set(now)
            time.sleep(max(0.0, start - time.monotonic()))
            cpu = time.process_time()
            fired = worker.run_once(mail=False)[0].settled if kind == "engine" else floor.sweep(now)
            results.put((fired, time.monotonic(), time.process_time() - cpu))
    except Exception as exc:
        results.put(f"{name}: {exc!r}")
    finally:
        floor.close()
        app.close()


class _RawSweeper:
    """The floor: a raw SKIP LOCKED claim loop doing the engine's writes by hand."""

    def __init__(self, url: str, name: str) -> None:
        self.connection = _connect(url)
        self.name = name

    def sweep(self, now: datetime) -> int:
        fired = 0
        cursor = self.connection.cursor()
        while True:
            cursor.execute(
                "SELECT id, candidacy_id, state_version FROM timers "
                "WHERE status = 'armed' AND due_at <= %s ORDER BY due_at, id LIMIT 1 "
                "FOR UPDATE SKIP LOCKED",
                (now,),
            )
            timer = cursor.fetchone()
            if timer is None:
                self.connection.rollback()
                return fired
            timer_id, candidacy_id, version = timer
            cursor.execute(
                "SELECT c.version, c.audit_head, c.workflow_version_id, k.key "
                "FROM candidacies c JOIN candidates k ON k.id = c.candidate_id "
                "WHERE c.id = %s FOR UPDATE SKIP LOCKED",
                (candidacy_id,),
            )
            found = cursor.fetchone()
            if found is None or found[0] != version:
                self.connection.rollback()
                continue
            _, head, workflow_id, key = found
            cursor.execute(
                "UPDATE timers SET status = 'done', settled_at = %s, settled_by = %s, "
                "outcome = %s WHERE id = %s AND status = 'armed'",
                (now, self.name, f"fired {TRIGGER}", timer_id),
            )
            payload = json.dumps(
                {
                    "candidacy_id": candidacy_id,
                    "seq": version + 1,
                    "candidate_key": key,
                    "trigger": TRIGGER,
                    "src": STATE,
                    "dst": "rejected",
                    "prev_hash": head,
                    "occurred_at": now.isoformat(),
                },
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
            digest = hashlib.sha256(head.encode() + payload).hexdigest()
            cursor.execute(
                "UPDATE candidacies SET state = 'rejected', version = %s, state_entered_at = %s, "
                "audit_head = %s WHERE id = %s AND version = %s",
                (version + 1, now, digest, candidacy_id, version),
            )
            cursor.execute(
                "INSERT INTO audit_entries (candidacy_id, seq, candidate_key, vacancy, actor, "
                "role, trigger, src, dst, reason, facts, workflow_version_id, workflow_hash, "
                "occurred_at, request_id, process, prev_hash, hash) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    candidacy_id,
                    version + 1,
                    key,
                    VACANCY,
                    "system:timer",
                    "system",
                    TRIGGER,
                    STATE,
                    "rejected",
                    f"timeout of state {STATE}",
                    "{}",
                    workflow_id,
                    "0" * 64,
                    now,
                    f"timer:{timer_id}",
                    self.name,
                    head,
                    digest,
                ),
            )
            cursor.execute(
                "UPDATE timers SET status = 'cancelled', settled_at = %s, settled_by = %s "
                "WHERE candidacy_id = %s AND status = 'armed'",
                (now, self.name, candidacy_id),
            )
            cursor.execute(
                "INSERT INTO outbox_messages (message_id, candidacy_id, audit_seq, template, "
                "context, status, attempts, next_attempt_at, created_at) "
                "VALUES (%s, %s, %s, %s, %s, 'pending', 0, %s, %s)",
                (
                    f"<floor.{candidacy_id}.{version + 1}.{secrets.token_hex(4)}@bench>",
                    candidacy_id,
                    version + 1,
                    "no_show",
                    json.dumps({"state": "rejected"}),
                    now,
                    now,
                ),
            )
            self.connection.commit()
            fired += 1

    def close(self) -> None:
        self.connection.close()


# -- seeding, checking, re-arming ------------------------------------------------------------


def _connect(url: str) -> Any:
    """A psycopg connection to the bench schema named in a SQLAlchemy URL."""
    import psycopg

    parsed = make_url(url)
    options = parsed.query.get("options")
    return psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        options=options if isinstance(options, str) else None,
    )


def _seed(app: Any, url: str, armed: int) -> None:
    """``armed`` candidacies in ``selor_test``, each with its timeout armed; COPY, in one go."""
    with app.unit_of_work() as uow:
        found = uow.catalogue.vacancy(VACANCY)
        workflow_id = uow.workflows.current(found["workflow"])["id"]
    entered = BASE - timedelta(days=30)
    order = list(range(armed))
    random.Random(9).shuffle(order)  # due order unrelated to ids, as in life  # noqa: S311
    facts = json.dumps({"diploma_level": "secondary"})
    with _connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY candidates (id, key, name, email, language, created_at) FROM STDIN"
        ) as copy:
            for i in range(1, armed + 1):
                copy.write_row(
                    (i, secrets.token_hex(8), f"Bench {i}", f"bench.{i}@example.org", "nl", entered)
                )
        with cursor.copy(
            "COPY candidacies (id, candidate_id, vacancy, workflow_version_id, state, version, "
            "facts, audit_head, created_at, state_entered_at) FROM STDIN"
        ) as copy:
            for i in range(1, armed + 1):
                copy.write_row(
                    (i, i, VACANCY, workflow_id, STATE, STATE_VERSION, facts, "0" * 64, entered,
                     entered)
                )  # fmt: skip
        with cursor.copy(
            "COPY timers (id, candidacy_id, state, state_version, kind, trigger, due_at, status, "
            "armed_at) FROM STDIN"
        ) as copy:
            for i in range(1, armed + 1):
                due = BASE + timedelta(seconds=order[i - 1])
                copy.write_row(
                    (i, i, STATE, STATE_VERSION, "timeout", TRIGGER, due, "armed", entered)
                )
        for table in ("candidates", "candidacies", "timers"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {armed})")
        connection.commit()


class _Ledger:
    """The bench's own connection: checks each sweep in the database and undoes it afterwards."""

    def __init__(self, url: str) -> None:
        self.connection = _connect(url)
        self.connection.autocommit = True  # VACUUM runs outside a transaction

    def close(self) -> None:
        self.connection.close()

    def _one(self, sql: str, *params: object) -> int:
        row = self.connection.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def audit_max(self) -> int:
        return self._one("SELECT coalesce(max(id), 0) FROM audit_entries")

    def check(self, now: datetime, due: int, audit_before: int) -> tuple[str, ...]:
        """What went wrong in the sweep just run: nothing when every due timer fired once."""
        problems: list[str] = []
        done = self._one("SELECT count(*) FROM timers WHERE status = 'done' AND due_at <= %s", now)
        moved = self._one("SELECT count(*) FROM timers WHERE status <> 'armed'")
        early = self._one(
            "SELECT count(*) FROM timers WHERE status <> 'armed' AND due_at > %s", now
        )
        entries, candidacies, due_ones = self.connection.execute(
            "SELECT count(*), count(DISTINCT a.candidacy_id), "
            "count(*) FILTER (WHERE t.due_at <= %s) FROM audit_entries a "
            "JOIN timers t ON t.candidacy_id = a.candidacy_id WHERE a.id > %s",
            (now, audit_before),
        ).fetchone() or (0, 0, 0)
        if done != due:
            problems.append(f"{done} of {due} due timers done")
        if moved != due or early:
            problems.append(f"{moved} timers settled for {due} due ({early} not due)")
        if not entries == candidacies == due_ones == due:
            problems.append(
                f"{entries} audit entries on {candidacies} candidacies ({due_ones} due) "
                f"for {due} due"
            )
        return tuple(problems)

    def rearm(self) -> None:
        """Put the fired candidacies back in ``selor_test``, their timer armed at their version.

        After a large sweep, VACUUM too: the next sweep then starts on a table
        without dead index entries, as the first one did.
        """
        with self.connection.transaction():
            self.connection.execute(
                "UPDATE candidacies c SET state = %s FROM timers t "
                "WHERE t.candidacy_id = c.id AND t.status <> 'armed'",
                (STATE,),
            )
            moved = self.connection.execute(
                "UPDATE timers t SET status = 'armed', state_version = c.version, "
                "settled_at = NULL, settled_by = NULL, outcome = NULL FROM candidacies c "
                "WHERE c.id = t.candidacy_id AND t.status <> 'armed'"
            ).rowcount
        if moved >= VACUUM_FROM:
            self.vacuum()

    def vacuum(self) -> None:
        self.connection.execute("VACUUM (ANALYZE) timers, candidacies")
