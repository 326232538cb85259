"""Command handlers: plain functions, one transaction each (design invariant 1)."""

from __future__ import annotations

import calendar
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, insert, select

from ats.adapters.db.models import DocumentRow, PanelMemberRow, ScorecardRow, UserRow
from ats.adapters.db.store import AUDIT, CANDIDACY, EmailTaken
from ats.domain.audit import (
    AUTHORISATION_FAILED,
    GENESIS,
    WORKFLOW_LOADED,
    WORKFLOW_MIGRATED,
    AuditEntry,
    seal_texts,
)
from ats.domain.candidacy import Candidacy, parse_facts
from ats.domain.drive import HiringDrive
from ats.domain.events import CandidacyAdvanced
from ats.domain.workflow import LANGUAGES, TransitionSpec, WorkflowDefinition
from ats.errors import (
    ConfigurationError,
    ConflictError,
    CooldownActive,
    DuplicateApplication,
    InvalidInput,
    MigrationRefused,
    NotFound,
    TransitionRefused,
)
from ats.service.app import App
from ats.service.audit import record_event
from ats.service.commands import Apply, FireTrigger, MigrateWorkflow
from ats.service.duplicates import link_duplicates
from ats.service.outbox import enqueue, mail_domain
from ats.service.unit_of_work import UnitOfWork

log = structlog.get_logger("ats")

PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{5,24}$")
DOCUMENT = cast(Table, DocumentRow.__table__)
PANEL = cast(Table, PanelMemberRow.__table__)
SCORECARD = cast(Table, ScorecardRow.__table__)
USER = cast(Table, UserRow.__table__)


@dataclass(frozen=True)
class LoadedWorkflow:
    name: str
    number: int
    content_hash: str
    new: bool


def load_workflows(
    app: App,
    definitions: Sequence[tuple[WorkflowDefinition, str]],
    *,
    actor: str = "system:init",
) -> list[LoadedWorkflow]:
    """Store each definition not stored yet (by content hash); idempotent and audited."""
    loaded: list[LoadedWorkflow] = []
    with app.unit_of_work() as uow:
        for definition, source in definitions:
            existing = uow.workflows.by_hash(definition.content_hash)
            if existing is not None:
                if uow.workflows.make_current(definition.name, existing["id"], now=app.clock.now()):
                    log.info(
                        "workflow.current", workflow=definition.name, number=existing["number"]
                    )
                loaded.append(
                    LoadedWorkflow(
                        existing["name"], existing["number"], definition.content_hash, False
                    )
                )
                continue
            version_id, number = uow.workflows.add(
                name=definition.name,
                content_hash=definition.content_hash,
                definition=definition.to_document(),
                source=source,
                now=app.clock.now(),
            )
            uow.workflows.make_current(definition.name, version_id, now=app.clock.now())
            loaded.append(LoadedWorkflow(definition.name, number, definition.content_hash, True))
            record_event(
                uow,
                app,
                kind=WORKFLOW_LOADED,
                actor=actor,
                role="system",
                subject=f"workflow:{definition.name}",
                details={"version": number, "hash": definition.content_hash},
            )
            log.info("workflow.stored", workflow=definition.name, number=number)
        uow.commit()
    return loaded


def load_drive(app: App, drive: HiringDrive) -> dict[str, int]:
    """Insert or update the drive's catalogue; returns how many rows changed per kind."""
    with app.unit_of_work() as uow:
        counts = uow.catalogue.load(drive)
        uow.commit()
    return counts


def apply(command: Apply, app: App) -> int:
    """Open a candidacy for a (new or known) candidate; return its id.

    Two applications of one new person at the same moment: the second one's
    transaction loses the race on the unique email and is run again, now finding
    the candidate the first one registered.
    """
    try:
        return _apply(command, app)
    except EmailTaken:
        return _apply(command, app)


