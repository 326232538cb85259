"""Workflow definitions: the declarative selection path of one job function.

A definition is parsed from a mapping (a YAML document, or the canonical JSON
stored in the database) and validated in the same pass, so that every problem
names its file, line and field. The canonical document of a definition is
what its content hash covers: comments and layout in the YAML do not make a
new version, a changed rule does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from ats.domain.guards import CompiledGuard, GuardSyntaxError, compile_guard
from ats.domain.interview import Criterion, InterviewSpec, PassRule
from ats.domain.roles import FIRING_ROLES
from ats.errors import InvalidInput, Problem, WorkflowInvalid

LANGUAGES = ("nl", "fr", "de", "en")
FACT_TYPES = ("integer", "boolean", "choice", "text", "date", "datetime")
LOCAL_ZONE = ZoneInfo("Europe/Brussels")  # a time given without an offset is Belgian time
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_STEM = re.compile(r"^[a-z][a-z0-9-]*$")
_WHOLE = re.compile(r"^-?[0-9]+$")
_DURATION = re.compile(r"^\s*(\d+)\s+(?:(working|selor)\s+)?days?\s*$")
FactValue = int | bool | str


@dataclass(frozen=True)
class Catalog:
    """What a workflow may refer to outside itself. ``None`` means: do not check."""

    roles: frozenset[str] = FIRING_ROLES
    languages: tuple[str, ...] = LANGUAGES
    template_keys: frozenset[str] | None = None
    job_functions: frozenset[str] | None = None


DURATION_UNITS = ("days", "working days", "selor days")


@dataclass(frozen=True)
class Duration:
    """A span on a calendar: plain days, working days, or Selor days (Saturdays count)."""

    amount: int
    unit: str = "days"

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit.removesuffix("s")
        return f"{self.amount} {unit}"


@dataclass(frozen=True)
class FactSpec:
    name: str
    type: str
    label: Mapping[str, str]
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    line: int | None = field(default=None, compare=False)

    def parse(self, raw: object) -> FactValue:
        """Turn a value given on the command line or in JSON into this fact's type."""
        text = str(raw).strip()
        if self.type == "integer":
            if isinstance(raw, bool):
                raise InvalidInput(f"fact {self.name}: expected a whole number, got {raw!r}")
            try:
                number = int(text)
            except ValueError:
                raise InvalidInput(
                    f"fact {self.name}: expected a whole number, got {text!r}"
                ) from None
            if self.minimum is not None and number < self.minimum:
                raise InvalidInput(
                    f"fact {self.name}: {number} is below the minimum {self.minimum}"
                )
            if self.maximum is not None and number > self.maximum:
                raise InvalidInput(
                    f"fact {self.name}: {number} is above the maximum {self.maximum}"
                )
            return number
        if self.type == "boolean":
            if isinstance(raw, bool):
                return raw
            lowered = text.lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise InvalidInput(f"fact {self.name}: expected true or false, got {text!r}")
        if self.type == "choice":
            if text not in self.choices:
                raise InvalidInput(
                    f"fact {self.name}: {text!r} is not one of {', '.join(self.choices)}"
                )
            return text
        if self.type == "date":
            try:
                # Stored as ISO text: JSON keeps it as is and ISO dates compare in order.
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise InvalidInput(
                    f"fact {self.name}: expected a date as YYYY-MM-DD, got {text!r}"
                ) from None
        if self.type == "datetime":
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise InvalidInput(
                    f"fact {self.name}: expected a time like 2021-07-24T09:00 (Brussels) "
                    f"or with an offset, got {text!r}"
                ) from None
            if not 1900 <= moment.year <= 2100:  # also keeps offsets and durations from overflowing
                raise InvalidInput(
                    f"fact {self.name}: {text!r} is not a plausible date (years 1900 to 2100)"
                )
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=LOCAL_ZONE)
            return moment.astimezone(UTC).isoformat()  # UTC inside
        if not text:
            raise InvalidInput(f"fact {self.name}: must not be empty")
        return text

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type, "label": dict(self.label)}
        if self.choices:
            doc["choices"] = list(self.choices)
        if self.minimum is not None:
            doc["min"] = self.minimum
        if self.maximum is not None:
            doc["max"] = self.maximum
        return doc


@dataclass(frozen=True)
class Reminder:
    before: Duration
    notify: str
    line: int | None = field(default=None, compare=False)
    to: str = "candidate"  # or "approvers": who may approve what waits in the state


REMINDED = ("candidate", "approvers")


