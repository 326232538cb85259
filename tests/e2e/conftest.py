"""Run the installed `ats` command as a subprocess against a fresh database of each kind.

Every test gets the ``database_url`` fixture of ``tests/conftest.py`` (SQLite always,
PostgreSQL when ATS_TEST_DATABASE_URL is set) and talks to it only through the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, fresh_database

_SCRIPT = shutil.which("ats", path=str(Path(sys.executable).parent))
COMMAND: tuple[str, ...] = (_SCRIPT,) if _SCRIPT else (sys.executable, "-m", "ats.cli.main")


@dataclass(frozen=True)
class Result:
    """One finished `ats` run."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def log_events(self) -> list[dict[str, Any]]:
        """The JSON log lines on stderr (ATS_LOG_FORMAT=json); other lines are skipped."""
        return [
            json.loads(line) for line in self.stderr.splitlines() if line.lstrip().startswith("{")
        ]


class Ats:
    """`ats ...` in a subprocess, with ATS_HOME and ATS_DATABASE_URL set for one database."""

    def __init__(self, database_url: str, home: Path = REPO) -> None:
        self.database_url = database_url
        self.home = home
        self.env = {
            **os.environ,
            "ATS_DATABASE_URL": database_url,
            "ATS_HOME": str(home),
            "ATS_LOG_FORMAT": "json",
        }

    def __call__(self, *args: str, expect: int | None = 0, stdin: str | None = None) -> Result:
        """Run ``ats *args`` (``stdin`` on its standard input, e.g. a password); check the
        exit code unless ``expect`` is None."""
        completed = subprocess.run(
            [*COMMAND, *args],
            input=stdin,
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )
        result = Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)
        if expect is not None:
            assert result.code == expect, (
                f"`ats {' '.join(args)}` exited {result.code}, expected {expect}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        """Run ``ats *args --json``, expect success, and decode stdout."""
        return self(*args, "--json").json()

    def with_home(self, home: Path) -> Ats:
        return Ats(self.database_url, home)


@pytest.fixture
def bare_cli(database_url: str) -> Ats:
    """The CLI on an empty database (nothing initialised yet)."""
    return Ats(database_url)


@pytest.fixture
def cli(bare_cli: Ats) -> Ats:
    """The CLI on a database where `ats init` has loaded the drive and the workflows."""
    bare_cli("init")
    return bare_cli


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per kind for a whole module (a served site lives as long as the module)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("served-db")) as url:
        yield url


@contextmanager
def served(cli: Ats, port: int, log_path: Path) -> Iterator[str]:
    """`ats serve` (web, API and worker) on ``port`` with ``cli``'s settings, its output in
    ``log_path``; the base URL once it answers, and the process stopped afterwards."""
    import httpx2 as httpx

    base = f"http://127.0.0.1:{port}"
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(port)],
            env=cli.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:  # wait for the process to listen (start-up, not simulated time)
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)  # still starting
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("`ats serve` did not come up:\n" + log_path.read_text())
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


# -- the browser (modules that use it import tests.e2e.test_browser, which skips them when
# Debian's chromium or Playwright is missing) ---------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright, for one module."""
    from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, sync_api

    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, site: Any) -> Iterator[Callable[[], Any]]:
    """Fresh browser contexts (no cookies: one per person) on the module's served ``site``,
    locale en-GB, 1280x900."""
    contexts = []

    def make() -> Any:
        context = browser.new_context(
            base_url=site.base, viewport={"width": 1280, "height": 900}, locale="en-GB"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
