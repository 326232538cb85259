"""Wire adapters into the service layer. Entry points and tests build the app here."""

from __future__ import annotations

import os
import socket

from sqlalchemy.engine import Engine

from ats.adapters.db.engine import create_database_engine
from ats.adapters.holidays_be import holiday_predicate
from ats.clock import Clock, SystemClock
from ats.domain.calendar import WorkingCalendar
from ats.service.app import App
from ats.settings import Settings, load_settings


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
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
    )