def _apply(command: Apply, app: App) -> int:
    name = command.name.strip()
    problems = []
    if not name or len(name) > 200 or any(c in name for c in "\r\n\t\x00"):
        problems.append("name: give the candidate's name, one line, at most 200 characters")
    try:
        # ASCII only: every mail server can deliver it (IDN domains become punycode).
        email = (
            validate_email(
                command.email, check_deliverability=False, allow_smtputf8=False
            ).ascii_email
            or ""
        )
    except EmailNotValidError as exc:
        problems.append(f"email {command.email!r}: {exc}")
        email = ""
    if command.language not in LANGUAGES:
        problems.append(f"language {command.language!r}: choose one of {', '.join(LANGUAGES)}")
    phone = (command.phone or "").strip() or None
    if phone is not None and not PHONE.match(phone):
        problems.append(f"phone {phone!r}: digits, spaces and + ( ) . / - only")
    birth_date = command.birth_date
    if birth_date is not None:
        today = app.clock.now().astimezone(app.settings.zone).date()
        if birth_date.year < 1900 or birth_date > today:
            problems.append(
                f"birth date {birth_date.isoformat()}: give a date from 1900-01-01 to today "
                f"({today.isoformat()}), as YYYY-MM-DD"
            )
    if problems:
        raise InvalidInput("cannot apply: " + "; ".join(problems))

    now = app.clock.now()
    with app.unit_of_work() as uow:
        vacancy = uow.catalogue.vacancy(command.vacancy)
        if vacancy is None:
            raise NotFound(f"no vacancy {command.vacancy!r}; `ats vacancy list` shows them")
        workflow = uow.workflows.current(vacancy["workflow"])
        if workflow is None:
            raise ConfigurationError(
                f"workflow {vacancy['workflow']!r} is not loaded; run `ats init` first"
            )
        definition = app.registry.definition(uow, workflow["id"])
        facts = parse_facts(definition, command.facts)
        candidate = uow.candidates.by_email(email)
        if candidate is None:
            key = secrets.token_hex(8)
            candidate_id = uow.candidates.add(
                key=key,
                name=name,
                email=email,
                language=command.language,
                phone=phone,
                now=now,
                birth_date=birth_date,
            )
        else:
            key, candidate_id = candidate["key"], candidate["id"]
            if uow.candidacies.exists(candidate_id, command.vacancy):
                raise DuplicateApplication(
                    f"{email} has already applied to vacancy {command.vacancy}; "
                    "one candidacy per candidate and vacancy"
                )
            if definition.selection is not None:
                _check_cooldown(uow, app, candidate_id, definition.selection.module, now)
        candidacy_id = uow.candidacies.add(
            candidate_id=candidate_id,
            vacancy=command.vacancy,
            workflow_version_id=workflow["id"],
            state=definition.initial_state,
            audit_head=GENESIS,
            now=now,
            facts=facts,
        )
        if command.document is not None:
            uow.connection.execute(
                insert(DOCUMENT).values(
                    candidacy_id=candidacy_id, uploaded_at=now, **asdict(command.document)
                )
            )
        # Free text may hold personal data: the entry hashes seals, the texts are kept aside.
        _, sealed, texts = seal_texts(None, facts, definition.text_facts)
        entry = AuditEntry(
            candidacy_id=candidacy_id,
            seq=1,
            candidate_key=key,
            vacancy=command.vacancy,
            actor=command.actor or f"candidate:{key}",
            role=command.role,
            trigger="apply",
            src=None,
            dst=definition.initial_state,
            reason=None,
            facts=sealed,
            workflow_version_id=workflow["id"],
            workflow_hash=workflow["content_hash"],
            occurred_at=now,
            request_id=command.request_id,
            process=app.process,
            prev_hash=GENESIS,
        )
        head = uow.audit.append(entry, texts=texts)
        uow.candidacies.set_head(candidacy_id, head)
        arm_timers(uow, app, definition, candidacy_id, definition.initial_state, 1, now)
        if definition.notify_on_apply:
            enqueue(
                uow,
                app,
                candidacy_id=candidacy_id,
                audit_seq=1,
                template=definition.notify_on_apply,
                context={
                    "state": definition.initial_state,
                    "at": now.isoformat(),
                    "workflow_version_id": workflow["id"],
                },
                now=now,
            )
        # A possible second record of the same person: linked for the recruiter to settle.
        link_duplicates(uow, app, candidate_id)
        uow.commit()
    log.info("candidacy.opened", candidacy=candidacy_id, vacancy=command.vacancy)
    return candidacy_id


