"""The hiring drive: services, job functions, waves and vacancies with their targets.

What the public careers site shows lives here too (descriptions, requirements,
places, opening and closing dates), so vacancy content is configuration, not
template text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

# schema.org JobPosting employmentType values.
EMPLOYMENT_TYPES = (
    "FULL_TIME",
    "PART_TIME",
    "CONTRACTOR",
    "TEMPORARY",
    "INTERN",
    "VOLUNTEER",
    "PER_DIEM",
    "OTHER",
)


@dataclass(frozen=True)
class Service:
    code: str
    name: Mapping[str, str]
    short: Mapping[str, str]
    url: str | None = None
    address: Mapping[str, str] | None = None  # street, postal_code, locality[, region]


@dataclass(frozen=True)
class JobFunction:
    code: str
    workflow: str
    title: Mapping[str, str]
    description: Mapping[str, str] | None = None  # per language: what the job is
    requirements: Mapping[str, Sequence[str]] | None = None  # per language: what it asks


@dataclass(frozen=True)
class Wave:
    code: str
    number: int
    opens_on: date
    title: Mapping[str, str]
    closes_on: date | None = None


@dataclass(frozen=True)
class Vacancy:
    code: str
    service: str
    job_function: str
    wave: str
    track: str | None
    target: int | None
    title: Mapping[str, str]
    # Resolved when the file is read: the wave's dates and the service's address by default.
    opens_on: date | None = None
    closes_on: date | None = None  # None: open until the posts are filled
    place: Mapping[str, str] | None = None
    employment_type: str = "FULL_TIME"
    description: Mapping[str, str] | None = None  # what this vacancy adds to its function's text


@dataclass(frozen=True)
class HiringDrive:
    code: str
    title: Mapping[str, str]
    target_total: int | None
    languages: tuple[str, ...]
    services: tuple[Service, ...]
    job_functions: tuple[JobFunction, ...]
    waves: tuple[Wave, ...]
    vacancies: tuple[Vacancy, ...] = field(default=())


def is_open(opens_on: date | None, closes_on: date | None, today: date) -> bool:
    """Whether a vacancy takes applications on ``today`` (both ends included)."""
    return (opens_on is None or opens_on <= today) and (closes_on is None or today <= closes_on)