@dataclass(frozen=True)
class Timeout:
    after: Duration
    trigger: str
    reminders: tuple[Reminder, ...] = ()
    line: int | None = field(default=None, compare=False)
    trigger_line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: Mapping[str, str]
    public: Mapping[str, str]
    initial: bool = False
    final: bool = False
    timeout: Timeout | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class InvitationSpec:
    """A calendar invitation sent with the transition's mail (Selor sessions, interviews)."""

    start: str  # a datetime fact
    location: str  # a text fact
    minutes: int


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    guards: tuple[CompiledGuard, ...] = ()
    reason_required: bool = False
    notify: str | None = None
    invitation: InvitationSpec | None = None
    approves: str | None = None  # four eyes: a second person approves what this trigger asked
    consensus: bool = False  # fires only after the interview panel's consensus was a pass
    once: bool = False  # fires at most once per candidacy (a no-show's one second chance)
    line: int | None = field(default=None, compare=False)
    source_line: int | None = field(default=None, compare=False)
    dest_line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SelectionSpec:
    """How selection sessions (Selor) seat, invite and score this workflow's candidacies."""

    module: str  # the test module; failing it starts the cooldown for vacancies needing it
    waiting: str  # candidacies wait here for a seat
    invite: str  # seats a waiting candidacy: its invitation carries the session's time and place
    reschedule: str  # moves a seated candidacy to another session
    score: str  # the integer fact a result fills in
    passed: str  # fired for a pass
    failed: str  # fired for a fail
    seated: str  # where the invitation leads: seated candidacies wait here for their result
    at_fact: str  # the datetime fact the invitation fills with the session's start
    place_fact: str  # the text fact it fills with the session's place
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class WorkflowDefinition:
    """One version of a job function's selection path, validated."""

    name: str
    job_function: str
    description: str
    facts: Mapping[str, FactSpec]
    states: Mapping[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    notify_on_apply: str | None = None
    selection: SelectionSpec | None = None
    application_facts: tuple[str, ...] = ()  # what the public application form asks
    interview: InterviewSpec | None = None  # the panel's competency model and pass rule
    file: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)  # of the name key, for messages

    @property
    def text_facts(self) -> frozenset[str]:
        """Facts of free text: they may hold personal data, so audit records seal them."""
        return frozenset(name for name, spec in self.facts.items() if spec.type == "text")

    @property
    def initial_state(self) -> str:
        return next(s.name for s in self.states.values() if s.initial)

    def transition(self, trigger: str, source: str) -> TransitionSpec | None:
        for spec in self.transitions:
            if spec.trigger == trigger and source in spec.sources:
                return spec
        return None

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    @property
    def template_keys(self) -> frozenset[str]:
        keys = {t.notify for t in self.transitions if t.notify}
        if self.notify_on_apply:
            keys.add(self.notify_on_apply)
        for state in self.states.values():
            if state.timeout:
                keys.update(r.notify for r in state.timeout.reminders)
        return frozenset(keys)

    def to_document(self) -> dict[str, Any]:
        """The canonical form: what is stored and what the content hash covers."""
        states: dict[str, Any] = {}
        for state in self.states.values():
            doc: dict[str, Any] = {"label": dict(state.label), "public": dict(state.public)}
            if state.initial:
                doc["initial"] = True
            if state.final:
                doc["final"] = True
            if state.timeout:
                doc["timeout"] = {
                    "after": str(state.timeout.after),
                    "trigger": state.timeout.trigger,
                    "reminders": [
                        {"before": str(r.before), "notify": r.notify}
                        | ({"to": r.to} if r.to != "candidate" else {})
                        for r in state.timeout.reminders
                    ],
                }
            states[state.name] = doc
        transitions = []
        for spec in self.transitions:
            entry: dict[str, Any] = {
                "trigger": spec.trigger,
                "from": list(spec.sources),
                "to": spec.dest,
                "roles": sorted(spec.roles),
                "guards": [{"expr": g.expr, "description": g.description} for g in spec.guards],
                "reason": "required" if spec.reason_required else "optional",
            }
            if spec.notify:
                entry["notify"] = spec.notify
            if spec.approves:
                entry["approves"] = spec.approves
            if spec.consensus:
                entry["consensus"] = "pass"
            if spec.once:
                entry["once"] = True
            if spec.invitation:
                entry["invitation"] = {
                    "start": spec.invitation.start,
                    "location": spec.invitation.location,
                    "minutes": spec.invitation.minutes,
                }
            transitions.append(entry)
        document: dict[str, Any] = {
            "name": self.name,
            "job_function": self.job_function,
            "description": self.description,
            "facts": {name: fact.to_document() for name, fact in self.facts.items()},
            "states": states,
            "transitions": transitions,
        }
        if self.notify_on_apply:
            document["notify_on_apply"] = self.notify_on_apply
        if self.application_facts:
            document["application"] = {"facts": list(self.application_facts)}
        if self.interview:
            document["interview"] = self.interview.to_document()
        if self.selection:
            document["selection"] = {
                "module": self.selection.module,
                "waiting": self.selection.waiting,
                "invite": self.selection.invite,
                "reschedule": self.selection.reschedule,
                "score": self.selection.score,
                "pass": self.selection.passed,
                "fail": self.selection.failed,
            }
        return document

    @cached_property
    def content_hash(self) -> str:
        canonical = json.dumps(
            self.to_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_workflow(
    document: object,
    *,
    file: str,
    catalog: Catalog | None = None,
    expected_name: str | None = None,
) -> WorkflowDefinition:
    """Parse and validate; raise WorkflowInvalid listing every problem found.

    ``expected_name`` is the file's stem, which the ``name`` key must repeat.
    """
    reader = _Reader(file, catalog or Catalog(), expected_name)
    definition = reader.workflow(document)
    if reader.problems or definition is None:
        raise WorkflowInvalid(reader.problems)
    return definition


def parse_duration(text: object) -> Duration:
    match = _DURATION.match(str(text)) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"expected 'N days', 'N working days' or 'N selor days', got {text!r}")
    kind = match.group(2)
    return Duration(int(match.group(1)), f"{kind} days" if kind else "days")


