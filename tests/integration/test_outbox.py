"""The outbox relay against a real SMTP server on loopback (aiosmtpd, started by the test).

Each test applies through the service layer, so the mail is owed by the
transition itself, then relays it over SMTP to a server that records what
arrived and answers as the scenario needs: 250, 451 then 250, 550, nothing at
all, or a process that dies between the server's 250 and the database commit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from sqlalchemy import select, update

from ats.adapters.db.store import CANDIDATE, OUTBOX
from ats.adapters.mail import SmtpTransport, Transport
from ats.bootstrap import bootstrap
from ats.clock import ManualClock
from ats.errors import InvalidInput
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.outbox import message, messages, relay, retry
from ats.service.setup import initialise
from ats.settings import Settings
from tests.conftest import REPO
from tests.support_smtp import SmtpServer, smtp_server

VACANCY = "DVZ-SEC-W1"  # security escort: notify_on_apply application_received
EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "message-id",
    "date",
    "auto-submitted",
    "mime-version",
    "content-type",
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@contextmanager
def smtp_app(
    database_url: str,
    clock: ManualClock,
    port: int,
    *,
    transport: Callable[[], Transport] | None = None,
    **overrides: Any,
) -> Iterator[App]:
    """The application on a migrated database, mailing through SMTP on 127.0.0.1:``port``."""
    settings = Settings(
        home=REPO,
        database_url=database_url,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        **overrides,
    )
    application = bootstrap(settings, clock=clock, transport=transport)
    initialise(application)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def app(database_url: str, clock: ManualClock, smtp: SmtpServer) -> Iterator[App]:
    with smtp_app(database_url, clock, smtp.port) as application:
        yield application


def _apply(app: App, *, name: str = "Anna Schmidt", email: str = "anna@example.org") -> int:
    return int(app.handle(Apply(vacancy=VACANCY, name=name, email=email, language="de")))


def _only_row(app: App) -> dict[str, Any]:
    rows = messages(app)
    assert len(rows) == 1, rows
    return rows[0]


def _assert_no_defects(parsed: EmailMessage) -> None:
    """``policy.strict`` raises on message defects; header defects are checked here too."""
    for part in parsed.walk():
        assert part.defects == [], part.defects
        for name, value in part.items():
            assert not value.defects, (name, value.defects)


def _free_port() -> int:
    """A loopback port nobody listens on (bound once by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- delivery --------------------------------------------------------------------------------


def test_an_application_arrives_as_strict_multipart_alternative_mail_in_the_candidates_language(
    app: App, smtp: SmtpServer
) -> None:
    """One message, no defects, text and HTML in German, Message-ID of the outbox row; sent once."""
    _apply(app)
    assert _only_row(app)["status"] == "pending"

    report = relay(app)

    assert (report.sent, report.deferred, report.dead) == (1, 0, 0)
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received.rcpt_tos == ("anna@example.org",)
    parsed = received.parsed()
    _assert_no_defects(parsed)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert parsed["Subject"].startswith("Bewerbung eingegangen")
    assert parsed["To"].addresses[0].addr_spec == "anna@example.org"
    assert parsed["To"].addresses[0].display_name == "Anna Schmidt"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Vielen Dank für Ihre Bewerbung" in text.get_content()
    assert "Guten Tag Anna Schmidt" in text.get_content()
    assert "Vielen Dank für Ihre Bewerbung" in html.get_content()
    assert '<html lang="de">' in html.get_content()

    sent = messages(app, status="sent")
    assert len(sent) == 1
    assert sent[0]["template"] == "application_received"
    assert parsed["Message-ID"] == sent[0]["message_id"]
    assert messages(app, status="pending") == []

    again = relay(app)
    assert again.handled == 0
    assert len(smtp.received) == 1, "a sent message is never sent again"


def test_a_451_defers_the_message_and_the_retry_after_the_backoff_delivers_it_once(
    app: App, smtp: SmtpServer, clock: ManualClock
) -> None:
    """451 then 250: deferred with a temporary attempt, then exactly one delivery."""
    smtp.handler.answer_next("451 4.3.0 try later")
    _apply(app)
    outbox_id = _only_row(app)["id"]

    first = relay(app)

    assert (first.sent, first.deferred, first.dead) == (0, 1, 0)
    assert smtp.received == []
    detail = message(app, outbox_id)
    assert detail["status"] == "pending"
    assert detail["attempts"] == 1
    assert "451" in detail["last_error"]
    assert [a["outcome"] for a in detail["attempt_log"]] == ["temporary"]

    clock.advance(timedelta(seconds=app.settings.mail_retry_seconds - 1))
    assert relay(app).handled == 0, "not before the backoff has passed"

    clock.advance(timedelta(seconds=2))
    second = relay(app)

    assert (second.sent, second.deferred, second.dead) == (1, 0, 0)
    assert len(smtp.received) == 1
    assert smtp.handler.answers == ["451 4.3.0 try later", "250 OK"]
    detail = message(app, outbox_id)
    assert detail["status"] == "sent"
    assert detail["attempts"] == 2
    assert [a["outcome"] for a in detail["attempt_log"]] == ["temporary", "sent"]
    assert detail["last_error"] is None
    assert relay(app).handled == 0


def test_a_550_parks_the_message_dead_at_once_and_retry_sends_it_after_the_fix(
    app: App, smtp: SmtpServer, database_url: str
) -> None:
    """550: dead after one attempt, listed by `ats outbox list --state dead`; retry requeues."""
    smtp.handler.always = "550 5.1.1 no such user"
    _apply(app)
    outbox_id = _only_row(app)["id"]

    report = relay(app)

    assert (report.sent, report.deferred, report.dead) == (0, 0, 1)
    assert len(report.problems) == 1
    assert "550" in report.problems[0]["detail"]
    assert smtp.received == []
    dead = messages(app, status="dead")
    assert [m["id"] for m in dead] == [outbox_id]
    assert "550" in dead[0]["last_error"]
    assert dead[0]["attempts"] == 1
    assert [a["outcome"] for a in message(app, outbox_id)["attempt_log"]] == ["permanent"]
    listed = _ats(database_url, "outbox", "list", "--state", "dead", "--json")
    assert [(m["id"], m["status"]) for m in listed] == [(outbox_id, "dead")]
    assert "550" in listed[0]["last_error"]
    assert relay(app).handled == 0, "a dead message is not retried by itself"

    retry(app, outbox_id)
    assert messages(app, status="dead") == []
    assert [m["id"] for m in messages(app, status="pending")] == [outbox_id]

    smtp.handler.always = "250 OK"
    after = relay(app)

    assert after.sent == 1
    assert len(smtp.received) == 1
    assert smtp.received[0].parsed()["Message-ID"] == dead[0]["message_id"]
    assert message(app, outbox_id)["status"] == "sent"
    with pytest.raises(InvalidInput, match="only dead messages"):
        retry(app, outbox_id)


def test_a_server_that_is_down_defers_until_the_attempts_run_out_then_the_message_is_dead(
    database_url: str, clock: ManualClock
) -> None:
    """Connection refused is temporary; after mail_max_attempts it is dead."""
    with smtp_app(database_url, clock, _free_port(), mail_max_attempts=2) as app:
        _apply(app)
        outbox_id = _only_row(app)["id"]

        first = relay(app)

        assert (first.sent, first.deferred, first.dead) == (0, 1, 0)
        detail = message(app, outbox_id)
        assert detail["status"] == "pending"
        assert "cannot connect" in detail["last_error"]

        clock.advance(timedelta(seconds=app.settings.mail_retry_seconds + 1))
        second = relay(app)

        assert (second.sent, second.deferred, second.dead) == (0, 0, 1)
        detail = message(app, outbox_id)
        assert detail["status"] == "dead"
        assert detail["attempts"] == 2
        assert [a["outcome"] for a in detail["attempt_log"]] == ["temporary", "temporary"]
        assert [m["id"] for m in messages(app, status="dead")] == [outbox_id]


# -- crash between send and commit ---------------------------------------------------------


class DiesAfterSending:
    """The real transport, but the process 'dies' right after the server said 250."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def __enter__(self) -> DiesAfterSending:
        self.inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.inner.__exit__(exc_type, exc, traceback)

    def send(self, message: EmailMessage) -> str:
        self.inner.send(message)
        raise KeyboardInterrupt("killed after the server accepted, before the commit")


def test_a_relay_killed_between_send_and_commit_resends_with_the_same_message_id(
    database_url: str, clock: ManualClock, smtp: SmtpServer
) -> None:
    """At least once, never lost: the restart delivers again, recognisably the same message."""
    crash = [True]

    def transport_factory() -> Transport:
        real = SmtpTransport(host=smtp.host, port=smtp.port, security="none")
        return DiesAfterSending(real) if crash[0] else real

    with smtp_app(database_url, clock, smtp.port, transport=transport_factory) as app:
        _apply(app)
        row = _only_row(app)

        with pytest.raises(KeyboardInterrupt):
            relay(app)

        assert len(smtp.received) == 1, "the server did get it"
        after_crash = message(app, row["id"])
        assert after_crash["status"] == "pending"
        assert after_crash["attempts"] == 0
        assert after_crash["attempt_log"] == [], "nothing of the killed attempt was committed"

        crash[0] = False
        report = relay(app)

        assert report.sent == 1
        assert len(smtp.received) == 2
        ids = [r.parsed()["Message-ID"] for r in smtp.received]
        assert ids == [row["message_id"], row["message_id"]]
        assert message(app, row["id"])["status"] == "sent"
        assert relay(app).handled == 0


# -- header injection ------------------------------------------------------------------------


def test_cr_lf_in_the_candidates_name_and_a_rejection_reason_adds_no_header(
    app: App, smtp: SmtpServer
) -> None:
    """A bulk-imported name and a reason carrying CR/LF: one To, one Subject, no Bcc."""
    injected_name = "Eve Example\r\nBcc: evil@example.org"
    with pytest.raises(InvalidInput, match="name"):
        app.handle(
            Apply(vacancy=VACANCY, name=injected_name, email="other@example.org", language="en")
        )
    candidacy_id = int(
        app.handle(Apply(vacancy=VACANCY, name="Eve", email="eve@example.org", language="en"))
    )
    with app.engine.begin() as connection:  # as a bulk import would write it
        connection.execute(
            update(CANDIDATE)
            .where(CANDIDATE.c.email == "eve@example.org")
            .values(name=injected_name)
        )
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger="reject",
            actor="recruiter:jan",
            role="recruiter",
            reason="x\r\nBcc: evil@example.org\r\nSubject: pwned",
        )
    )
    with app.engine.connect() as connection:
        templates = connection.execute(select(OUTBOX.c.template).order_by(OUTBOX.c.id)).scalars()
        assert list(templates) == ["application_received", "rejected"]

    report = relay(app)

    assert (report.sent, report.dead) == (2, 0), report.problems
    assert len(smtp.received) == 2
    for received in smtp.received:
        assert received.rcpt_tos == ("eve@example.org",)
        header_lines = received.data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert not [line for line in header_lines if line.lower().startswith(b"bcc")]
        assert sum(line.lower().startswith(b"subject:") for line in header_lines) == 1
        parsed = received.parsed()
        _assert_no_defects(parsed)
        assert {name.lower() for name in parsed} == EXPECTED_HEADERS
        assert parsed.get_all("Bcc") is None
        assert len(parsed.get_all("To") or []) == 1
        assert len(parsed.get_all("Subject") or []) == 1
        assert "pwned" not in parsed["Subject"]
        (address,) = parsed["To"].addresses
        assert address.addr_spec == "eve@example.org"
        assert address.display_name == "Eve Example Bcc: evil@example.org"
    rejected = smtp.received[1].parsed()
    body = rejected.get_body(("plain",))
    assert body is not None
    assert "Reason: x" in body.get_content()


# -- the command line ------------------------------------------------------------------------

_SCRIPT = shutil.which("ats", path=str(Path(sys.executable).parent))
_COMMAND = (_SCRIPT,) if _SCRIPT else (sys.executable, "-m", "ats.cli.main")


def _ats(database_url: str, *args: str) -> Any:
    """``ats *args`` in a subprocess on the test's database; its JSON output."""
    completed = subprocess.run(
        [*_COMMAND, *args],
        env={**os.environ, "ATS_DATABASE_URL": database_url, "ATS_HOME": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_a_server_out_of_reach_costs_one_attempt_per_pass_not_one_per_message(
    database_url: str, clock: ManualClock
) -> None:
    """Three mails waiting and no server: one attempt is made, the others wait untouched."""
    with smtp_app(database_url, clock, _free_port()) as app:
        for number in range(3):
            app.handle(
                Apply(
                    vacancy="DVZ-SEC-W1",
                    name=f"Person {number}",
                    email=f"p{number}@example.org",
                    language="nl",
                )
            )
        report = relay(app)
        assert (report.sent, report.deferred, report.dead) == (0, 1, 0)
        assert report.transport_error is not None
        assert "cannot connect" in report.transport_error
        attempts = sorted(m["attempts"] for m in messages(app, status="pending"))
        assert attempts == [0, 0, 1]
