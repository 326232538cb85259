"""Belgian public holidays, from the `holidays` package (kept up to date by its maintainers)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _year(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BE", years=year))


def belgian_holiday(day: date) -> bool:
    """True on Belgium's legal public holidays (the package also lists Easter and Whit Sunday)."""
    return day in _year(day.year)


def holiday_predicate() -> Callable[[date], bool]:
    return belgian_holiday
