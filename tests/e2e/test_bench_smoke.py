"""The benchmarks still run: `python -m bench --size smoke`, SQLite only, as a subprocess.

Figures are not checked here (timing belongs in bench/, not in tests); only that
every benchmark runs to its end, reports its figures against a floor, and
writes the summary file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_benchmark_runs_at_smoke_size_and_reports_ratios(tmp_path: Path) -> None:
    """Each benchmark adds figures; the transition figures carry a floor and a target."""
    out = tmp_path / "latest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "smoke", "--postgres", "", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text(encoding="utf-8"))
    benches = {r["bench"] for r in document["results"]}
    assert {"transitions", "memory", "mail", "web", "imports"} <= benches, benches
    transitions = [r for r in document["results"] if r["bench"] == "transitions"]
    assert transitions
    assert all(r["floor"] and r["ratio"] and r["target"] for r in transitions)
    assert "ratio" in done.stdout
    assert "transitions" in done.stdout
