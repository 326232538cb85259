"""The audit log's guarantees: events, checkpoints, and `verify`, which recomputes everything.

Chains: one per candidacy (its writers are already serialised by the version
check), one for non-transition events, and one of checkpoints that record the
heads of the chains that moved. `verify` recomputes every hash and also proves
the state from the log: each step legal in the candidacy's pinned workflow
version, each source the previous destination, the last destination the
candidacy's state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import RowMapping, select

from ats.adapters.db.store import (
    AUDIT,
    AUDIT_TEXT,
    CANDIDACY,
    CANDIDATE,
    CHECKPOINT,
    EVENT,
    take_lock,
)
from ats.adapters.signing import load_signer, load_verifier
from ats.domain.audit import (
    AUTHORISATION_FAILED,
    GENESIS,
    AuditEntry,
    AuditEvent,
    Chained,
    Checkpoint,
    SealedTexts,
    has_seals,
    texts_problem,
)
from ats.errors import InvalidInput, NotFound
from ats.service.app import App
from ats.service.unit_of_work import UnitOfWork

log = structlog.get_logger("ats")


def record_event(
    uow: UnitOfWork,
    app: App,
    *,
    kind: str,
    actor: str,
    role: str,
    subject: str | None = None,
    details: Mapping[str, object] | None = None,
    request_id: str | None = None,
    texts: SealedTexts | None = None,
    candidate_id: int | None = None,
) -> AuditEvent:
    """Append a non-transition event in the caller's transaction.

    ``texts`` keeps the plaintext behind sealed values in ``details`` (a
    reason about a candidate), erasable with that candidate's data.
    """
    return uow.events.append(
        kind=kind,
        actor=actor,
        role=role,
        subject=subject,
        details=details or {},
        occurred_at=app.clock.now(),
        request_id=request_id,
        process=app.process,
        texts=texts,
        candidate_id=candidate_id,
    )


def record_refusal(
    app: App, *, actor: str, roles: Iterable[str], subject: str, reason: str, **details: object
) -> None:
    """Audit a reach beyond a user's roles or services, in its own transaction."""
    held = sorted(roles)
    with app.unit_of_work() as uow:
        record_event(
            uow,
            app,
            kind=AUTHORISATION_FAILED,
            actor=actor[:200],
            role=",".join(held)[:32],  # the column is short; details keeps them all
            subject=subject[:200],
            details={"reason": reason, "roles": held, **details},
        )
        uow.commit()


# -- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointResult:
    seq: int
    hash: str
    created_at: datetime
    chains: int
    signed: bool
    new: bool

    def export(self) -> dict[str, Any]:
        """What an auditor keeps outside the database to detect a rollback later."""
        return {
            "checkpoint": self.seq,
            "hash": self.hash,
            "created_at": self.created_at.isoformat(),
        }


def checkpoint(app: App) -> CheckpointResult:
    """Record the heads of every chain that moved since the last checkpoint (if any did)."""
    signer = load_signer(app.settings.signing_key_path)
    with app.unit_of_work() as uow:
        take_lock(uow.connection, "checkpoints")
        latest = uow.checkpoints.latest()
        heads = uow.checkpoints.changed_heads()
        events_seq, events_hash = uow.events.head()
        events_head = {"seq": events_seq, "hash": events_hash}
        if latest is not None and not heads and latest["events_head"] == events_head:
            return CheckpointResult(
                latest["seq"],
                latest["hash"],
                latest["created_at"],
                0,
                latest["signature"] is not None,
                new=False,
            )
        record = Checkpoint(
            seq=(latest["seq"] if latest else 0) + 1,
            created_at=app.clock.now(),
            heads=heads,
            events_head=events_head,
            prev_hash=latest["hash"] if latest else GENESIS,
        )
        digest = record.hash
        uow.checkpoints.append(
            record,
            signature=signer.sign(digest.encode()) if signer else None,
            key_id=signer.key_id if signer else None,
        )
        uow.commit()
    log.info("audit.checkpoint", checkpoint=record.seq, chains=len(heads), signed=bool(signer))
    return CheckpointResult(record.seq, digest, record.created_at, len(heads), bool(signer), True)