def _check_cooldown(
    uow: UnitOfWork, app: App, candidate_id: int, module: str, now: datetime
) -> None:
    """Refuse an application while the candidate's last failure of ``module`` is too recent."""
    failed_on: date | None = None
    for trigger, occurred_at, version_id in uow.connection.execute(
        select(AUDIT.c.trigger, AUDIT.c.occurred_at, AUDIT.c.workflow_version_id)
        .join(CANDIDACY, CANDIDACY.c.id == AUDIT.c.candidacy_id)
        .where(CANDIDACY.c.candidate_id == candidate_id)
    ):
        spec = app.registry.definition(uow, version_id).selection
        if spec is not None and spec.module == module and trigger == spec.failed:
            day = occurred_at.astimezone(app.settings.zone).date()
            failed_on = max(failed_on or day, day)
    if failed_on is None:
        return
    until = add_months(failed_on, app.settings.selor_cooldown_months)
    if now.astimezone(app.settings.zone).date() < until:
        raise CooldownActive(
            f"the candidate failed the {module} Selor test on {failed_on.isoformat()}; "
            f"vacancies needing it accept their application from {until.isoformat()}"
        )


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def fire_trigger(command: FireTrigger, app: App) -> CandidacyAdvanced:
    """Fire a trigger: state and version by compare-and-set, plus one audit entry, atomically.

    A refusal for the role alone is a failed authorisation, which auditors see as
    an event of its own (the refused transition itself writes nothing).
    """
    try:
        return _advance(command, app)
    except TransitionRefused as refused:
        if refused.http_status == 403:
            with app.unit_of_work() as uow:
                record_event(
                    uow,
                    app,
                    kind=AUTHORISATION_FAILED,
                    actor=command.actor,
                    role=command.role,
                    subject=f"candidacy:{command.candidacy_id}",
                    details={"trigger": command.trigger},
                    request_id=command.request_id,
                )
                uow.commit()
        raise


def _advance(command: FireTrigger, app: App) -> CandidacyAdvanced:
    with app.unit_of_work() as uow:
        event = advance(uow, app, command)
        uow.commit()
    log.info(
        "candidacy.advanced",
        candidacy=event.candidacy_id,
        trigger=event.trigger,
        src=event.src,
        dst=event.dst,
        role=event.role,
    )
    return event


