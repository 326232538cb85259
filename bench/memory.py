"""Memory per candidacy: the engine's Python heap stays flat however many candidacies it drives.

Design invariant 3: one ``transitions`` machine per workflow version, built once;
a candidacy row is driven through it without being registered as a model. To
show it, candidacies are inserted in bulk (Core ``executemany``, not through
``apply``), then each is driven through one transition (``screen``) by
``ats.service.handlers.advance``, ``BATCH`` per transaction. The engine is
warmed first (machine built, statements compiled), so what the heap keeps after
a step is what that step's candidacies cost. The rows themselves live in
SQLite, outside the Python heap.

Two instruments, because ``tracemalloc`` slows the engine about fourfold:

- over every candidacy of a step, the live blocks of Python's allocator
  (``sys.getallocatedblocks``, after a full collection): an object kept per
  candidacy would add at least one block each;
- over the step's last ``WINDOW`` candidacies, ``tracemalloc``: the bytes they
  leave behind (retained) and the most the heap held above its start (peak).

Floor (what the invariant avoids), measured on a few candidacies in the same
run with both instruments: a ``transitions.Machine`` per candidacy, and one
shared machine with each candidacy registered by ``add_model``; both keep
their models alive.

Targets: flat. Blocks kept per extra candidacy from the smallest to the largest
step under 0.01 (one object per hundred candidacies; ``SLACK_BLOCKS`` allowed
for bounded caches), and the bytes a candidacy leaves behind at every step
under 1% of what ``add_model`` keeps. What does stay is a few bounded caches
(the sqlite3 module's list of cursors, pruned every 200; cached strings and
compiled statements), the same whatever the count.
"""

from __future__ import annotations

import gc
import os
import secrets
import sys
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.harness import Result, Run, databases, make_app, stopwatch

VACANCY = "DVZ-SEC-W1"
FACTS = {"diploma_level": "secondary"}
BATCH = 1_000
# Candidacies driven at each step, per size (the scale is the full one), the
# traced window at the end of each step, and the models the floor registers.
STEPS: dict[str, tuple[int, ...]] = {
    "smoke": (400, 800, 1_600),
    "default": (10_000, 30_000, 100_000),
    "full": (10_000, 100_000, 1_000_000),
}
WINDOW = {"smoke": 400, "default": 3_000, "full": 10_000}
WARM_UP = {"smoke": 300, "default": 2_000, "full": 2_000}
FLOOR_MODELS = {"smoke": 100, "default": 1_000, "full": 2_000}
MAX_BLOCKS_GROWTH = 0.01  # allocator blocks per extra candidacy that still count as flat
# Blocks that come and go whatever the count: the sqlite3 module's list of cursors per
# connection (pruned every 200), caches of strings and compiled statements.
SLACK_BLOCKS = 1_000
MAX_SHARE_OF_FLOOR = 0.01  # bytes left per candidacy, as a share of what add_model keeps


@dataclass(frozen=True)
class Step:
    driven: int
    blocks: int  # allocator blocks still live after the whole step
    rss: int  # resident set growth over the step (bytes; SQLite's page cache included)
    retained: int  # bytes the traced window left behind
    peak: int  # the most the heap held above the window's start
    window: int
    rate: float  # transitions per second, untraced


def run(run: Run, workdir: Path) -> None:
    with databases(run, workdir) as found:
        label, url = found[0]  # SQLite: the embedded default; the heap is all ours
        app = make_app(url, workdir)
        try:
            _measure(run, app, label, run.size)
        finally:
            app.close()