# -- verify --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Damage:
    """The first broken thing in one chain, and what is wrong with it."""

    chain: str
    seq: int | None
    what: str

    def __str__(self) -> str:
        where = f"{self.chain}, entry {self.seq}" if self.seq is not None else self.chain
        return f"{where}: {self.what}"


@dataclass
class VerifyReport:
    entries: int = 0
    chains: int = 0
    events: int = 0
    checkpoints: int = 0
    last_checkpoint: dict[str, Any] | None = None
    damage: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damage

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "chains": self.chains,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "last_checkpoint": self.last_checkpoint,
            "damage": [{"chain": d.chain, "seq": d.seq, "what": d.what} for d in self.damage],
        }


def read_checkpoint_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"--checkpoint {path}: cannot read it as JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("checkpoint"), int):
        raise InvalidInput(f"--checkpoint {path}: not a checkpoint export (no 'checkpoint' number)")
    if not isinstance(data.get("hash"), str):
        raise InvalidInput(f"--checkpoint {path}: not a checkpoint export (no 'hash')")
    return data


def verify(app: App, *, exported: Mapping[str, Any] | None = None) -> VerifyReport:
    """Recompute every chain; name the first broken entry of each damaged one."""
    report = VerifyReport()
    verifier = load_verifier(app.settings.verify_key_path, app.settings.signing_key_path)
    with app.unit_of_work() as uow:
        _snapshot(uow)
        required = _check_checkpoints(uow, report, verifier, exported)
        _check_events(uow, report, required.pop("events", []))
        _check_scorecards(uow, report)
        candidacies = {
            row["id"]: row
            for row in uow.connection.execute(
                select(
                    CANDIDACY,
                    CANDIDATE.c.key.label("candidate_key"),
                    CANDIDATE.c.erased_at.label("candidate_erased_at"),
                ).join(CANDIDATE, CANDIDATE.c.id == CANDIDACY.c.candidate_id)
            ).mappings()
        }
        merged = _merged_keys(uow)
        seen: set[int] = set()
        for candidacy_id, entries in groupby(_entries(uow), key=lambda e: int(e["candidacy_id"])):
            chain = list(entries)
            seen.add(candidacy_id)
            report.chains += 1
            report.entries += len(chain)
            damage = _check_chain(
                app, uow, candidacies.get(candidacy_id), candidacy_id, chain, required, merged
            )
            if damage:
                report.damage.append(damage)
        for candidacy_id, row in candidacies.items():
            if candidacy_id not in seen:
                report.damage.append(
                    Damage(
                        f"candidacy {candidacy_id}",
                        None,
                        f"its whole chain is missing (the candidacy is at version {row['version']})",
                    )
                )
        for key, heads in required.items():
            if int(key) not in seen:
                seq, _ = heads[0][:2]
                report.damage.append(
                    Damage(
                        f"candidacy {key}",
                        int(str(seq)),
                        f"checkpoint {heads[0][2]} recorded this chain; it is gone from the database",
                    )
                )
    report.damage.sort(key=lambda d: (_chain_order(d.chain), d.seq or 0))
    log.info(
        "audit.verified",
        ok=report.ok,
        entries=report.entries,
        chains=report.chains,
        damaged=len(report.damage),
    )
    return report


def _snapshot(uow: UnitOfWork) -> None:
    """Read everything from one consistent snapshot, so writers carrying on do not look like damage."""
    if uow.connection.dialect.name == "postgresql":
        uow.connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    else:
        uow.connection.exec_driver_sql("BEGIN")  # SQLite: the snapshot starts at the first read


def _chain_order(chain: str) -> tuple[int, int]:
    kind, _, number = chain.partition(" ")
    rank = {"checkpoint": 0, "events": 1}.get(kind, 2)
    return rank, int(number) if number.isdigit() else 0