def advance(uow: UnitOfWork, app: App, command: FireTrigger) -> CandidacyAdvanced:
    """Everything one transition writes, in the caller's transaction (which commits it).

    State and version by compare-and-set, one chained audit entry, the timers
    of the state left cancelled and those of the state entered armed.
    """
    found = uow.candidacies.get(command.candidacy_id)
    if found is None:
        raise NotFound(f"no candidacy {command.candidacy_id}")
    candidacy, head = found
    if command.expected_version is not None and command.expected_version != candidacy.version:
        raise ConflictError(
            f"candidacy {candidacy.id} is at version {candidacy.version}, "
            f"not {command.expected_version}; reload it and try again"
        )
    read_version = candidacy.version
    definition = app.registry.definition(uow, candidacy.workflow_version_id)
    interview = definition.interview
    if (
        interview is not None
        and command.trigger in (interview.passed, interview.failed)
        and not command.panel_decision
    ):
        raise TransitionRefused(
            f"cannot fire {command.trigger!r}",
            [
                f"{command.trigger!r} follows the interview panel's consensus: the chair "
                "records it with the scores (`ats interview decide`)"
            ],
        )
    if (
        interview is not None
        and interview.total_fact in command.facts
        and not command.panel_decision
    ):
        raise TransitionRefused(
            f"cannot fire {command.trigger!r}",
            [
                f"{interview.total_fact!r} is recorded by the interview panel's consensus, not by hand"
            ],
        )
    leaving = definition.transition(command.trigger, candidacy.state)
    if leaving is not None and leaving.consensus:
        _consensus(uow, candidacy.id, leaving)
    if leaving is not None and leaving.once:
        _once(uow, candidacy.id, leaving)
    if leaving is not None and leaving.approves:
        _four_eyes(uow, candidacy.id, candidacy.vacancy, leaving, command.actor)
    event = candidacy.fire(
        definition,
        app.registry.machine(definition),
        trigger=command.trigger,
        actor=command.actor,
        role=command.role,
        reason=command.reason,
        facts=command.facts,
        now=app.clock.now(),
    )
    # Free text may hold personal data: the entry hashes seals, the texts are kept aside.
    reason, facts, texts = seal_texts(event.reason, event.facts, definition.text_facts)
    entry = AuditEntry(
        candidacy_id=candidacy.id,
        seq=candidacy.version,
        candidate_key=candidacy.candidate_key,
        vacancy=candidacy.vacancy,
        actor=command.actor,
        role=command.role,
        trigger=event.trigger,
        src=event.src,
        dst=event.dst,
        reason=reason,
        facts=facts,
        workflow_version_id=candidacy.workflow_version_id,
        workflow_hash=definition.content_hash,
        occurred_at=event.at,
        request_id=command.request_id,
        process=app.process,
        prev_hash=head,
    )
    digest = entry.hash
    uow.candidacies.save(candidacy, expected_version=read_version, audit_head=digest)
    uow.audit.append(entry, texts=texts, digest=digest)
    uow.timers.cancel(candidacy.id, now=event.at, by=command.actor)
    arm_timers(uow, app, definition, candidacy.id, event.dst, candidacy.version, event.at)
    if event.notify:
        context: dict[str, object] = {
            "state": event.dst,
            "reason": event.reason,
            "at": event.at.isoformat(),
            "workflow_version_id": candidacy.workflow_version_id,
        }
        invitation = _invitation(uow, app, definition, candidacy, event)
        if invitation is not None:
            context["invitation"] = invitation
        enqueue(
            uow,
            app,
            candidacy_id=candidacy.id,
            audit_seq=candidacy.version,
            template=event.notify,
            context=context,
            now=event.at,
        )
        if invitation is not None and interview and invitation.get("state") == interview.state:
            _invite_panel(uow, app, candidacy, context, event.at)
    return event


PANEL_INVITED = "panel_invited"  # notifications/<lang>/panel_invited.txt


def _invite_panel(
    uow: UnitOfWork, app: App, candidacy: Candidacy, context: dict[str, object], now: datetime
) -> None:
    """The interview's calendar entry (or its move or cancellation) to each panel member
    with an address, in the same transaction as the candidate's."""
    members = uow.connection.execute(
        select(PANEL.c.user_id).where(PANEL.c.vacancy == candidacy.vacancy)
    ).scalars()
    tell_panel(uow, app, candidacy.id, candidacy.version, context, now, list(members))


