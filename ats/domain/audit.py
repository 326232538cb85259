"""Audit entries and their hash chain (one chain per candidacy, design invariant 7).

The hashed payload names the candidate by pseudonymous key only, so erasing
a person's personal data leaves every chain verifiable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

GENESIS = "0" * 64

# Kinds of audit events that are not transitions.
WORKFLOW_LOADED = "workflow.loaded"
WORKFLOW_MIGRATED = "workflow.migrated"
DATA_ERASED = "data.erased"
EXPORT_MADE = "audit.exported"
AUTHORISATION_FAILED = "authorisation.failed"


def canonical_json(payload: Mapping[str, object]) -> bytes:
    """Sorted keys, no spaces, UTF-8: one byte string per payload, whatever wrote it."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical).hexdigest()


class Chained:
    """A record on a hash chain: its canonical bytes and its hash over the previous one."""

    prev_hash: str

    def canonical(self) -> bytes:
        """The bytes the hash covers: sorted keys, UTC times as ISO text, no layout choices."""
        payload = {
            key: value.isoformat()
            if isinstance(value, datetime)
            else dict(value)
            if isinstance(value, Mapping)
            else value
            for key, value in asdict(self).items()  # type: ignore[call-overload]
        }
        return canonical_json(payload)

    @property
    def hash(self) -> str:
        return chain_hash(self.prev_hash, self.canonical())


@dataclass(frozen=True, kw_only=True)
class AuditEntry(Chained):
    candidacy_id: int
    seq: int
    candidate_key: str
    vacancy: str
    actor: str
    role: str
    trigger: str
    src: str | None
    dst: str
    reason: str | None
    facts: Mapping[str, object]
    workflow_version_id: int
    workflow_hash: str
    occurred_at: datetime
    request_id: str | None
    process: str
    prev_hash: str


@dataclass(frozen=True, kw_only=True)
class AuditEvent(Chained):
    """Something auditors care about that is not a transition, on the global event chain."""

    seq: int
    kind: str
    actor: str
    role: str
    subject: str | None
    details: Mapping[str, object]
    occurred_at: datetime
    request_id: str | None
    process: str
    prev_hash: str


@dataclass(frozen=True, kw_only=True)
class Checkpoint(Chained):
    """The heads of the chains changed since the previous checkpoint, chained in turn."""

    seq: int
    created_at: datetime
    heads: Mapping[str, list[object]]  # candidacy id as text -> [seq, hash]
    events_head: Mapping[str, object]  # {"seq": n, "hash": h}
    prev_hash: str