# The texts kept behind a record's seals, read beside it (outer-joined: erased ones are gone).
_TEXT_COLUMNS = (
    AUDIT_TEXT.c.id.label("text_id"),
    AUDIT_TEXT.c.salt.label("text_salt"),
    AUDIT_TEXT.c.reason.label("text_reason"),
    AUDIT_TEXT.c.facts.label("text_facts"),
)


def _entries(uow: UnitOfWork) -> Iterator[RowMapping]:
    """Every entry in chain order, with the texts kept behind its seals (if still kept)."""
    result = uow.connection.execution_options(yield_per=2000).execute(
        select(AUDIT, *_TEXT_COLUMNS)
        .outerjoin(AUDIT_TEXT, AUDIT_TEXT.c.entry_id == AUDIT.c.id)
        .order_by(AUDIT.c.candidacy_id, AUDIT.c.seq)
    )
    yield from result.mappings()


Required = dict[str, list[tuple[object, object, int]]]  # chain -> [(seq, hash, checkpoint)]


def _check_checkpoints(
    uow: UnitOfWork, report: VerifyReport, verifier: Any, exported: Mapping[str, Any] | None
) -> Required:
    """Check the checkpoint chain; return the heads every chain must still contain."""
    required: Required = {}
    prev_hash, expected = GENESIS, 1
    rows = uow.connection.execute(select(CHECKPOINT).order_by(CHECKPOINT.c.seq)).mappings().all()
    by_seq = {row["seq"]: row for row in rows}
    for row in rows:
        report.checkpoints += 1
        if row["seq"] != expected:
            problem: str | None = f"gap in the checkpoint chain: expected checkpoint {expected}"
        else:
            problem = _link_problem(Checkpoint, row, prev_hash, "checkpoint") or _signature_problem(
                row, verifier
            )
        if problem:
            report.damage.append(Damage(f"checkpoint {row['seq']}", None, problem))
            break
        for key, head in row["heads"].items():
            required.setdefault(key, []).append((head[0], head[1], row["seq"]))
        events_head = row["events_head"]
        if events_head.get("seq"):
            required.setdefault("events", []).append(
                (events_head["seq"], events_head["hash"], row["seq"])
            )
        prev_hash, expected = row["hash"], expected + 1
        report.last_checkpoint = {
            "checkpoint": row["seq"],
            "hash": row["hash"],
            "created_at": row["created_at"].isoformat(),
            "signed": row["signature"] is not None,
        }
    if exported is not None:
        seq = exported["checkpoint"]
        held = by_seq.get(seq)
        if held is None:
            report.damage.append(
                Damage(
                    f"checkpoint {seq}",
                    None,
                    f"the exported checkpoint {seq} ({exported.get('created_at', '?')}) is not in "
                    "the database: it was rolled back to an older copy or truncated",
                )
            )
        elif held["hash"] != exported["hash"]:
            report.damage.append(
                Damage(
                    f"checkpoint {seq}",
                    None,
                    "differs from the exported checkpoint: the history before it was rewritten",
                )
            )
    return required


def _check_events(
    uow: UnitOfWork, report: VerifyReport, required: list[tuple[object, object, int]]
) -> None:
    prev_hash, expected = GENESIS, 1
    hashes: dict[int, str] = {}
    erased = set(
        uow.connection.execute(
            select(CANDIDATE.c.key).where(CANDIDATE.c.erased_at.is_not(None))
        ).scalars()
    )
    rows = uow.connection.execute(
        select(EVENT, *_TEXT_COLUMNS)
        .outerjoin(AUDIT_TEXT, AUDIT_TEXT.c.event_id == EVENT.c.id)
        .order_by(EVENT.c.seq)
    ).mappings()
    for row in rows:
        report.events += 1
        if row["seq"] != expected:
            problem: str | None = f"gap in sequence: expected event {expected}"
        else:
            problem = _link_problem(AuditEvent, row, prev_hash, "event")
        if problem is None:
            details = row["details"] or {}
            problem = _texts_problem(
                {**row, "reason": details.get("reason"), "facts": {}},
                # Whose texts they were: the candidate, or the record kept by a merge.
                erased=bool({details.get("candidate"), details.get("kept")} & erased),
            )
        if problem:
            report.damage.append(Damage("events", row["seq"], problem))
            return
        hashes[row["seq"]] = row["hash"]
        prev_hash, expected = row["hash"], expected + 1
    for seq, digest, at in required:
        if hashes.get(int(str(seq))) != digest:
            report.damage.append(
                Damage(
                    "events",
                    int(str(seq)),
                    f"checkpoint {at} recorded this event as the head; it is missing or differs",
                )
            )
            return