def tell_panel(
    uow: UnitOfWork,
    app: App,
    candidacy_id: int,
    audit_seq: int,
    context: Mapping[str, object],
    now: datetime,
    user_ids: list[int],
    tag: str = "",
) -> None:
    """``panel_invited`` with ``context``'s calendar part to each of ``user_ids`` who is
    active and has an address (``tag`` keeps Message-IDs apart within one audit entry)."""
    reachable = uow.connection.execute(
        select(USER.c.id)
        .where(USER.c.id.in_(user_ids), USER.c.email.is_not(None), USER.c.disabled.is_(False))
        .order_by(USER.c.id)
    ).scalars()
    for user_id in list(reachable):
        enqueue(
            uow,
            app,
            candidacy_id=candidacy_id,
            audit_seq=audit_seq,
            template=PANEL_INVITED,
            context=context,
            now=now,
            extra=f"user{user_id}{tag}",
            recipient_user_id=user_id,
        )


def _consensus(uow: UnitOfWork, candidacy_id: int, spec: TransitionSpec) -> None:
    """``consensus: pass``: the panel's recorded decision on this candidacy was a pass."""
    passed = uow.connection.execute(
        select(SCORECARD.c.passed)
        .where(
            SCORECARD.c.candidacy_id == candidacy_id,
            SCORECARD.c.kind == "consensus",
            SCORECARD.c.superseded_at.is_(None),
        )
        .order_by(SCORECARD.c.id.desc())
        .limit(1)
    ).scalar()
    if passed is None:
        reason = "the interview panel has not recorded a consensus on this candidacy"
    elif not passed:
        reason = "the interview panel's consensus was not a pass"
    else:
        return
    raise TransitionRefused(f"cannot fire {spec.trigger!r}", [reason])


def _once(uow: UnitOfWork, candidacy_id: int, spec: TransitionSpec) -> None:
    """``once: true``: the audit log holds no earlier firing of this trigger on the candidacy."""
    earlier = uow.connection.execute(
        select(AUDIT.c.seq)
        .where(AUDIT.c.candidacy_id == candidacy_id, AUDIT.c.trigger == spec.trigger)
        .limit(1)
    ).scalar()
    if earlier is not None:
        raise TransitionRefused(
            f"cannot fire {spec.trigger!r}",
            [
                f"{spec.trigger!r} happens once per candidacy and was fired already (entry {earlier})"
            ],
        )


def _four_eyes(
    uow: UnitOfWork, candidacy_id: int, vacancy: str, spec: TransitionSpec, actor: str
) -> None:
    """An approval is a second person's: not who asked for it, nor anyone on the panel."""
    requester = uow.connection.execute(
        select(AUDIT.c.actor)
        .where(AUDIT.c.candidacy_id == candidacy_id, AUDIT.c.trigger == spec.approves)
        .order_by(AUDIT.c.seq.desc())
        .limit(1)
    ).scalar()
    panel = set(
        uow.connection.execute(
            select(USER.c.username)
            .join(PANEL, PANEL.c.user_id == USER.c.id)
            .where(PANEL.c.vacancy == vacancy)
            .union(
                select(USER.c.username)
                .join(SCORECARD, SCORECARD.c.user_id == USER.c.id)
                .where(SCORECARD.c.candidacy_id == candidacy_id)
            )
        ).scalars()
    )
    reasons = []
    if requester is None:
        reasons.append(f"nothing to approve: {spec.approves!r} was not asked for")
    elif requester == actor:
        reasons.append(
            f"four eyes: {actor} asked for this ({spec.approves}); another person approves it"
        )
    if actor.startswith("user:") and actor.removeprefix("user:") in panel:
        reasons.append(f"four eyes: {actor} sat on the interview panel; someone outside it decides")
    if reasons:
        raise TransitionRefused(f"cannot fire {spec.trigger!r}", reasons, forbidden=True)


