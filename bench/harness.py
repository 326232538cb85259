"""What every benchmark shares: sizes, databases, timing, and the summary table.

Each benchmark measures our code and a *floor* in the same run (the raw driver
doing the same writes, rendering alone, ...) and reports the ratio, because
absolute times on shared machines drift; targets are stated as ratios or as
absolute figures where the issue sets them.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, make_url, text

if TYPE_CHECKING:
    from ats.service.app import App

REPO = Path(__file__).resolve().parents[1]
START = datetime(2021, 6, 28, 8, 0, tzinfo=UTC)  # the drive's first wave, as in the tests

# Sizes per run: smoke (seconds, used by the test suite), default (the whole run
# under 10 minutes on the project's 2-core machine), full (the scale).
SIZES: dict[str, dict[str, int]] = {
    "smoke": {
        "transitions": 200,
        "bulk_batch": 100,
        "memory_steps": 3,
        "memory_base": 200,
        "sweep_armed": 2_000,
        "mails": 20,
        "web_candidacies": 50,
        "web_requests": 20,
        "import_rows": 50,
    },
    "default": {
        "transitions": 2_000,
        "bulk_batch": 1_000,
        "memory_steps": 3,
        "memory_base": 10_000,
        "sweep_armed": 100_000,
        "mails": 300,
        "web_candidacies": 5_000,
        "web_requests": 200,
        "import_rows": 5_000,
    },
    "full": {
        "transitions": 20_000,
        "bulk_batch": 1_000,
        "memory_steps": 3,
        "memory_base": 10_000,
        "sweep_armed": 1_000_000,
        "mails": 2_000,
        "web_candidacies": 5_000,
        "web_requests": 1_000,
        "import_rows": 5_000,
    },
}


@dataclass
class Result:
    """One figure, its floor measured in the same run, and the target if the issue sets one."""

    bench: str
    name: str
    value: float
    unit: str
    floor: float | None = None  # the same work done by the floor, in the same unit
    target: str | None = None  # e.g. ">= 50% of floor", ">= 10000/s"
    met: bool | None = None
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.floor:
            return None
        return self.value / self.floor


@dataclass
class Run:
    size: str
    postgres_url: str | None
    results: list[Result] = field(default_factory=list)
    progress: Callable[[str], None] = print

    def add(self, result: Result) -> Result:
        self.results.append(result)
        ratio = f"  ({result.ratio:.0%} of floor {result.floor:,.1f})" if result.ratio else ""
        verdict = (
            "" if result.met is None else ("  target met" if result.met else "  TARGET MISSED")
        )
        self.progress(
            f"  {result.bench}: {result.name}: {result.value:,.1f} {result.unit}{ratio}{verdict}"
        )
        return result

    def sizes(self) -> dict[str, int]:
        return SIZES[self.size]


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Seconds since entering, readable inside and after the block."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A throw-away schema on the PostgreSQL server, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    url = make_url(base_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def databases(run: Run, workdir: Path) -> Iterator[list[tuple[str, str]]]:
    """(label, URL) of a fresh SQLite file and, when a server is given, a PostgreSQL schema."""
    with contextlib.ExitStack() as stack:
        found = [("sqlite", f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}")]
        if run.postgres_url:
            found.append(("postgresql", stack.enter_context(postgres_schema(run.postgres_url))))
        yield found


def make_app(url: str, workdir: Path, **settings: Any) -> App:
    """The application as `ats init` leaves it, on ``url``, with a clock the bench moves."""
    from ats.bootstrap import bootstrap
    from ats.clock import ManualClock
    from ats.service.setup import initialise
    from ats.settings import Settings

    app = bootstrap(
        Settings(home=REPO, database_url=url, mail_dir=str(workdir / "mail"), **settings),
        clock=ManualClock(START),
    )
    initialise(app)
    return app


def table(results: list[Result]) -> str:
    """The summary: one line per figure, with its ratio to the floor and the verdict."""
    header = ("benchmark", "figure", "value", "floor", "ratio", "target", "")
    rows = [header]
    for r in results:
        rows.append(
            (
                r.bench,
                r.name,
                f"{r.value:,.1f} {r.unit}",
                "" if r.floor is None else f"{r.floor:,.1f}",
                "" if r.ratio is None else f"{r.ratio:.0%}",
                r.target or "",
                "" if r.met is None else ("met" if r.met else "MISSED"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def save(run: Run, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "size": run.size,
        "machine": machine(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [{**asdict(r), "ratio": r.ratio} for r in run.results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