def _measure(run: Run, app: Any, label: str, size: str) -> None:
    steps, window, floor_models = STEPS[size], WINDOW[size], FLOOR_MODELS[size]
    say = run.progress
    say(
        f"memory on {label}: drive {', '.join(f'{n:,}' for n in steps)} candidacies "
        f"(the last {window:,} of each traced)"
    )
    machine, shared = _floors(app, floor_models)
    say(
        f"  floor on {floor_models:,} models: a Machine per candidacy keeps "
        f"{machine[0]:,.0f} B ({machine[1]:,.0f} blocks) each; a shared machine with "
        f"add_model {shared[0]:,.0f} B ({shared[1]:,.0f} blocks) each"
    )
    warm_up = seed_candidacies(app, vacancy=VACANCY, count=WARM_UP[size], state="applied", tag="w")
    _drive(app, warm_up)

    measured: list[Step] = []
    for n in steps:
        ids = seed_candidacies(app, vacancy=VACANCY, count=n, state="applied", tag=f"m{n}")
        step = _step(app, ids, min(window, n))
        measured.append(step)
        say(
            f"  {n:,} driven at {step.rate:,.0f}/s: {step.blocks:+,} blocks "
            f"({step.blocks / n:+.4f} each), RSS {step.rss / 1024:+,.0f} KiB; last {step.window:,}: "
            f"retained {step.retained:,} B ({step.retained / step.window:.1f} each), "
            f"peak {step.peak:,} B"
        )
        run.add(
            Result(
                "memory",
                f"bytes kept per candidacy, {n:,} driven",
                step.retained / step.window,
                "B/candidacy",
                floor=shared[0],
                target=f"<= {MAX_SHARE_OF_FLOOR:.0%} of floor",
                met=step.retained / step.window <= MAX_SHARE_OF_FLOOR * shared[0],
                notes=(
                    f"tracemalloc over the last {step.window:,}: retained {step.retained:,} B, "
                    f"peak {step.peak:,} B ({step.peak / step.window:.1f} B each, bounded by the "
                    f"batch of {BATCH:,}); over all {n:,}: {step.blocks:+,} allocator blocks, "
                    f"RSS {step.rss / 1024:+,.0f} KiB; {step.rate:,.0f} transitions/s untraced; "
                    f"floor: one shared machine with add_model (a Machine per candidacy keeps "
                    f"{machine[0]:,.0f} B)"
                ),
            )
        )
    small, large = measured[0], measured[-1]
    growth = (large.blocks - small.blocks) / (large.driven - small.driven)
    run.add(
        Result(
            "memory",
            f"blocks kept per 1,000 extra candidacies, {small.driven:,} to {large.driven:,}",
            growth * 1_000,
            "blocks",
            floor=shared[1] * 1_000,
            target=f"flat: <= {MAX_BLOCKS_GROWTH * 1_000:.0f}, +{SLACK_BLOCKS:,} for bounded caches",
            met=large.blocks - small.blocks
            <= MAX_BLOCKS_GROWTH * (large.driven - small.driven) + SLACK_BLOCKS,
            notes=(
                f"live allocator blocks after each step: {small.blocks:+,} at {small.driven:,}, "
                f"{large.blocks:+,} at {large.driven:,}; floor: blocks add_model keeps for 1,000 models"
            ),
        )
    )
    run.add(
        Result(
            "memory",
            "avoided: a Machine per candidacy",
            machine[0],
            "B/candidacy",
            floor=shared[0],
            notes=(
                f"measured on {floor_models:,} models ({machine[1]:,.0f} blocks each); "
                f"floor: shared machine with add_model ({shared[1]:,.0f} blocks each)"
            ),
        )
    )


def _rss() -> int:
    """Resident set size in bytes (Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _step(app: Any, ids: range, window: int) -> Step:
    """Drive ``ids``: all of them counted in allocator blocks, the last ``window`` traced."""
    untraced = range(ids.start, ids.stop - window)
    gc.collect()
    blocks, rss = sys.getallocatedblocks(), _rss()
    with stopwatch() as elapsed:
        _drive(app, untraced)
    seconds = elapsed()
    retained, peak, traced_seconds = _traced(lambda: _drive(app, range(untraced.stop, ids.stop)))
    gc.collect()
    rate = len(untraced) / seconds if untraced else window / traced_seconds
    return Step(
        driven=len(ids),
        blocks=sys.getallocatedblocks() - blocks,
        rss=_rss() - rss,
        retained=retained,
        peak=peak,
        window=window,
        rate=rate,
    )


def _traced(work: Callable[[], object]) -> tuple[int, int, float]:
    """(bytes still held after ``work``, peak bytes during it, seconds): the traced heap only."""
    gc.collect()
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        with stopwatch() as elapsed:
            work()
        seconds = elapsed()
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current - start, peak - start, seconds


def _drive(app: Any, ids: range) -> None:
    """Each candidacy through ``screen`` by the engine's own path, ``BATCH`` per transaction."""
    from ats.service.commands import FireTrigger
    from ats.service.handlers import advance

    for start in range(ids.start, ids.stop, BATCH):
        with app.unit_of_work() as uow:
            for candidacy_id in range(start, min(start + BATCH, ids.stop)):
                advance(
                    uow,
                    app,
                    FireTrigger(
                        candidacy_id=candidacy_id,
                        trigger="screen",
                        actor="recruiter:bench",
                        role="recruiter",
                        facts=FACTS,
                    ),
                )
            uow.commit()