def _invitation(
    uow: UnitOfWork,
    app: App,
    definition: WorkflowDefinition,
    candidacy: Candidacy,
    event: CandidacyAdvanced,
) -> dict[str, object] | None:
    """The calendar part of this step's mail: a request, a reschedule, or a cancellation.

    A cancellation goes out when the candidacy ends (rejected, withdrawn) before a
    session it was invited to has taken place.

    One UID per candidacy and state; SEQUENCE is the candidacy's version, so each
    later request or cancellation supersedes the earlier one in the candidate's calendar.
    """
    spec = definition.transition(event.trigger, event.src)
    if spec is not None and spec.invitation is not None:
        start = datetime.fromisoformat(str(candidacy.facts[spec.invitation.start]))
        return {
            "uid": invitation_uid(app, candidacy.id, event.dst),
            "sequence": candidacy.version,
            "method": "REQUEST",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=spec.invitation.minutes)).isoformat(),
            "location": str(candidacy.facts[spec.invitation.location]),
            "state": event.dst,
        }
    if not definition.states[event.dst].final:
        return None  # moving on (e.g. a result recorded): the session stands as it was
    prior = uow.outbox.latest_invitation(candidacy.id, invitation_uid(app, candidacy.id, event.src))
    if prior is None or prior["method"] != "REQUEST":
        return None
    if datetime.fromisoformat(str(prior["end"])) <= event.at:
        return None  # it took place; nothing to cancel
    return {**prior, "method": "CANCEL", "sequence": candidacy.version}


def invitation_uid(app: App, candidacy_id: int, state: str) -> str:
    domain = mail_domain(app.settings.mail_from)
    return f"ats-{candidacy_id}-{state}@{domain}"


def arm_timers(
    uow: UnitOfWork,
    app: App,
    definition: WorkflowDefinition,
    candidacy_id: int,
    state: str,
    state_version: int,
    entered_at: datetime,
    *,
    reminders: set[str] | None = None,
) -> None:
    """Arm the timeout of ``state`` and its reminders, counted on the working calendar.

    ``reminders`` limits the reminders armed to those templates (a migration that
    keeps a candidacy in its state must not repeat reminders already sent).
    """
    timeout = definition.states[state].timeout
    if timeout is None:
        return
    due = app.calendar.add(entered_at, timeout.after)
    common = {
        "candidacy_id": candidacy_id,
        "state": state,
        "state_version": state_version,
        "status": "armed",
        "armed_at": entered_at,
    }
    rows: list[dict[str, object]] = [
        {**common, "kind": "timeout", "trigger": timeout.trigger, "template": None, "due_at": due}
    ]
    for reminder in timeout.reminders:
        if reminders is not None and reminder.notify not in reminders:
            continue
        rows.append(
            {
                **common,
                "kind": "reminder",
                "trigger": None,
                "template": reminder.notify,
                "due_at": app.calendar.subtract(due, reminder.before),
            }
        )
    uow.timers.arm(rows)


@dataclass
class MigrationPlan:
    workflow: str
    from_number: int
    to_number: int
    moves: list[tuple[int, str, str]] = field(default_factory=list)  # candidacy, src, dst
    applied: bool = False

    def counts(self) -> dict[tuple[str, str], int]:
        result: dict[tuple[str, str], int] = {}
        for _, src, dst in self.moves:
            result[src, dst] = result.get((src, dst), 0) + 1
        return result


