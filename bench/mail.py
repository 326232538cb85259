"""Mail: render-and-send throughput to a local SMTP server, against rendering alone.

``MAILS`` candidacies apply (``ats.service.handlers.apply``), each queueing its
``application_received`` mail in the outbox, in four languages in turn. Then
``ats.service.outbox.relay`` sends them all to an SMTP server on 127.0.0.1
(aiosmtpd, in a process of its own so it does not share our interpreter),
over one connection for the whole batch (``smtp_security = "none"``). Per mail
the relay claims the outbox row, renders it from the candidate's current data,
builds the MIME message, sends it, records the attempt and marks it sent, in
one transaction.

Floor: rendering alone, measured first on the same rows (after one untimed
mail per language, so both start with the templates compiled): for each pending
mail, ``compose`` (the same reads and templates) and ``build_message`` serialised
to bytes as the transport would; no claim, no send, no writes. The ratio says
what sending and bookkeeping cost on top of the rendering.

The server's count checks that every mail arrived, and over how many
connections (connection reuse: one per relay pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from pathlib import Path
from typing import Any, cast

from bench.harness import Result, Run, databases, make_app, stopwatch

VACANCY = "DVZ-SEC-W1"
LANGUAGES = ("nl", "fr", "de", "en")
# Mails queued and relayed per size.
MAILS = {"smoke": 20, "default": 300, "full": 2_000}


def run(run: Run, workdir: Path) -> None:
    count = MAILS[run.size]
    with _SmtpServer() as server, databases(run, workdir) as found:
        for label, url in found:
            app = make_app(
                url,
                workdir,
                mail_transport="smtp",
                smtp_host="127.0.0.1",
                smtp_port=server.port,
                smtp_security="none",
            )
            try:
                _measure(run, app, server, label, count)
            finally:
                app.close()


def _measure(run: Run, app: Any, server: _SmtpServer, label: str, count: int) -> None:
    from ats.service.commands import Apply
    from ats.service.outbox import relay

    say = run.progress
    say(f"mail on {label}: {count:,} application_received mails to SMTP on port {server.port}")
    for i in range(count):
        app.handle(
            Apply(
                vacancy=VACANCY,
                name=f"Bench Mail {i}",
                email=f"bench.mail.{label}.{i}@example.org",
                language=LANGUAGES[i % len(LANGUAGES)],
            )
        )
    render_rate, compose_share, size = _render_alone(app)
    say(
        f"  rendering alone: {render_rate:,.0f} mails/s ({compose_share:.0%} of it in compose, "
        f"the rest building and serialising the message; {size:,.0f} bytes each)"
    )
    before = server.counts()
    with stopwatch() as elapsed:
        report = relay(app)
    seconds = elapsed()
    messages, connections, _ = (
        now - then for now, then in zip(server.counts(), before, strict=True)
    )
    rate = report.sent / seconds
    delivered = report.sent == count == messages and not report.dead and not report.deferred
    say(
        f"  relayed {report.sent:,} in {seconds:.2f} s: {rate:,.0f} mails/s; the server got "
        f"{messages:,} over {connections} connection(s)"
    )
    run.add(
        Result(
            "mail",
            f"{label}: render and send over SMTP",
            rate,
            "mails/s",
            floor=render_rate,
            target="every mail delivered, one connection",
            met=delivered and connections == 1,
            notes=(
                f"{count:,} mails, {connections} SMTP connection(s), {messages:,} received; "
                f"per mail {1000 / rate:.2f} ms against {1000 / render_rate:.2f} ms rendering "
                f"({compose_share:.0%} compose, the rest build_message + serialise); floor: "
                f"compose + build_message + as_bytes, no claim, send or write"
            ),
        )
    )


def _render_alone(app: Any) -> tuple[float, float, float]:
    """Mails per second rendered from the pending rows, compose's share, bytes per message."""
    from sqlalchemy import select

    from ats.adapters.db.store import OUTBOX
    from ats.adapters.mail import POLICY, build_message
    from ats.service.outbox import compose

    with app.engine.connect() as connection:
        rows = list(
            connection.execute(
                select(OUTBOX).where(OUTBOX.c.status == "pending").order_by(OUTBOX.c.id)
            ).mappings()
        )
    for row in rows[: len(LANGUAGES)]:  # untimed: each language's templates compiled once
        with app.unit_of_work() as uow:
            build_message(compose(app, uow, row)).as_bytes(policy=POLICY)
    composing = 0.0
    size = 0
    with stopwatch() as elapsed:
        for row in rows:
            with app.unit_of_work() as uow, stopwatch() as composed:
                mail = compose(app, uow, row)
            composing += composed()
            size += len(build_message(mail).as_bytes(policy=POLICY))
    seconds = elapsed()
    return len(rows) / seconds, composing / seconds, size / max(len(rows), 1)


class _SmtpServer:
    """aiosmtpd on 127.0.0.1, an ephemeral port, in a child process; counts what it accepts."""

    def __init__(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_serve_smtp, args=(child,), name="bench-smtp", daemon=True
        )
        self.port = 0

    def __enter__(self) -> _SmtpServer:
        self.process.start()
        if not self.connection.poll(30):
            self._stop()
            raise RuntimeError("the bench SMTP server did not start")
        answer = self.connection.recv()
        if isinstance(answer, str):
            self._stop()
            raise RuntimeError(f"the bench SMTP server failed: {answer}")
        self.port = int(answer)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop()

    def counts(self) -> tuple[int, int, int]:
        """(messages, connections, bytes) accepted so far."""
        self.connection.send("count")
        counted: tuple[int, int, int] = self.connection.recv()
        return counted

    def _stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.connection.send("stop")
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


class _CountingHandler:
    """Accepts every message; counts messages, connections (one EHLO each) and bytes."""

    def __init__(self) -> None:
        self.messages = self.connections = self.size = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.connections += 1
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.size += len(envelope.content)
        return "250 OK"


def _serve_smtp(connection: Any) -> None:
    """The SMTP server process: answers ``count`` with its counts until told ``stop``."""
    try:
        from aiosmtpd.controller import Controller

        class Ephemeral(Controller):
            """aiosmtpd 1.4 cannot report a port-0 binding: read it off the listening socket."""

            def _trigger_server(self) -> None:
                self.port = cast(asyncio.Server, self.server).sockets[0].getsockname()[1]
                super()._trigger_server()  # type: ignore[no-untyped-call]

        handler = _CountingHandler()
        controller = Ephemeral(handler, hostname="127.0.0.1", port=0, server_hostname="bench")
        controller.start()
    except Exception as exc:  # the parent waits for the port: give it the reason
        connection.send(f"{exc!r}")
        return
    try:
        connection.send(controller.port)
        while connection.recv() != "stop":
            connection.send((handler.messages, handler.connections, handler.size))
    except EOFError:
        pass  # the parent went away
    finally:
        controller.stop()
