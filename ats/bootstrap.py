"""Wire adapters into the service layer. Entry points and tests build the app here."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from sqlalchemy.engine import Engine

from ats.adapters.db.engine import create_database_engine
from ats.adapters.holidays_be import holiday_predicate
from ats.adapters.mail import ConsoleTransport, MaildirTransport, SmtpTransport, Transport
from ats.adapters.mail_templates import MailRenderer
from ats.clock import Clock, SystemClock
from ats.domain.calendar import WorkingCalendar
from ats.service.app import App
from ats.settings import Settings, load_settings


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    transport: Callable[[], Transport] | None = None,
) -> App:
    """The application, with nothing opened until first used."""
    settings = settings or load_settings()
    engine = engine or create_database_engine(
        settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    return App(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        process=f"{socket.gethostname()}:{os.getpid()}",
        calendar=WorkingCalendar(holiday_predicate(), settings.zone),
        renderer=MailRenderer(
            settings.notifications_dir, zone=settings.zone, fallback=settings.fallback_languages
        ),
        transport=transport or (lambda: make_transport(settings)),
    )


def make_transport(settings: Settings) -> Transport:
    """The transport the settings name; SMTP's password comes only from ATS_SMTP_PASSWORD."""
    if settings.mail_transport == "smtp":
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
    if settings.mail_transport == "console":
        return ConsoleTransport()
    return MaildirTransport(settings.mail_folder)