def line_of(node: object, key: object = None) -> int | None:
    """1-based line of ``node`` (or of ``key`` in it) when it came from YAML."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int):
            return int(lc.item(key)[0]) + 1
        return int(lc.key(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1


class _Reader:
    """Walks a document once, building the definition and collecting problems."""

    def __init__(self, file: str, catalog: Catalog, expected_name: str | None = None) -> None:
        self.file = file
        self.catalog = catalog
        self.expected_name = expected_name
        self.problems: list[Problem] = []

    def problem(self, line: int | None, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, where, message))

    def mapping(self, node: object, where: str, line: int | None) -> Mapping[str, Any] | None:
        if isinstance(node, Mapping):
            return node
        self.problem(line, where, f"expected a mapping, got {_kind(node)}")
        return None

    def keys(
        self,
        node: Mapping[str, Any],
        where: str,
        *,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> None:
        allowed = set(allowed)
        for key in node:
            if key not in allowed:
                self.problem(
                    line_of(node, key),
                    f"{where}.{key}" if where else str(key),
                    f"unknown key (allowed here: {', '.join(sorted(allowed))})",
                )
        for key in required:
            if key not in node:
                self.problem(line_of(node), f"{where}.{key}" if where else key, "is required")

    def text(self, node: Mapping[str, Any], key: str, where: str, *, default: str = "") -> str:
        value = node.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(line_of(node, key), where, f"expected text, got {_kind(value)}")
            return default
        return value

    def names(self, value: object, node: Mapping[str, Any], key: str, where: str) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return list(value)
        self.problem(line_of(node, key), where, "expected a name or a non-empty list of names")
        return []

    def translations(self, node: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
        value = node.get(key)
        line = line_of(node, key)
        if value is None:
            self.problem(
                line_of(node), where, f"is required, in {', '.join(self.catalog.languages)}"
            )
            return {}
        table = self.mapping(value, where, line)
        if table is None:
            return {}
        result: dict[str, str] = {}
        for language, text in table.items():
            if language not in self.catalog.languages:
                self.problem(
                    line_of(table, language),
                    f"{where}.{language}",
                    f"unknown language (known: {', '.join(self.catalog.languages)})",
                )
            elif not isinstance(text, str) or not text.strip():
                self.problem(
                    line_of(table, language), f"{where}.{language}", "must be non-empty text"
                )
            else:
                result[language] = text
        missing = [lang for lang in self.catalog.languages if lang not in table]
        if missing:
            self.problem(line, where, f"missing language(s): {', '.join(missing)}")
        return result

    # -- the document ----------------------------------------------------------------------

    def workflow(self, document: object) -> WorkflowDefinition | None:
        root = self.mapping(document, "(document)", line_of(document))
        if root is None:
            return None
        self.keys(
            root,
            "",
            allowed=(
                "name",
                "job_function",
                "description",
                "notify_on_apply",
                "application",
                "interview",
                "facts",
                "states",
                "transitions",
                "selection",
            ),
            required=("name", "job_function", "states", "transitions"),
        )
        name = self.text(root, "name", "name")
        if name and not _STEM.match(name):
            self.problem(line_of(root, "name"), "name", "use lowercase letters, digits and dashes")
        elif name and self.expected_name and name != self.expected_name:
            self.problem(
                line_of(root, "name"),
                "name",
                f"{name!r} must match the file name {self.expected_name!r}",
            )
        job_function = self.text(root, "job_function", "job_function")
        known_functions = self.catalog.job_functions
        if job_function and known_functions is not None and job_function not in known_functions:
            self.problem(
                line_of(root, "job_function"),
                "job_function",
                f"unknown job function {job_function!r} "
                f"(config/hiring-drive.yaml has: {', '.join(sorted(known_functions))})",
            )
        notify_on_apply = self.text(root, "notify_on_apply", "notify_on_apply") or None
        if notify_on_apply:
            self.template(notify_on_apply, root, "notify_on_apply", "notify_on_apply")
        facts = self.facts(root.get("facts") or {}, line_of(root, "facts"))
        states = self.states(root.get("states"), line_of(root, "states"))
        transitions = self.transitions(root.get("transitions"), line_of(root, "transitions"), facts)
        self.check_graph(states, transitions, root)
        self.check_approvals(transitions, root)
        selection = None
        if root.get("selection") is not None:
            selection = self.selection(
                root["selection"], line_of(root, "selection"), facts, states, transitions
            )
        interview = self.interview(root.get("interview"), root, facts, states, transitions)
        if interview is None and root.get("interview") is None:
            for index, spec in enumerate(transitions):
                if spec.consensus:
                    self.problem(
                        spec.line,
                        f"transitions[{index}] ({spec.trigger}).consensus",
                        "no interview block: no panel reaches a consensus in this workflow",
                    )
        return WorkflowDefinition(
            name=name,
            job_function=job_function,
            description=self.text(root, "description", "description"),
            facts=facts,
            states=states,
            transitions=tuple(transitions),
            notify_on_apply=notify_on_apply,
            selection=selection,
            application_facts=self.application(root.get("application"), root, facts),
            interview=interview,
            file=self.file,
            line=line_of(root, "name"),
        )

    def application(
        self, node: object, root: Mapping[str, Any], facts: Mapping[str, FactSpec]
    ) -> tuple[str, ...]:
        """``application: {facts: [...]}``: the facts a candidate gives when applying online."""
        if node is None:
            return ()
        spec = self.mapping(node, "application", line_of(root, "application"))
        if spec is None:
            return ()
        self.keys(spec, "application", allowed=("facts",), required=("facts",))
        names = spec.get("facts")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.problem(line_of(spec, "facts"), "application.facts", "expected a list of facts")
            return ()
        for name in names:
            if name not in facts:
                self.problem(
                    line_of(spec, "facts"),
                    "application.facts",
                    f"no fact {name!r} (facts: {', '.join(facts) or 'none'})",
                )
            elif facts[name].type == "datetime":
                self.problem(
                    line_of(spec, "facts"),
                    "application.facts",
                    f"{name!r} is a datetime; candidates are not asked for those",
                )
        if len(set(names)) != len(names):
            self.problem(line_of(spec, "facts"), "application.facts", "a fact is listed twice")
        return tuple(names)

    def interview(
        self,
        node: object,
        root: Mapping[str, Any],
        facts: Mapping[str, FactSpec],
        states: Mapping[str, StateSpec],
        transitions: list[TransitionSpec],
    ) -> InterviewSpec | None:
        """``interview``: the criteria a panel scores, their scales and anchors, the pass rule."""
        if node is None:
            return None
        spec = self.mapping(node, "interview", line_of(root, "interview"))
        if spec is None:
            return None
        self.keys(
            spec,
            "interview",
            allowed=("state", "panel", "criteria", "pass", "decides", "total_fact"),
            required=("state", "criteria", "pass", "decides"),
        )
        before = len(self.problems)
        state = self.text(spec, "state", "interview.state")
        if state and state not in states:
            self.problem(line_of(spec, "state"), "interview.state", f"no state {state!r}")
        elif state and states[state].final:
            self.problem(line_of(spec, "state"), "interview.state", f"{state!r} is final")
        criteria = self.criteria(spec.get("criteria"), line_of(spec, "criteria"))
        rule = self.pass_rule(spec.get("pass"), line_of(spec, "pass"), criteria)
        panel_min, panel_max = self.panel_size(spec.get("panel"), line_of(spec, "panel"))
        decides = self.mapping(spec.get("decides"), "interview.decides", line_of(spec, "decides"))
        triggers = {"pass": "", "fail": ""}
        if decides is not None:
            self.keys(decides, "interview.decides", allowed=triggers, required=triggers)
            for key in triggers:
                triggers[key] = self.text(decides, key, f"interview.decides.{key}")
                if (
                    triggers[key]
                    and state in states
                    and not any(
                        t.trigger == triggers[key] and state in t.sources for t in transitions
                    )
                ):
                    self.problem(
                        line_of(decides, key),
                        f"interview.decides.{key}",
                        f"no transition {triggers[key]!r} leaves state {state!r}",
                    )
        for key, trigger in triggers.items():
            guarded = [
                t for t in transitions if t.trigger == trigger and state in t.sources and t.guards
            ]
            if trigger and guarded and decides is not None:
                self.problem(
                    line_of(decides, key),
                    f"interview.decides.{key}",
                    f"{trigger!r} has guards: the pass rule decides it, remove them",
                )
        if triggers["pass"] and triggers["pass"] == triggers["fail"]:
            self.problem(
                line_of(spec, "decides"),
                "interview.decides",
                "pass and fail must be different transitions",
            )
        highest = sum(c.maximum for c in criteria)
        lowest = sum(c.minimum for c in criteria)
        total_fact = self.text(spec, "total_fact", "interview.total_fact") or None
        if total_fact:
            fact = facts.get(total_fact)
            if fact is None or fact.type != "integer":
                self.problem(
                    line_of(spec, "total_fact"),
                    "interview.total_fact",
                    f"{total_fact!r} must be an integer fact of this workflow",
                )
            elif (fact.minimum is not None and fact.minimum > lowest) or (
                fact.maximum is not None and fact.maximum < highest
            ):
                self.problem(
                    line_of(spec, "total_fact"),
                    "interview.total_fact",
                    f"its range must hold every total from {lowest} to {highest}",
                )
        if len(self.problems) > before:
            return None
        return InterviewSpec(
            state=state,
            criteria=tuple(criteria),
            rule=rule,
            passed=triggers["pass"],
            failed=triggers["fail"],
            panel_min=panel_min,
            panel_max=panel_max,
            total_fact=total_fact,
            line=line_of(root, "interview"),
        )

    def criteria(self, node: object, line: int | None) -> list[Criterion]:
        table = self.mapping(node, "interview.criteria", line)
        if table is None:
            return []
        if not table:
            self.problem(line, "interview.criteria", "name at least one criterion")
        found = []
        for name, raw in table.items():
            where = f"interview.criteria.{name}"
            if not isinstance(name, str) or not _NAME.match(name):
                self.problem(line_of(table, name), where, "use lowercase_with_underscores")
                continue
            criterion = self.mapping(raw, where, line_of(table, name))
            if criterion is None:
                continue
            self.keys(
                criterion,
                where,
                allowed=("label", "scale", "anchors"),
                required=("label", "scale", "anchors"),
            )
            label = self.translations(criterion, "label", f"{where}.label")
            scale = self.mapping(
                criterion.get("scale"), f"{where}.scale", line_of(criterion, "scale")
            )
            low = high = 0
            scale_ok = False
            if scale is not None:
                self.keys(scale, f"{where}.scale", allowed=("min", "max"), required=("min", "max"))
                ends = scale.get("min"), scale.get("max")
                if all(isinstance(v, int) and not isinstance(v, bool) for v in ends):
                    low, high = int(ends[0] or 0), int(ends[1] or 0)
                    scale_ok = low < high
                    if not scale_ok:
                        self.problem(
                            line_of(criterion, "scale"), f"{where}.scale", "min must be below max"
                        )
                else:
                    self.problem(
                        line_of(criterion, "scale"),
                        f"{where}.scale",
                        "min and max must be whole numbers",
                    )
            anchors: dict[int, dict[str, str]] = {}
            table_of_anchors = self.mapping(
                criterion.get("anchors"), f"{where}.anchors", line_of(criterion, "anchors")
            )
            if not scale_ok:  # the scale's own problem is said; its anchors cannot be judged
                continue
            points: Mapping[str, Any] = table_of_anchors or {}
            for key in points:
                # A stored (JSON) definition has the points as text: "0" is 0.
                point = int(key) if isinstance(key, str) and _WHOLE.match(key) else key
                if (
                    not isinstance(point, int)
                    or isinstance(point, bool)
                    or not low <= point <= high
                ):
                    self.problem(
                        line_of(points, key),
                        f"{where}.anchors.{point}",
                        f"an anchor is a score on the scale {low}–{high}",
                    )
                    continue
                anchors[point] = self.translations(points, key, f"{where}.anchors.{point}")
            if table_of_anchors is not None and not {low, high} <= set(anchors):
                self.problem(
                    line_of(criterion, "anchors"),
                    f"{where}.anchors",
                    f"say what both ends of the scale mean ({low} and {high})",
                )
            found.append(Criterion(name, label, low, high, anchors, line_of(table, name)))
        return found

    def pass_rule(self, node: object, line: int | None, criteria: list[Criterion]) -> PassRule:
        table = self.mapping(node, "interview.pass", line)
        if table is None:
            return PassRule()
        keys = ("each_at_least", "total_at_least")
        self.keys(table, "interview.pass", allowed=keys)
        values: dict[str, int | None] = {}
        for key in keys:
            value = table.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                self.problem(
                    line_of(table, key), f"interview.pass.{key}", "expected a whole number"
                )
                value = None
            values[key] = value
        if values["each_at_least"] is None and values["total_at_least"] is None:
            self.problem(line, "interview.pass", "give each_at_least, total_at_least or both")
        each, total = values["each_at_least"], values["total_at_least"]
        if each is not None and criteria and each > min(c.maximum for c in criteria):
            self.problem(
                line_of(table, "each_at_least"),
                "interview.pass.each_at_least",
                f"{each} is above the top of a criterion's scale: nobody could pass",
            )
        if total is not None and criteria and total > sum(c.maximum for c in criteria):
            self.problem(
                line_of(table, "total_at_least"),
                "interview.pass.total_at_least",
                f"{total} is above the highest total {sum(c.maximum for c in criteria)}",
            )
        return PassRule(each, total)

    def panel_size(self, node: object, line: int | None) -> tuple[int, int]:
        if node is None:
            return 2, 4
        table = self.mapping(node, "interview.panel", line)
        if table is None:
            return 2, 4
        self.keys(table, "interview.panel", allowed=("min", "max"))
        low, high = table.get("min", 2), table.get("max", 4)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not (
            1 <= low <= high <= 10
        ):
            self.problem(line, "interview.panel", "min and max members: 1 ≤ min ≤ max ≤ 10")
            return 2, 4
        return low, high

    def selection(
        self,
        node: object,
        line: int | None,
        facts: Mapping[str, FactSpec],
        states: Mapping[str, StateSpec],
        transitions: list[TransitionSpec],
    ) -> SelectionSpec | None:
        spec = self.mapping(node, "selection", line)
        if spec is None:
            return None
        keys = ("module", "waiting", "invite", "reschedule", "score", "pass", "fail")
        self.keys(spec, "selection", allowed=keys, required=keys)
        values = {k: self.text(spec, k, f"selection.{k}") for k in keys}
        before = len(self.problems)
        if values["module"] and not _NAME.match(values["module"]):
            self.problem(
                line_of(spec, "module"), "selection.module", "use lowercase_with_underscores"
            )
        if values["waiting"] and values["waiting"] not in states:
            self.problem(
                line_of(spec, "waiting"), "selection.waiting", f"no state {values['waiting']!r}"
            )

        def leaving(key: str, source: str) -> TransitionSpec | None:
            trigger = values[key]
            found = next(
                (t for t in transitions if t.trigger == trigger and source in t.sources), None
            )
            if trigger and source and found is None:
                self.problem(
                    line_of(spec, key),
                    f"selection.{key}",
                    f"no transition {trigger!r} leaves state {source!r}",
                )
            return found

        invite = leaving("invite", values["waiting"])
        if invite is not None and invite.invitation is None:
            self.problem(
                line_of(spec, "invite"),
                "selection.invite",
                f"{invite.trigger!r} must send an invitation (the session's time and place)",
            )
        seated = invite.dest if invite else ""
        reschedule = leaving("reschedule", seated)
        if reschedule is not None and (reschedule.dest != seated or reschedule.invitation is None):
            self.problem(
                line_of(spec, "reschedule"),
                "selection.reschedule",
                f"{reschedule.trigger!r} must stay in {seated!r} and send an invitation",
            )
        leaving("pass", seated)
        leaving("fail", seated)
        score = facts.get(values["score"])
        if values["score"] and (score is None or score.type != "integer"):
            self.problem(
                line_of(spec, "score"),
                "selection.score",
                f"{values['score']!r} must be a declared integer fact",
            )
        if len(self.problems) > before or not all(values.values()) or invite is None:
            return None
        assert invite.invitation is not None  # noqa: S101 - checked above
        return SelectionSpec(
            module=values["module"],
            waiting=values["waiting"],
            invite=values["invite"],
            reschedule=values["reschedule"],
            score=values["score"],
            passed=values["pass"],
            failed=values["fail"],
            seated=seated,
            at_fact=invite.invitation.start,
            place_fact=invite.invitation.location,
            line=line,
        )

    def facts(self, node: object, line: int | None) -> dict[str, FactSpec]:
        table = self.mapping(node, "facts", line)
        result: dict[str, FactSpec] = {}
        for name, raw in (table or {}).items():
            where = f"facts.{name}"
            fact_line = line_of(table, name)
            if not isinstance(name, str) or not _NAME.match(name):
                self.problem(fact_line, where, "use lowercase_with_underscores for fact names")
                continue
            spec = self.mapping(raw, where, fact_line)
            if spec is None:
                continue
            self.keys(
                spec, where, allowed=("type", "choices", "min", "max", "label"), required=("type",)
            )
            kind = spec.get("type")
            if kind not in FACT_TYPES:
                self.problem(
                    line_of(spec, "type"),
                    f"{where}.type",
                    f"must be one of {', '.join(FACT_TYPES)}",
                )
                continue
            choices: tuple[str, ...] = ()
            if kind == "choice":
                raw_choices = spec.get("choices")
                if (
                    not isinstance(raw_choices, list)
                    or not raw_choices
                    or not all(isinstance(c, str) for c in raw_choices)
                ):
                    self.problem(
                        line_of(spec, "choices"),
                        f"{where}.choices",
                        "a choice fact needs a list of choices",
                    )
                else:
                    choices = tuple(raw_choices)
            elif "choices" in spec:
                self.problem(
                    line_of(spec, "choices"), f"{where}.choices", "only choice facts have choices"
                )
            bounds: dict[str, int | None] = {"min": None, "max": None}
            for bound in bounds:
                if bound in spec:
                    value = spec[bound]
                    if kind != "integer":
                        self.problem(
                            line_of(spec, bound),
                            f"{where}.{bound}",
                            "only integer facts have bounds",
                        )
                    elif not isinstance(value, int) or isinstance(value, bool):
                        self.problem(
                            line_of(spec, bound), f"{where}.{bound}", "must be a whole number"
                        )
                    else:
                        bounds[bound] = value
            result[name] = FactSpec(
                name=name,
                type=kind,
                label=self.translations(spec, "label", f"{where}.label"),
                choices=choices,
                minimum=bounds["min"],
                maximum=bounds["max"],
                line=fact_line,
            )
        return result

    def states(self, node: object, line: int | None) -> dict[str, StateSpec]:
        table = self.mapping(node, "states", line)
        result: dict[str, StateSpec] = {}
        if table is None:
            return result
        if not table:
            self.problem(line, "states", "a workflow needs states")
        for name, raw in table.items():
            where = f"states.{name}"
            state_line = line_of(table, name)
            if not isinstance(name, str) or not _NAME.match(name):
                self.problem(state_line, where, "use lowercase_with_underscores for state names")
                continue
            spec = self.mapping(raw, where, state_line)
            if spec is None:
                continue
            self.keys(spec, where, allowed=("initial", "final", "label", "public", "timeout"))
            flags = {}
            for flag in ("initial", "final"):
                value = spec.get(flag, False)
                if not isinstance(value, bool):
                    self.problem(line_of(spec, flag), f"{where}.{flag}", "must be true or false")
                    value = False
                flags[flag] = value
            timeout = None
            if spec.get("timeout") is not None:
                timeout = self.timeout(
                    spec["timeout"], f"{where}.timeout", line_of(spec, "timeout")
                )
            result[name] = StateSpec(
                name=name,
                label=self.translations(spec, "label", f"{where}.label"),
                public=self.translations(spec, "public", f"{where}.public"),
                initial=flags["initial"],
                final=flags["final"],
                timeout=timeout,
                line=state_line,
            )
        return result

    def timeout(self, node: object, where: str, line: int | None) -> Timeout | None:
        spec = self.mapping(node, where, line)
        if spec is None:
            return None
        self.keys(
            spec, where, allowed=("after", "trigger", "reminders"), required=("after", "trigger")
        )
        after = self.duration(spec, "after", f"{where}.after")
        trigger = self.text(spec, "trigger", f"{where}.trigger")
        reminders: list[Reminder] = []
        raw_reminders = spec.get("reminders") or []
        if not isinstance(raw_reminders, list):
            self.problem(line_of(spec, "reminders"), f"{where}.reminders", "expected a list")
            raw_reminders = []
        for index, raw in enumerate(raw_reminders):
            rwhere = f"{where}.reminders[{index}]"
            reminder = self.mapping(raw, rwhere, line_of(raw_reminders, index))
            if reminder is None:
                continue
            self.keys(
                reminder, rwhere, allowed=("before", "notify", "to"), required=("before", "notify")
            )
            to = reminder.get("to", "candidate")
            if to not in REMINDED:
                self.problem(
                    line_of(reminder, "to"),
                    f"{rwhere}.to",
                    f"remind one of: {', '.join(REMINDED)} (got {to!r})",
                )
            before = self.duration(reminder, "before", f"{rwhere}.before")
            notify = self.text(reminder, "notify", f"{rwhere}.notify")
            self.template(notify, reminder, "notify", f"{rwhere}.notify")
            if before and after:
                if before.unit != after.unit:
                    self.problem(
                        line_of(reminder, "before"),
                        f"{rwhere}.before",
                        f"count in the same unit as the timeout ({after})",
                    )
                elif before.amount >= after.amount:
                    self.problem(
                        line_of(reminder, "before"),
                        f"{rwhere}.before",
                        f"must come before the timeout ({before} is not less than {after})",
                    )
            if before and notify:
                reminders.append(
                    Reminder(before, notify, line_of(raw_reminders, index), to=str(to))
                )
        if after is None or not trigger:
            return None
        return Timeout(after, trigger, tuple(reminders), line, line_of(spec, "trigger"))

    def duration(self, node: Mapping[str, Any], key: str, where: str) -> Duration | None:
        if key not in node:
            return None
        try:
            duration = parse_duration(node[key])
        except ValueError as exc:
            self.problem(line_of(node, key), where, str(exc))
            return None
        if duration.amount <= 0:
            self.problem(line_of(node, key), where, "must be at least 1 day")
            return None
        return duration

    def template(self, key: str, node: Mapping[str, Any], field_name: str, where: str) -> None:
        known = self.catalog.template_keys
        if key and known is not None and key not in known:
            self.problem(
                line_of(node, field_name),
                where,
                f"unknown template key {key!r} (needs notifications/LANG/{key}.txt in every language)",
            )

    def transitions(
        self, node: object, line: int | None, facts: Mapping[str, FactSpec]
    ) -> list[TransitionSpec]:
        result: list[TransitionSpec] = []
        if not isinstance(node, list) or not node:
            self.problem(line, "transitions", "expected a non-empty list of transitions")
            return result
        for index, raw in enumerate(node):
            where = f"transitions[{index}]"
            spec = self.mapping(raw, where, line_of(node, index))
            if spec is None:
                continue
            trigger = self.text(spec, "trigger", f"{where}.trigger")
            if trigger:
                where = f"transitions[{index}] ({trigger})"
            self.keys(
                spec,
                where,
                allowed=(
                    "trigger",
                    "from",
                    "to",
                    "roles",
                    "guards",
                    "reason",
                    "notify",
                    "invitation",
                    "approves",
                    "consensus",
                    "once",
                ),
                required=("trigger", "from", "to", "roles"),
            )
            if trigger and not _NAME.match(trigger):
                self.problem(
                    line_of(spec, "trigger"), f"{where}.trigger", "use lowercase_with_underscores"
                )
            sources = (
                self.names(spec.get("from"), spec, "from", f"{where}.from")
                if "from" in spec
                else []
            )
            dest = self.text(spec, "to", f"{where}.to")
            roles = (
                self.names(spec.get("roles"), spec, "roles", f"{where}.roles")
                if "roles" in spec
                else []
            )
            for role in roles:
                if role not in self.catalog.roles:
                    self.problem(
                        line_of(spec, "roles"),
                        f"{where}.roles",
                        f"unknown role {role!r} (roles that fire: {', '.join(sorted(self.catalog.roles))})",
                    )
            guards = self.guards(spec.get("guards") or [], spec, where, facts)
            reason = spec.get("reason", "optional")
            if reason not in ("optional", "required"):
                self.problem(
                    line_of(spec, "reason"), f"{where}.reason", "must be optional or required"
                )
            notify = self.text(spec, "notify", f"{where}.notify") or None
            if notify:
                self.template(notify, spec, "notify", f"{where}.notify")
            consensus = spec.get("consensus")
            if consensus is not None and consensus != "pass":
                self.problem(
                    line_of(spec, "consensus"),
                    f"{where}.consensus",
                    "the only consensus a transition can require is 'pass'",
                )
            once = spec.get("once", False)
            if not isinstance(once, bool):
                self.problem(line_of(spec, "once"), f"{where}.once", "must be true or false")
            invitation = None
            if spec.get("invitation") is not None:
                invitation = self.invitation(spec, f"{where}.invitation", facts, notify)
            result.append(
                TransitionSpec(
                    trigger=trigger,
                    sources=tuple(sources),
                    dest=dest,
                    roles=frozenset(roles),
                    guards=tuple(guards),
                    reason_required=reason == "required",
                    notify=notify,
                    invitation=invitation,
                    approves=self.text(spec, "approves", f"{where}.approves") or None,
                    consensus=consensus == "pass",
                    once=once is True,
                    line=line_of(node, index),
                    source_line=line_of(spec, "from"),
                    dest_line=line_of(spec, "to"),
                )
            )
        return result

    def invitation(
        self,
        spec: Mapping[str, Any],
        where: str,
        facts: Mapping[str, FactSpec],
        notify: str | None,
    ) -> InvitationSpec | None:
        node = self.mapping(spec["invitation"], where, line_of(spec, "invitation"))
        if node is None:
            return None
        self.keys(
            node,
            where,
            allowed=("start", "location", "minutes"),
            required=("start", "location", "minutes"),
        )
        if not notify:
            self.problem(
                line_of(spec, "invitation"), where, "an invitation travels with a mail: add notify"
            )
        names = {}
        for key, kind in (("start", "datetime"), ("location", "text")):
            name = self.text(node, key, f"{where}.{key}")
            fact = facts.get(name)
            if name and (fact is None or fact.type != kind):
                self.problem(
                    line_of(node, key),
                    f"{where}.{key}",
                    f"must name a declared {kind} fact, got {name!r}",
                )
            names[key] = name
        minutes = node.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 < minutes <= 24 * 60:
            self.problem(
                line_of(node, "minutes"), f"{where}.minutes", "a whole number of minutes, 1 to 1440"
            )
            return None
        return InvitationSpec(names["start"], names["location"], minutes)

    def guards(
        self, node: object, spec: Mapping[str, Any], where: str, facts: Mapping[str, FactSpec]
    ) -> list[CompiledGuard]:
        if not isinstance(node, list):
            self.problem(line_of(spec, "guards"), f"{where}.guards", "expected a list of guards")
            return []
        result = []
        for index, raw in enumerate(node):
            gwhere = f"{where}.guards[{index}]"
            gline = line_of(node, index)
            if isinstance(raw, Mapping):
                self.keys(raw, gwhere, allowed=("expr", "description"), required=("expr",))
                expr, description = raw.get("expr"), raw.get("description") or ""
                gline = line_of(raw, "expr") or gline
            else:
                expr, description = raw, ""
            try:
                guard = compile_guard(expr, str(description))  # type: ignore[arg-type]
            except GuardSyntaxError as exc:
                self.problem(gline, gwhere, f"guard {expr!r} {exc}")
                continue
            unknown = sorted(guard.facts - set(facts))
            if unknown:
                self.problem(
                    gline,
                    gwhere,
                    f"guard {expr!r} reads undeclared fact(s) {', '.join(unknown)} "
                    f"(declared: {', '.join(sorted(facts)) or 'none'})",
                )
                continue
            result.append(guard)
        return result

    def check_approvals(self, transitions: list[TransitionSpec], root: Mapping[str, Any]) -> None:
        """``approves: T``: T exists and leads to where this transition starts; people fire it."""
        for index, spec in enumerate(transitions):
            if not spec.approves:
                continue
            where = f"transitions[{index}] ({spec.trigger}).approves"
            requests = [t for t in transitions if t.trigger == spec.approves]
            if spec.approves == spec.trigger:
                self.problem(spec.line, where, "a transition cannot approve itself")
            elif not requests:
                self.problem(spec.line, where, f"no trigger {spec.approves!r} to approve")
            elif not any(t.dest in spec.sources for t in requests):
                self.problem(
                    spec.line,
                    where,
                    f"{spec.approves!r} must lead to a state this transition leaves "
                    f"({', '.join(spec.sources)})",
                )
            if "system" in spec.roles:
                self.problem(spec.line, where, "an approval is a person's: not role system")

    def check_graph(
        self,
        states: Mapping[str, StateSpec],
        transitions: list[TransitionSpec],
        root: Mapping[str, Any],
    ) -> None:
        if not states:
            return
        initials = [s for s in states.values() if s.initial]
        if len(initials) != 1:
            found = ", ".join(s.name for s in initials) or "none"
            line = initials[1].line if len(initials) > 1 else line_of(root, "states")
            self.problem(line, "states", f"exactly one state must be initial (found: {found})")
        seen: dict[tuple[str, str], TransitionSpec] = {}
        unknown_states = False
        exits: dict[str, set[str]] = {name: set() for name in states}
        for spec in transitions:
            where = f"transitions ({spec.trigger})"
            for source in spec.sources:
                if source not in states:
                    self.problem(spec.source_line, f"{where}.from", _unknown_state(source, states))
                    unknown_states = True
                    continue
                if states[source].final:
                    self.problem(
                        spec.source_line,
                        f"{where}.from",
                        f"{source!r} is final; finals have no exits",
                    )
                key = (spec.trigger, source)
                if key in seen:
                    self.problem(
                        spec.source_line,
                        f"{where}.from",
                        f"trigger {spec.trigger!r} already leaves {source!r} "
                        f"(line {seen[key].line}); a trigger leaves a state at most once",
                    )
                seen[key] = spec
                if spec.dest in states:
                    exits[source].add(spec.dest)
            if spec.dest and spec.dest not in states:
                self.problem(spec.dest_line, f"{where}.to", _unknown_state(spec.dest, states))
                unknown_states = True
        for state in states.values():
            if state.initial and state.final:
                self.problem(
                    state.line, f"states.{state.name}", "the initial state cannot be final"
                )
            if not state.final and not exits[state.name]:
                self.problem(
                    state.line,
                    f"states.{state.name}",
                    "is not final but no transition leaves it (mark it final or add one)",
                )
            if state.final and state.timeout:
                self.problem(
                    state.timeout.line, f"states.{state.name}.timeout", "finals cannot time out"
                )
            if state.timeout:
                timed = seen.get((state.timeout.trigger, state.name))
                where = f"states.{state.name}.timeout.trigger"
                if timed is None:
                    self.problem(
                        state.timeout.trigger_line,
                        where,
                        f"no transition {state.timeout.trigger!r} leaves {state.name!r}",
                    )
                elif "system" not in timed.roles:
                    self.problem(
                        state.timeout.trigger_line,
                        where,
                        f"transition {state.timeout.trigger!r} must allow role system to fire on timeout",
                    )
        # An unknown state breaks the graph; reachability would only repeat that error.
        if len(initials) == 1 and not unknown_states:
            reached = {initials[0].name}
            queue = deque(reached)
            while queue:
                for nxt in exits[queue.popleft()]:
                    if nxt not in reached:
                        reached.add(nxt)
                        queue.append(nxt)
            for state in states.values():
                if state.name not in reached:
                    self.problem(
                        state.line,
                        f"states.{state.name}",
                        f"cannot be reached from the initial state {initials[0].name!r}",
                    )


def _unknown_state(name: str, states: Mapping[str, StateSpec]) -> str:
    return f"unknown state {name!r} (states: {', '.join(states)})"


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
