"""`ats serve` answers real HTTP: a token made with the CLI opens the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

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
