"""A candidacy: one candidate's path through one vacancy's workflow.

Deciding whether a trigger may fire is a pure function of the definition,
the state, the facts and the actor's role, so that "what can I do now, and
why not the rest" is answered by the same code that refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ats.domain.engine import WorkflowMachine
from ats.domain.events import CandidacyAdvanced, Event
from ats.domain.workflow import FactValue, WorkflowDefinition
from ats.errors import InvalidInput, TransitionRefused


@dataclass(frozen=True)
class Decision:
    """Whether ``trigger`` may fire now, and every reason it may not."""

    trigger: str
    dest: str | None
    allowed: bool
    reasons: tuple[str, ...] = ()
    forbidden: bool = False  # refused for the role alone: HTTP 403 rather than 422
    reason_required: bool = False


@dataclass
class Candidacy:
    id: int
    candidate_key: str
    vacancy: str
    workflow_version_id: int
    state: str
    version: int
    facts: dict[str, Any]
    state_entered_at: datetime
    events: list[Event] = field(default_factory=list)

    def fire(
        self,
        definition: WorkflowDefinition,
        machine: WorkflowMachine,
        *,
        trigger: str,
        actor: str,
        role: str,
        reason: str | None,
        facts: Mapping[str, object],
        now: datetime,
    ) -> CandidacyAdvanced:
        """Apply ``trigger``; raise TransitionRefused naming every reason it cannot."""
        recorded = parse_facts(definition, facts)
        merged = {**self.facts, **recorded}
        decision = decide(definition, self.state, merged, trigger, role, reason=reason)
        if not decision.allowed:
            raise TransitionRefused(
                f"cannot fire {trigger!r} on candidacy {self.id} in state {self.state!r} as {role}",
                decision.reasons,
                forbidden=decision.forbidden,
            )
        src = self.state
        dst = machine.advance(src, trigger)
        spec = definition.transition(trigger, src)
        self.state = dst
        self.version += 1
        self.facts = merged
        self.state_entered_at = now
        event = CandidacyAdvanced(
            candidacy_id=self.id,
            trigger=trigger,
            src=src,
            dst=dst,
            actor=actor,
            role=role,
            reason=reason or None,
            facts=recorded,
            notify=spec.notify if spec else None,
            at=now,
        )
        self.events.append(event)
        return event


def decide(
    definition: WorkflowDefinition,
    state: str,
    facts: Mapping[str, object],
    trigger: str,
    role: str,
    *,
    reason: str | None = None,
    check_reason: bool = True,
) -> Decision:
    """May ``role`` fire ``trigger`` from ``state`` with these facts? Every why-not listed."""
    if trigger not in definition.triggers:
        return Decision(
            trigger,
            None,
            False,
            (
                f"workflow {definition.name} has no trigger {trigger!r} "
                f"(it has: {', '.join(definition.triggers)})",
            ),
        )
    spec = definition.transition(trigger, state)
    if spec is None:
        leaving = [t.trigger for t in definition.transitions if state in t.sources]
        return Decision(
            trigger,
            None,
            False,
            (
                f"{trigger!r} does not leave state {state!r} "
                f"(from there: {', '.join(leaving) or 'nothing, it is final'})",
            ),
        )
    reasons: list[str] = []
    forbidden = False
    if role not in spec.roles:
        forbidden = True
        reasons.append(
            f"role {role!r} may not fire {trigger!r}; roles that may: {', '.join(sorted(spec.roles))}"
        )
    for guard in spec.guards:
        failure = guard.failure(facts)
        if failure:
            reasons.append(failure)
    if spec.invitation:
        for name in (spec.invitation.start, spec.invitation.location):
            if facts.get(name) in (None, ""):
                reasons.append(f"{trigger!r} sends an invitation: record --fact {name}=...")
    if check_reason and spec.reason_required and not (reason and reason.strip()):
        reasons.append(f"{trigger!r} needs a reason (--reason)")
    return Decision(
        trigger,
        spec.dest,
        not reasons,
        tuple(reasons),
        forbidden=forbidden and len(reasons) == 1,
        reason_required=spec.reason_required,
    )


def options(
    definition: WorkflowDefinition, state: str, facts: Mapping[str, object], role: str
) -> list[Decision]:
    """Every trigger leaving ``state``: whether ``role`` can fire it now, and why not."""
    return [
        decide(definition, state, facts, spec.trigger, role, check_reason=False)
        for spec in definition.transitions
        if state in spec.sources
    ]


def parse_facts(definition: WorkflowDefinition, raw: Mapping[str, object]) -> dict[str, FactValue]:
    """Typed facts from raw values; unknown names and bad values are InvalidInput."""
    parsed: dict[str, FactValue] = {}
    problems: list[str] = []
    for name, value in raw.items():
        spec = definition.facts.get(name)
        if spec is None:
            problems.append(
                f"unknown fact {name!r} for workflow {definition.name} "
                f"(it records: {', '.join(definition.facts) or 'no facts'})"
            )
            continue
        try:
            parsed[name] = spec.parse(value)
        except InvalidInput as exc:
            problems.append(exc.message)
    if problems:
        raise InvalidInput("; ".join(problems))
    return parsed
