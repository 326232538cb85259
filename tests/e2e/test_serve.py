"""`ats serve` answers real HTTP: a token made with the CLI opens the API."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from tests.conftest import REPO
from tests.e2e.conftest import Ats


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_served_api_answers_with_a_cli_token(cli: Ats) -> None:
    cli("user", "create", "els", "--name", "Els Claes", "--role", "recruiter", "--service", "DVZ")
    token = cli.json("token", "create", "els")["token"]
    port = _free_port()
    env = {**os.environ, "ATS_DATABASE_URL": cli.database_url, "ATS_HOME": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "ats.cli.main", "serve", "--no-worker", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 30
        while True:  # wait for the process to listen (start-up, not simulated time)
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # the process is still starting; no simulated time here
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server did not come up"
        anonymous = httpx.get(f"{base}/vacancies", timeout=5)
        assert anonymous.status_code == 401
        vacancies = httpx.get(
            f"{base}/vacancies", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert vacancies.status_code == 200
        assert {v["service"] for v in vacancies.json()} == {"DVZ"}
        assert httpx.get(f"{base}/openapi.json", timeout=5).json()["info"]["title"] == "ATS"
    finally:
        server.terminate()
        server.communicate(timeout=30)


def _home_beside_repo(tmp_path: Path) -> Path:
    """A home of its own (var/ for the database, mail and logins) with the repo's data files."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("config", "workflows", "notifications"):
        (home / name).symlink_to(REPO / name)
    return home


def _serve_until_listening(
    env: dict[str, str], home: Path, port: int
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `ats serve --demo`; return the process and what it printed before it listened."""
    server = subprocess.Popen(
        [sys.executable, "-m", "ats.cli.main", "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    printed = []
    for line in server.stdout:  # the URL is printed once seeding is done, just before listening
        printed.append(line.rstrip("\n"))
        if line.startswith("ATS on http://"):
            break
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return server, printed
        except httpx.TransportError:
            time.sleep(0.05)  # the process is still starting; no simulated time here
        assert server.poll() is None, "\n".join(printed)
        assert time.monotonic() < deadline, "the server did not come up"


def test_serve_demo_seeds_an_empty_database_prints_logins_and_serves_the_board(
    tmp_path: Path,
) -> None:
    """What `make run` does: seed once, print the URL and a login per role, serve the pages."""
    home = _home_beside_repo(tmp_path)
    env = {
        **os.environ,
        "ATS_HOME": str(home),
        "ATS_DATABASE_URL": f"sqlite:///{home / 'var' / 'ats.sqlite3'}",
    }
    env.pop("ATS_CONFIG", None)
    subprocess.run(
        [sys.executable, "-m", "ats.cli.main", "init"],
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    server, printed = _serve_until_listening(env, home, port)
    try:
        logins = {
            line.split()[0]: line.split()[1]
            for line in printed
            if line and line.split()[0] in {"recruiter.dvz", "auditor", "admin", "taskforce"}
        }
        assert set(logins) == {"recruiter.dvz", "auditor", "admin", "taskforce"}, printed
        assert f"ATS on http://127.0.0.1:{port}/" in printed[-1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
            form = browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            signed_in = browser.post(
                "/login",
                data={
                    "csrf": csrf.group(1),
                    "username": "recruiter.dvz",
                    "password": logins["recruiter.dvz"],
                    "next": "/vacancies/DVZ-SEC-W1",
                },
                follow_redirects=True,
            )
            assert signed_in.status_code == 200
            assert signed_in.url.path == "/vacancies/DVZ-SEC-W1"
            assert signed_in.text.count('class="card"') > 5, "the seeded board has candidacies"
    finally:
        server.terminate()
        server.communicate(timeout=30)
    again, printed_again = _serve_until_listening(env, home, _free_port())
    try:
        assert not any("applications in" in line for line in printed_again), "seeded only once"
        assert any(line.startswith("recruiter.dvz") for line in printed_again)
    finally:
        again.terminate()
        again.communicate(timeout=30)
