"""Run the benchmarks and print a summary table with each figure's ratio to its floor.

    python -m bench [--size smoke|default|full] [--only NAME ...] [--postgres URL]

PostgreSQL runs where a server is given (``--postgres`` or ``ATS_BENCH_DATABASE_URL``
or ``ATS_TEST_DATABASE_URL``); figures land in ``var/bench/latest.json`` too.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
from pathlib import Path

from bench.harness import REPO, SIZES, Run, machine, save, table

BENCHES = ("transitions", "memory", "timers", "mail", "web", "imports")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("ATS_BENCH_DATABASE_URL") or os.environ.get("ATS_TEST_DATABASE_URL"),
        help="PostgreSQL server URL (a throw-away schema is made on it)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "latest.json")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the engine's logs would drown the figures
    os.environ.setdefault("ATS_LOG_LEVEL", "error")
    from ats.logs import configure_logging

    configure_logging(level="error", fmt="console")
    run = Run(size=args.size, postgres_url=args.postgres)
    info = machine()
    print(f"ATS benchmarks, size {args.size}, {info['cpus']} CPUs, Python {info['python']}")
    if not args.postgres:
        print("  (no PostgreSQL server given: SQLite only)")
    failures = 0
    for name in args.only or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n== {name}")
        with tempfile.TemporaryDirectory(prefix=f"ats-bench-{name}-") as workdir:
            try:
                module.run(run, Path(workdir))
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                failures += 1
                print(f"  {name} FAILED: {exc!r}", file=sys.stderr)
    print("\n" + table(run.results))
    save(run, args.out)
    print(f"\nsaved to {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
