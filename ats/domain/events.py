"""Events: what happened to a candidacy, in the past tense. Handlers react to them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CandidacyOpened:
    candidacy_id: int
    vacancy: str
    state: str
    at: datetime


@dataclass(frozen=True)
class CandidacyAdvanced:
    candidacy_id: int
    trigger: str
    src: str
    dst: str
    actor: str
    role: str
    reason: str | None
    facts: Mapping[str, object]
    notify: str | None
    at: datetime


@dataclass(frozen=True)
class CandidacyMigrated:
    candidacy_id: int
    src: str
    dst: str
    from_version: int
    to_version: int
    at: datetime


Event = CandidacyOpened | CandidacyAdvanced | CandidacyMigrated
