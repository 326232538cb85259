"""The hiring drive: services, job functions, waves and vacancies with their targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Service:
    code: str
    name: Mapping[str, str]
    short: Mapping[str, str]


@dataclass(frozen=True)
class JobFunction:
    code: str
    workflow: str
    title: Mapping[str, str]


@dataclass(frozen=True)
class Wave:
    code: str
    number: int
    opens_on: date
    title: Mapping[str, str]


@dataclass(frozen=True)
class Vacancy:
    code: str
    service: str
    job_function: str
    wave: str
    track: str | None
    target: int | None
    title: Mapping[str, str]


@dataclass(frozen=True)
class HiringDrive:
    code: str
    title: Mapping[str, str]
    target_total: int | None
    languages: tuple[str, ...]
    services: tuple[Service, ...]
    job_functions: tuple[JobFunction, ...]
    waves: tuple[Wave, ...]
    vacancies: tuple[Vacancy, ...]
