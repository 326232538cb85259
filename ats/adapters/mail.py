"""Building candidate mail and handing it to a transport: SMTP, a mail folder, or the console.

Header values are collapsed to one line before they reach ``EmailMessage``,
so a name or subject carrying CR/LF can never add a header; the message is
serialised with a strict policy that raises on any defect.
"""

from __future__ import annotations

import email.policy
import os
import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Protocol

from ats.errors import ConfigurationError

POLICY = email.policy.SMTP.clone(raise_on_defect=True)


class TemporaryFailure(Exception):
    """Try again later: a 4xx answer, a dropped connection, a server that is down."""


class TransportUnavailable(TemporaryFailure):
    """The mail server cannot be reached or refuses our login: no message can go now."""


class PermanentFailure(Exception):
    """Do not try again: a 5xx answer, an address the server refuses."""


@dataclass(frozen=True, kw_only=True)
class OutgoingMail:
    message_id: str
    sender: str  # "Name <address>"
    to_name: str
    to_address: str
    subject: str
    text: str
    html: str
    sent_at: object  # datetime; typed loosely to keep this module free of clocks
    calendar: bytes | None = None
    calendar_method: str | None = None


def one_line(value: str) -> str:
    """Any run of whitespace, CR and LF included, becomes one space: no header injection."""
    return " ".join(value.split())


def build_message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    sender_name, sender_address = parseaddr(mail.sender)
    message["From"] = Address(display_name=one_line(sender_name), addr_spec=sender_address)
    message["To"] = Address(display_name=one_line(mail.to_name), addr_spec=mail.to_address)
    message["Subject"] = one_line(mail.subject)
    message["Message-ID"] = mail.message_id
    message["Date"] = format_datetime(mail.sent_at)  # type: ignore[arg-type]
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    if mail.calendar is not None:
        message.add_attachment(
            mail.calendar.decode("utf-8"),
            subtype="calendar",
            charset="utf-8",
            params={"method": mail.calendar_method or "REQUEST"},
            filename="invitation.ics",
        )
    return message


class Transport(Protocol):
    """Opened once per batch (connection reuse), then ``send`` for each message."""

    def __enter__(self) -> Transport: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def send(self, message: EmailMessage) -> str:
        """Deliver; return what the other side said. Raise Temporary/PermanentFailure."""
        ...


def maildir_path(folder: Path, message_id: str) -> Path:
    """Where the maildir transport keeps a message: one file per Message-ID."""
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in message_id)
    return folder / f"{stem.strip('_')}.eml"


class MaildirTransport:
    """The embedded default: one ``.eml`` file per message, so mail is visible without a server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> MaildirTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def send(self, message: EmailMessage) -> str:
        path = maildir_path(self.folder, message["Message-ID"])
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(message.as_bytes(policy=POLICY))
        os.replace(partial, path)  # a reader never sees half a message
        return f"written to {path}"


class ConsoleTransport:
    """Prints each message to standard output: for a look while developing."""

    def __enter__(self) -> ConsoleTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def send(self, message: EmailMessage) -> str:
        sys.stdout.write(message.as_string(policy=POLICY.clone(linesep="\n")) + "\n")
        return "printed"


class SmtpTransport:
    """SMTP with STARTTLS, implicit TLS or neither; one connection for a whole batch."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if security not in ("starttls", "tls", "none"):
            raise ConfigurationError(f"smtp_security: starttls, tls or none, got {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            # A settings problem, not the message's: never a reason to bury mail.
            raise TransportUnavailable(f"authentication refused: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportUnavailable(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return client

    def send(self, message: EmailMessage) -> str:
        if self._client is None:
            self._client = self._connect()
        try:
            refused = self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _failure(min(codes), str(exc.recipients)) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            said = exc.smtp_error
            text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
            raise _failure(exc.smtp_code, text) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection lost: {exc}") from exc
        if refused:
            code = min(code for code, _ in refused.values())
            raise _failure(code, str(refused))
        return "250 accepted"

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _failure(code: int, detail: str) -> Exception:
    text = f"{code} {detail}".strip()
    return PermanentFailure(text) if code >= 500 else TemporaryFailure(text)
