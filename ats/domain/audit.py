"""Audit entries and their hash chain (one chain per candidacy, design invariant 7).

The hashed payload names the candidate by pseudonymous key only, so erasing
a person's personal data leaves every chain verifiable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

GENESIS = "0" * 64
SEALED = "sealed:"  # a stored value that is the seal of a text kept (and erasable) elsewhere
ERASED = "[erased]"  # what readers see where a sealed text was erased

# Kinds of audit events that are not transitions.
WORKFLOW_LOADED = "workflow.loaded"
WORKFLOW_MIGRATED = "workflow.migrated"
DATA_ERASED = "data.erased"
LEGAL_HOLD = "legal_hold"
CANDIDATES_MERGED = "candidates.merged"
CANDIDATES_DISTINCT = "candidates.distinct"  # two flagged records judged to be two people
POOL_CONSENT = "pool_consent"
EXPORT_MADE = "audit.exported"
AUTHORISATION_FAILED = "authorisation.failed"


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()  # UTC times as ISO text
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} has no canonical form")


def canonical_json(payload: Mapping[str, object]) -> bytes:
    """Sorted keys, no spaces, UTF-8: one byte string per payload, whatever wrote it."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    ).encode()


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical).hexdigest()


class Chained:
    """A record on a hash chain: its canonical bytes and its hash over the previous one."""

    prev_hash: str

    def fields(self) -> dict[str, object]:
        """The record's fields, shallow (``asdict`` deep-copies, which the hot path feels)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}  # type: ignore[attr-defined]

    def canonical(self) -> bytes:
        """The bytes the hash covers: sorted keys, UTC times as ISO text, no layout choices."""
        return canonical_json(self.fields())

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


# -- sealed texts --------------------------------------------------------------------------
#
# A reason or a free-text fact may hold personal data, and personal data must be
# erasable, yet an audit record must never change. So the record hashes a seal of
# the text, sha256(salt + text), and the text and its random salt are kept beside
# it. Erasure deletes text and salt: the chain still verifies, and nobody can test
# a guess ("was it Jan Peeters?") against the seal without the salt.


def seal(salt: str, text: str) -> str:
    return SEALED + hashlib.sha256(bytes.fromhex(salt) + text.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class SealedTexts:
    """The plaintexts behind one record's seals, with the salt that made them."""

    salt: str
    reason: str | None
    facts: Mapping[str, str]


def seal_texts(
    reason: str | None,
    facts: Mapping[str, object],
    text_facts: Collection[str],
    *,
    salt: str | None = None,
) -> tuple[str | None, dict[str, object], SealedTexts | None]:
    """The reason and facts as a record stores (and hashes) them, and the texts to keep aside.

    Only the reason and the facts named in ``text_facts`` are sealed; numbers,
    dates, choices and booleans stay as they are, for statistics.
    """
    plain = {
        name: value
        for name, value in facts.items()
        if name in text_facts and isinstance(value, str) and value
    }
    if not reason and not plain:
        return reason, dict(facts), None
    salt = salt or secrets.token_hex(16)
    stored = {name: seal(salt, plain[name]) if name in plain else v for name, v in facts.items()}
    texts = SealedTexts(salt=salt, reason=reason or None, facts=plain)
    return (seal(salt, reason) if reason else reason), stored, texts


def open_texts(
    reason: str | None, facts: Mapping[str, object], texts: SealedTexts | None
) -> tuple[str | None, dict[str, object]]:
    """A record's reason and facts as people read them: texts restored, or shown as erased."""

    def opened(stored: object, text: str | None) -> object:
        if not (isinstance(stored, str) and stored.startswith(SEALED)):
            return stored
        if texts is None or text is None:
            return ERASED
        return text if hmac.compare_digest(seal(texts.salt, text), stored) else ERASED

    return (
        opened(reason, texts.reason if texts else None),  # type: ignore[return-value]
        {
            name: opened(value, texts.facts.get(name) if texts else None)
            for name, value in facts.items()
        },
    )


def texts_problem(
    reason: str | None, facts: Mapping[str, object], texts: SealedTexts
) -> str | None:
    """Why the kept texts are not the ones the record sealed, or None."""
    if (reason is None) != (texts.reason is None):
        return "its kept reason does not match its seal"
    if reason is not None and texts.reason is not None and seal(texts.salt, texts.reason) != reason:
        return "its kept reason was altered"
    for name, text in texts.facts.items():
        if facts.get(name) != seal(texts.salt, text):
            return f"its kept fact {name!r} was altered"
    for name, value in facts.items():
        if is_sealed(value) and name not in texts.facts:
            return f"its kept fact {name!r} is missing"
    return None


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED)


def has_seals(reason: object, facts: Mapping[str, object]) -> bool:
    return is_sealed(reason) or any(is_sealed(value) for value in facts.values())
