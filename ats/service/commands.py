"""Commands: what a user asks ATS to do, in the imperative."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, kw_only=True)
class Document:
    """A file already stored under ``uploads_dir``, to be recorded with the candidacy."""

    kind: str  # cv
    stored_name: str
    filename: str
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Apply:
    vacancy: str
    name: str
    email: str
    language: str
    phone: str | None = None
    birth_date: date | None = None  # optional; with the name it finds duplicate records
    facts: Mapping[str, object] = field(default_factory=dict)  # the workflow's application facts
    document: Document | None = None  # the CV sent with an online application
    actor: str | None = None  # who entered it; defaults to the candidate themself
    role: str = "candidate"
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class FireTrigger:
    candidacy_id: int
    trigger: str
    actor: str
    role: str
    reason: str | None = None
    facts: Mapping[str, object] = field(default_factory=dict)
    expected_version: int | None = None  # for If-Match style callers: refuse if it moved
    request_id: str | None = None
    panel_decision: bool = False  # fired by the chair's consensus decision (ats.service.interviews)


@dataclass(frozen=True, kw_only=True)
class MigrateWorkflow:
    workflow: str
    from_number: int
    to_number: int | None = None  # None: the latest version
    state_map: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = True
    actor: str = "system:migration"
    request_id: str | None = None