def _floors(app: Any, count: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(bytes, blocks) kept per candidacy by a Machine each, and by add_model on a shared one."""
    from transitions import Machine

    with app.unit_of_work() as uow:
        version_id = uow.workflows.current("security-escort")["id"]
        definition = app.registry.definition(uow, version_id)
    options = {
        "states": list(definition.states),
        "transitions": [
            {"trigger": spec.trigger, "source": list(spec.sources), "dest": spec.dest}
            for spec in definition.transitions
        ],
        "initial": definition.initial_state,
        "auto_transitions": False,
    }

    class Model:
        """A candidacy as the avoided designs hold it: an object its machine knows."""

        def __init__(self, number: int) -> None:
            self.id = number

    kept: list[Any] = []

    def machine_each() -> None:
        for number in range(count):
            model = Model(number)
            Machine(model=model, **options)
            model.screen()  # type: ignore[attr-defined]
            kept.append(model)

    shared = Machine(model=None, **options)

    def add_model() -> None:
        for number in range(count):
            model = Model(number)
            shared.add_model(model)
            model.screen()  # type: ignore[attr-defined]

    found = []
    for work in (machine_each, add_model):
        gc.collect()
        blocks = sys.getallocatedblocks()
        kept_bytes = _traced(work)[0]
        gc.collect()
        found.append((kept_bytes / count, (sys.getallocatedblocks() - blocks) / count))
        kept.clear()
    return found[0], found[1]


def seed_candidacies(
    app: Any,
    *,
    vacancy: str,
    count: int,
    state: str,
    tag: str,
    version: int = 1,
    facts: Mapping[str, object] | None = None,
    entered_at: datetime | None = None,
    chunk: int = 10_000,
) -> range:
    """``count`` candidacies (each of a new candidate) in bulk, not through ``apply``: their ids.

    Core ``executemany`` with explicit ids, so the ids come back as a range
    without a round trip per row. Only the rows: no audit entries, timers or
    mail (a transition appends its entry at ``version + 1`` all the same).
    """
    from ats.adapters.db.store import CANDIDACY, CANDIDATE
    from ats.domain.audit import GENESIS

    now = entered_at or app.clock.now()
    with app.unit_of_work() as uow:
        connection = uow.connection
        found = uow.catalogue.vacancy(vacancy)
        if found is None:
            raise LookupError(f"no vacancy {vacancy}")
        workflow_id = uow.workflows.current(found["workflow"])["id"]
        first_candidate = connection.execute(select(func.max(CANDIDATE.c.id))).scalar() or 0
        first = connection.execute(select(func.max(CANDIDACY.c.id))).scalar() or 0
        for start in range(0, count, chunk):
            numbers = range(start, min(start + chunk, count))
            connection.execute(
                insert(CANDIDATE),
                [
                    {
                        "id": first_candidate + 1 + i,
                        "key": secrets.token_hex(8),
                        "name": f"Bench {tag} {i}",
                        "email": f"bench.{tag}.{i}@example.org",
                        "language": ("nl", "fr", "de", "en")[i % 4],
                        "phone": None,
                        "birth_date": None,
                        "created_at": now,
                    }
                    for i in numbers
                ],
            )
            connection.execute(
                insert(CANDIDACY),
                [
                    {
                        "id": first + 1 + i,
                        "candidate_id": first_candidate + 1 + i,
                        "vacancy": vacancy,
                        "workflow_version_id": workflow_id,
                        "state": state,
                        "version": version,
                        "facts": dict(facts or {}),
                        "audit_head": GENESIS,
                        "created_at": now,
                        "state_entered_at": now,
                    }
                    for i in numbers
                ],
            )
        uow.commit()
    return range(first + 1, first + 1 + count)
