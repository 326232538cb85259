"""Web latency: the board page and the candidacy list API of a vacancy with 5,000 candidacies.

A fresh SQLite database gets ``CANDIDACIES`` candidacies on one vacancy, spread
over its workflow's states (bulk inserts, not through ``apply``), with the
timeouts of the states that have one armed; a recruiter of the vacancy's
service, an API token and a browser session for them. Then ``ats serve
--no-worker`` (uvicorn) runs as a subprocess on a free loopback port, and a
load generator in this process (``http.client``, one keep-alive connection,
one request at a time) asks each route ``REQUESTS`` times after a few untimed
ones:

- the board page, ``GET /vacancies/{code}`` (signed in by the session cookie);
- the candidacy list API, ``GET /api/v1/candidacies?vacancy={code}`` (first
  page of 50, with the total; bearer token).

Floor: the same client on the same server asking ``GET /api/v1/health`` (the
same stack: routing, the thread pool, one database round trip), so the ratio
is what the route's own work costs. The static stylesheet's latency is noted
too. Figures: median and 95th percentile latency in milliseconds; requests per
second in the notes.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.harness import REPO, Result, Run, databases, make_app, stopwatch
from bench.memory import seed_candidacies

VACANCY = "DVZ-SEC-W1"
SERVICE = "DVZ"
# Candidacies on the vacancy and timed requests per route, per size.
CANDIDACIES = {"smoke": 500, "default": 5_000, "full": 5_000}
REQUESTS = {"smoke": 20, "default": 200, "full": 1_000}
WARM_UP = 5
# How the candidacies are spread over the states (shares of the total), and the facts
# each state's candidacies carry so the board's guards have something to read.
SPREAD = {
    "applied": 0.30,
    "screened": 0.20,
    "selor_test": 0.15,
    "awaiting_interview": 0.05,
    "interview": 0.05,
    "medical_check": 0.03,
    "selected": 0.02,
    "offer": 0.02,
    "hired": 0.03,
    "rejected": 0.12,
    "withdrawn": 0.03,
}
FACTS: dict[str, dict[str, object]] = {
    "screened": {"diploma_level": "secondary"},
    "selor_test": {"diploma_level": "secondary", "selor_session_place": "Selor, Brussel"},
    "awaiting_interview": {"diploma_level": "bachelor", "selor_score": 72},
    "interview": {"diploma_level": "bachelor", "selor_score": 72, "interview_place": "DVZ"},
    "medical_check": {"diploma_level": "master", "selor_score": 81, "interview_score": 15},
    "selected": {"selor_score": 81, "interview_score": 15, "medical_fit": True},
    "offer": {"selor_score": 81, "interview_score": 15, "medical_fit": True},
}
PASSWORD = "bench-password-long-enough"  # noqa: S105 - a throw-away user on a throw-away database


@dataclass(frozen=True)
class Latency:
    route: str
    times: tuple[float, ...]  # seconds, one per request

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000

    @property
    def per_second(self) -> float:
        return len(self.times) / sum(self.times)


def run(run: Run, workdir: Path) -> None:
    count, requests = CANDIDACIES[run.size], REQUESTS[run.size]
    with databases(run, workdir) as found:
        label, url = found[0]  # SQLite: one machine, one process, as `ats serve` ships
        run.progress(f"web on {label}: {count:,} candidacies on {VACANCY}, {requests} requests")
        app = make_app(url, workdir)
        try:
            _seed(app, count)
            token, cookie = _credentials(app, url, workdir)
        finally:
            app.close()
        with _server(url, workdir) as port:
            _measure(run, port, token, cookie, count, requests)


def _measure(run: Run, port: int, token: str, cookie: str, count: int, requests: int) -> None:
    say = run.progress
    routes = {
        "health": ("/api/v1/health", {}),
        "stylesheet": ("/static/ats.css", {}),
        "board": (f"/vacancies/{VACANCY}", {"Cookie": f"ats_session={cookie}"}),
        "list": (
            f"/api/v1/candidacies?vacancy={VACANCY}",
            {"Authorization": f"Bearer {token}", "Accept": "application/json"},
        ),
    }
    found: dict[str, Latency] = {}
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for name, (path, headers) in routes.items():
            found[name] = _ask(client, name, path, headers, requests)
            say(
                f"  {name:10} median {found[name].median_ms:7.2f} ms, "
                f"p95 {found[name].p95_ms:7.2f} ms, {found[name].per_second:7.1f} requests/s"
            )
    finally:
        client.close()
    floor, static = found["health"], found["stylesheet"]
    for name, title in (("board", "board page"), ("list", "candidacy list API")):
        latency = found[name]
        notes = (
            f"{count:,} candidacies on {VACANCY}; {requests} sequential requests on one "
            f"keep-alive connection, {latency.per_second:.1f} requests/s (health "
            f"{floor.per_second:.0f}/s, stylesheet {static.median_ms:.2f} ms median); floor: "
            f"GET /api/v1/health on the same server"
        )
        run.add(
            Result(
                "web",
                f"{title}: median",
                latency.median_ms,
                "ms",
                floor=floor.median_ms,
                notes=notes,
            )
        )
        run.add(
            Result("web", f"{title}: p95", latency.p95_ms, "ms", floor=floor.p95_ms, notes=notes)
        )


def _ask(
    client: http.client.HTTPConnection,
    name: str,
    path: str,
    headers: dict[str, str],
    requests: int,
) -> Latency:
    """Latency of ``requests`` GETs of ``path`` after ``WARM_UP`` untimed ones; 200 or raise."""
    times = []
    for i in range(WARM_UP + requests):
        with stopwatch() as elapsed:
            client.request("GET", path, headers=headers)
            response = client.getresponse()
            body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{name}: GET {path} answered {response.status}: {body[:300]!r}")
        if i >= WARM_UP:
            times.append(elapsed())
    return Latency(name, tuple(times))


def _seed(app: Any, count: int) -> None:
    """``count`` candidacies over the states of ``SPREAD``; timeouts armed where a state has one."""
    from ats.adapters.db.store import TIMER

    now = app.clock.now()
    with app.unit_of_work() as uow:
        found = uow.catalogue.vacancy(VACANCY)
        definition = app.registry.definition(uow, uow.workflows.current(found["workflow"])["id"])
    shares = list(SPREAD.items())
    left = count
    for index, (state, share) in enumerate(shares):
        size = left if index == len(shares) - 1 else round(count * share)
        left -= size
        if size <= 0:
            continue
        # Entered over the past weeks, so the cards' ages and deadlines differ.
        entered = now - timedelta(days=index * 3)
        ids = seed_candidacies(
            app,
            vacancy=VACANCY,
            count=size,
            state=state,
            tag=f"web-{state}",
            version=2 + index,
            facts=FACTS.get(state, {}),
            entered_at=entered,
        )
        timeout = definition.states[state].timeout
        if timeout is None:
            continue
        due = app.calendar.add(entered, timeout.after)
        with app.unit_of_work() as uow:
            uow.connection.execute(
                insert(TIMER),
                [
                    {
                        "candidacy_id": candidacy_id,
                        "state": state,
                        "state_version": 2 + index,
                        "kind": "timeout",
                        "trigger": timeout.trigger,
                        "template": None,
                        "due_at": due,
                        "status": "armed",
                        "armed_at": entered,
                    }
                    for candidacy_id in ids
                ],
            )
            uow.commit()


def _credentials(app: Any, url: str, workdir: Path) -> tuple[str, str]:
    """A recruiter of the vacancy's service: an API token, and a browser session cookie.

    The session is opened on the wall clock, which the server keeps (the bench's
    app runs on a clock set in 2021, where the session would be long expired).
    """
    from ats.bootstrap import bootstrap
    from ats.clock import SystemClock
    from ats.service.sessions import sign_in
    from ats.service.users import create_token, create_user
    from ats.settings import Settings

    create_user(
        app,
        username="bench",
        display_name="Bench Recruiter",
        roles=["recruiter"],
        services=[SERVICE],
        language="en",
        password=PASSWORD,
    )
    token, _ = create_token(app, "bench", "bench")
    live = bootstrap(
        Settings(home=REPO, database_url=url, mail_dir=str(workdir / "mail")),
        clock=SystemClock(),
    )
    try:
        cookie, _ = sign_in(live, "bench", PASSWORD, address="127.0.0.1")
    finally:
        live.close()
    return token, cookie


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(url: str, workdir: Path) -> Iterator[int]:
    """``ats serve --no-worker`` on a free loopback port until the block ends (or fails)."""
    port = _free_port()
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("ATS_")},
        "ATS_HOME": str(REPO),
        "ATS_PUBLIC_URL": f"http://127.0.0.1:{port}",  # plain HTTP: the cookie keeps its name
        "ATS_CONFIG": str(workdir / "no-config.toml"),  # defaults only, whatever is on disk
        "ATS_DATABASE_URL": url,
        "ATS_MAIL_DIR": str(workdir / "mail"),
        "ATS_LOG_LEVEL": "error",
    }
    command = [
        sys.executable,
        "-c",
        "import sys; from ats.cli.main import main; sys.exit(main(sys.argv[1:]))",
        "serve",
        "--no-worker",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = workdir / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            command, env=environment, stdout=output, stderr=subprocess.STDOUT, cwd=workdir
        )
    try:
        _wait_until_up(process, port, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"ats serve exited with {process.returncode}: {said}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                client.request("GET", "/api/v1/health")
                if client.getresponse().status == 200:
                    return
            finally:
                client.close()
        time.sleep(0.1)
    raise RuntimeError(f"ats serve did not answer on port {port} within 60 s")