def _check_scorecards(uow: UnitOfWork, report: VerifyReport) -> None:
    """Each interview scorecard says what the audit event that filed it says."""
    from ats.adapters.db.models import ScorecardRow

    card = ScorecardRow.__table__
    rows = uow.connection.execute(
        select(card, EVENT.c.details, EVENT.c.kind.label("event_kind"))
        .outerjoin(EVENT, EVENT.c.seq == card.c.event_seq)
        .order_by(card.c.id)
    ).mappings()
    for row in rows:
        details = row["details"] or {}
        recorded = (details.get("candidacy"), details.get("scores"), details.get("total"))
        if row["event_kind"] is None:
            problem = "the audit event that filed it is missing"
        elif recorded != (row["candidacy_id"], row["scores"], row["total"]):
            problem = "its scores differ from the audit event that filed it"
        elif details.get("passed") != row["passed"]:
            problem = "its pass or fail differs from the audit event that filed it"
        else:
            continue
        report.damage.append(Damage("scorecards", int(row["id"]), problem))


def _signature_problem(row: RowMapping, verifier: Any) -> str | None:
    """Where checkpoints are verified with a key, each must carry a good signature by it."""
    if verifier is None:
        return None
    if row["signature"] is None:
        return "is not signed, but checkpoints here are verified with an audit key"
    if row["key_id"] != verifier.key_id:
        return f"was signed with key {row['key_id']}, not the audit key {verifier.key_id}"
    if not verifier.verify(row["hash"].encode(), row["signature"]):
        return "signature does not verify with the audit key"
    return None


def _link_problem(kind: type[Chained], row: RowMapping, prev_hash: str, what: str) -> str | None:
    """Does the stored record link to the one before it, and does its hash still match?"""
    if row["prev_hash"] != prev_hash:
        return f"does not link to the previous {what} (prev_hash differs)"
    fields = {name: row[name] for name in kind.__dataclass_fields__}  # type: ignore[attr-defined]
    if kind(**fields).hash != row["hash"]:
        return f"hash mismatch: the {what} was altered"
    return None


