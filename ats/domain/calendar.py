"""Deadlines on a calendar: plain days, working days, Selor days.

Due times are computed on the local (Europe/Brussels) wall clock and handed
back in UTC, so "in 7 days at 10:00" stays 10:00 across a DST change. Which
days are public holidays is a port: ``ats.adapters.holidays_be`` supplies the
Belgian ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ats.domain.workflow import Duration

SATURDAY, SUNDAY = 5, 6


class WorkingCalendar:
    """Adds and subtracts durations; which days count depends on the unit."""

    def __init__(self, is_holiday: Callable[[date], bool], zone: ZoneInfo) -> None:
        self._is_holiday = is_holiday
        self.zone = zone

    def counts(self, day: date, unit: str) -> bool:
        """Does ``day`` count towards a duration in ``unit``?"""
        if unit == "days":
            return True
        if unit not in ("working days", "selor days"):
            raise ValueError(f"unknown calendar unit {unit!r}")
        if day.weekday() == SUNDAY or self._is_holiday(day):
            return False
        # Selor tests run on Saturdays too; ordinary working days stop on Friday.
        return unit == "selor days" or day.weekday() != SATURDAY

    def add(self, start: datetime, duration: Duration) -> datetime:
        """``start`` plus ``duration``, at the same local wall time; UTC out."""
        return self._shift(start, duration, +1)

    def subtract(self, start: datetime, duration: Duration) -> datetime:
        """``start`` minus ``duration`` (reminders before a deadline); UTC out."""
        return self._shift(start, duration, -1)

    def _shift(self, start: datetime, duration: Duration, direction: int) -> datetime:
        if start.tzinfo is None:
            raise ValueError("calendar arithmetic needs an aware datetime")
        local = start.astimezone(self.zone)
        day, counted = local.date(), 0
        while counted < duration.amount:
            day += timedelta(days=direction)
            if self.counts(day, duration.unit):
                counted += 1
        wall = datetime.combine(day, local.time().replace(tzinfo=None))
        return wall.replace(tzinfo=self.zone).astimezone(UTC)
