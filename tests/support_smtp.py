"""A real SMTP server on loopback for tests: aiosmtpd in a thread, on an ephemeral port.

The server records every message it accepted (envelope and bytes as received)
and answers DATA from a script: the next scripted answers first, then
``always`` (``"250 OK"`` unless a test changes it).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller

ACCEPT = "250 OK"


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        """The message parsed with ``email.policy.strict``: any defect raises."""
        return email.message_from_bytes(self.data, policy=email.policy.strict)


class RecordingHandler:
    """aiosmtpd handler: answers DATA from a script and records what it accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.script: deque[str] = deque()
        self.always = ACCEPT
        self.received: list[Received] = []
        self.answers: list[str] = []  # every DATA answer given, in order

    def answer_next(self, *answers: str) -> None:
        with self._lock:
            self.script.extend(answers)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            answer = self.script.popleft() if self.script else self.always
            self.answers.append(answer)
            if answer.startswith("250"):
                content = envelope.content
                data = content if isinstance(content, bytes) else content.encode()
                self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), data))
        return answer


class _EphemeralController(Controller):
    """aiosmtpd 1.4.6 cannot report a port-0 binding itself: read it off the listening socket.

    ``start()`` opens a first connection to ``self.port`` to check the server
    answers, after the thread has bound ``self.server``; the bound port is
    known by then.
    """

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on 127.0.0.1, stopped (and its port closed) on exit."""
    handler = RecordingHandler()
    controller = _EphemeralController(
        handler, hostname="127.0.0.1", port=0, server_hostname="smtp.test"
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", int(controller.port), handler)
    finally:
        controller.stop()