def migrate_workflow(command: MigrateWorkflow, app: App) -> MigrationPlan:
    """Move in-flight candidacies to a newer version along an explicit state map.

    States that exist in both versions map to themselves unless the map says
    otherwise; a state in use with no target refuses the whole migration.
    """
    now = app.clock.now()
    with app.unit_of_work() as uow:
        old = uow.workflows.find(command.workflow, command.from_number)
        if old is None:
            raise NotFound(f"workflow {command.workflow} has no version {command.from_number}")
        new = (
            uow.workflows.current(command.workflow)
            if command.to_number is None
            else uow.workflows.find(command.workflow, command.to_number)
        )
        if new is None:
            raise NotFound(f"workflow {command.workflow} has no version {command.to_number}")
        if new["number"] <= old["number"]:
            raise MigrationRefused(
                f"migrate forward only: v{old['number']} to v{new['number']} is not newer"
            )
        old_def = app.registry.definition(uow, old["id"])
        new_def = app.registry.definition(uow, new["id"])
        problems = []
        for src, dst in command.state_map.items():
            if src not in old_def.states:
                problems.append(f"map {src}={dst}: v{old['number']} has no state {src!r}")
            if dst not in new_def.states:
                problems.append(
                    f"map {src}={dst}: v{new['number']} has no state {dst!r} "
                    f"(it has: {', '.join(new_def.states)})"
                )
        if problems:
            raise MigrationRefused("the state map is wrong:\n  " + "\n  ".join(problems))
        mapping = {s: s for s in old_def.states if s in new_def.states}
        mapping.update(command.state_map)
        rows = uow.candidacies.states_on_version(old["id"])
        finals = {s.name for s in old_def.states.values() if s.final}
        plan = MigrationPlan(command.workflow, old["number"], new["number"])
        unmapped: dict[str, int] = {}
        for candidacy_id, state in rows:
            if state in finals:
                continue
            if state not in mapping:
                unmapped[state] = unmapped.get(state, 0) + 1
            else:
                plan.moves.append((candidacy_id, state, mapping[state]))
        if unmapped:
            detail = ", ".join(f"{s} ({n} candidacies)" for s, n in sorted(unmapped.items()))
            raise MigrationRefused(
                f"v{new['number']} has no state for: {detail}; "
                "map each with --map OLD=NEW and run again"
            )
        if command.dry_run:
            return plan
        for candidacy_id, src, dst in plan.moves:
            found = uow.candidacies.get(candidacy_id)
            if found is None or found[0].state != src or found[0].workflow_version_id != old["id"]:
                raise ConflictError(
                    f"candidacy {candidacy_id} moved while the migration ran; nothing was "
                    "migrated: run it again"
                )
            candidacy, head = found
            read_version = candidacy.version
            candidacy.state = dst
            candidacy.version += 1
            candidacy.workflow_version_id = new["id"]
            if src != dst:
                candidacy.state_entered_at = now
            entry = AuditEntry(
                candidacy_id=candidacy_id,
                seq=candidacy.version,
                candidate_key=candidacy.candidate_key,
                vacancy=candidacy.vacancy,
                actor=command.actor,
                role="system",
                trigger="migrate",
                src=src,
                dst=dst,
                reason=f"workflow {command.workflow} v{old['number']} -> v{new['number']}",
                facts={},
                workflow_version_id=new["id"],
                workflow_hash=new["content_hash"],
                occurred_at=now,
                request_id=command.request_id,
                process=app.process,
                prev_hash=head,
            )
            uow.candidacies.save(candidacy, expected_version=read_version, audit_head=entry.hash)
            uow.audit.append(entry)
            pending = uow.timers.armed_reminders(candidacy_id) if src == dst else None
            uow.timers.cancel(candidacy_id, now=now, by=command.actor)
            arm_timers(
                uow,
                app,
                new_def,
                candidacy_id,
                dst,
                candidacy.version,
                candidacy.state_entered_at,
                reminders=pending,
            )
        record_event(
            uow,
            app,
            kind=WORKFLOW_MIGRATED,
            actor=command.actor,
            role="system",
            subject=f"workflow:{command.workflow}",
            details={
                "from": old["number"],
                "to": new["number"],
                "candidacies": len(plan.moves),
                "map": dict(command.state_map),
            },
            request_id=command.request_id,
        )
        uow.commit()
        plan.applied = True
    log.info(
        "workflow.migrated",
        workflow=command.workflow,
        src=plan.from_number,
        dst=plan.to_number,
        candidacies=len(plan.moves),
    )
    return plan


HANDLERS: Mapping[type, Callable[[Any, App], Any]] = {
    Apply: apply,
    FireTrigger: fire_trigger,
    MigrateWorkflow: migrate_workflow,
}
