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


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
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

    def canonical(self) -> bytes:
        """The bytes the hash covers: sorted keys, UTC time, no layout choices."""
        payload = asdict(self)
        payload["facts"] = dict(self.facts)
        payload["occurred_at"] = self.occurred_at.isoformat()
        return json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.prev_hash.encode() + self.canonical()).hexdigest()