def _check_chain(
    app: App,
    uow: UnitOfWork,
    candidacy: RowMapping | None,
    candidacy_id: int,
    chain: list[RowMapping],
    required: Required,
    merged: Mapping[int, set[str]],
) -> Damage | None:
    name = f"candidacy {candidacy_id}"
    if candidacy is None:
        return Damage(name, chain[0]["seq"], "entries exist but the candidacy row is gone")
    prev_hash, prev_dst, version_id = GENESIS, None, None
    hashes: dict[int, str] = {}
    for expected, row in enumerate(chain, start=1):
        seq = row["seq"]
        if seq != expected:
            return Damage(name, expected, f"gap in sequence: missing (the next entry is {seq})")
        broken = _link_problem(AuditEntry, row, prev_hash, "entry")
        if broken:
            return Damage(name, seq, broken)
        if row["candidate_key"] != candidacy["candidate_key"] and row[
            "candidate_key"
        ] not in merged.get(candidacy["candidate_id"], set()):
            return Damage(name, seq, "names another candidate than the candidacy's")
        problem = _texts_problem(dict(row), erased=candidacy["candidate_erased_at"] is not None)
        if problem:
            return Damage(name, seq, problem)
        problem = _illegal(app, uow, row, prev_dst, version_id)
        if problem:
            return Damage(name, seq, problem)
        hashes[seq] = row["hash"]
        prev_hash, prev_dst, version_id = row["hash"], row["dst"], row["workflow_version_id"]
    last = chain[-1]["seq"]
    for seq, digest, at in required.pop(str(candidacy_id), []):
        if hashes.get(int(str(seq))) != digest:
            missing = int(str(seq)) > last
            what = "is missing (the tail after it was cut)" if missing else "differs"
            return Damage(name, int(str(seq)), f"checkpoint {at} recorded this entry; it {what}")
    if candidacy["version"] > last:
        return Damage(
            name,
            last + 1,
            f"missing tail: the chain ends at entry {last}, the candidacy is at version "
            f"{candidacy['version']}",
        )
    if candidacy["version"] < last:
        return Damage(
            name,
            candidacy["version"] + 1,
            f"entry after the head: the candidacy is at version {candidacy['version']}",
        )
    if candidacy["audit_head"] != prev_hash:
        return Damage(name, last, "the candidacy's recorded head is not this entry's hash")
    if candidacy["state"] != prev_dst:
        return Damage(
            name,
            last,
            f"the candidacy is in state {candidacy['state']!r} but its log leads to {prev_dst!r}",
        )
    if candidacy["workflow_version_id"] != version_id:
        return Damage(name, last, "the candidacy's workflow version is not the one its log used")
    return None


def _merged_keys(uow: UnitOfWork) -> dict[int, set[str]]:
    """The keys of the records merged into each candidate: their old entries still name them.

    A merge repoints earlier merges too, so one level is all there is.
    """
    merged: dict[int, set[str]] = {}
    rows = uow.connection.execute(
        select(CANDIDATE.c.merged_into, CANDIDATE.c.key).where(CANDIDATE.c.merged_into.is_not(None))
    )
    for into, key in rows:
        merged.setdefault(int(into), set()).add(key)
    return merged


def _texts_problem(row: Mapping[str, Any], *, erased: bool) -> str | None:
    """Do the texts kept beside the entry match its seals; if gone, was the person erased?"""
    if row["text_id"] is not None:
        texts = SealedTexts(
            salt=row["text_salt"], reason=row["text_reason"], facts=dict(row["text_facts"] or {})
        )
        problem = texts_problem(row["reason"], row["facts"] or {}, texts)
        return f"{problem} (audit_texts row {row['text_id']})" if problem else None
    if has_seals(row["reason"], row["facts"] or {}) and not erased:
        return "its sealed texts are gone, but the candidate's data was never erased"
    return None


def _illegal(
    app: App,
    uow: UnitOfWork,
    row: RowMapping,
    prev_dst: str | None,
    version_id: int | None,
) -> str | None:
    """Why this step could not have happened under its workflow, or None."""
    try:
        definition = app.registry.definition(uow, row["workflow_version_id"])
    except NotFound:
        return f"names workflow version {row['workflow_version_id']}, which is not stored"
    if row["workflow_hash"] != definition.content_hash:
        return "names a workflow hash that is not its version's"
    trigger, src, dst = row["trigger"], row["src"], row["dst"]
    if row["seq"] == 1:
        if trigger != "apply" or src is not None or dst != definition.initial_state:
            return f"the first entry must be 'apply' into {definition.initial_state!r}"
        return None
    if src != prev_dst:
        return f"starts from {src!r} but the previous entry ended in {prev_dst!r}"
    if trigger == "migrate":
        if dst not in definition.states:
            return f"migrates to {dst!r}, which the new version lacks"
        return None
    if row["workflow_version_id"] != version_id:
        return "changes workflow version without a migration"
    spec = definition.transition(trigger, src)
    if spec is None or spec.dest != dst:
        return f"{trigger!r} does not lead from {src!r} to {dst!r} in this workflow version"
    if row["role"] not in spec.roles:
        return f"role {row['role']!r} may not fire {trigger!r}"
    return None
