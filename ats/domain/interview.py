"""The interview's competency model: criteria on a scale with anchors, and the pass rule.

A workflow's ``interview`` block names the criteria a panel scores, each on a
whole-number scale whose points carry anchors (what a score means, in each
language), and the rule the panel's consensus scores must meet: every
criterion at least ``each_at_least`` and the total at least ``total_at_least``.
Both hold, or the candidate fails: a criterion below its minimum fails however
high the total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ats.errors import InvalidInput

_WHOLE = re.compile(r"^-?[0-9]+$")  # ASCII digits only: not "1_0", not other scripts' digits


@dataclass(frozen=True)
class Criterion:
    name: str
    label: Mapping[str, str]
    minimum: int
    maximum: int
    anchors: Mapping[int, Mapping[str, str]]  # score -> what it means, per language
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PassRule:
    each_at_least: int | None = None
    total_at_least: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.each_at_least is not None:
            parts.append(f"every criterion ≥ {self.each_at_least}")
        if self.total_at_least is not None:
            parts.append(f"a total ≥ {self.total_at_least}")
        return " and ".join(parts) or "any scores"


@dataclass(frozen=True)
class InterviewSpec:
    """Where and how a panel scores this workflow's candidacies, and what decides."""

    state: str  # scorecards are filled in while the candidacy is here
    criteria: tuple[Criterion, ...]
    rule: PassRule
    passed: str  # the trigger the chair's decision fires on a positive consensus
    failed: str  # ... and on a negative one
    panel_min: int = 2
    panel_max: int = 4
    total_fact: str | None = None  # an integer fact the consensus total is recorded in
    line: int | None = field(default=None, compare=False)

    @property
    def highest_total(self) -> int:
        return sum(c.maximum for c in self.criteria)

    def to_document(self) -> dict[str, object]:
        document: dict[str, object] = {
            "state": self.state,
            "panel": {"min": self.panel_min, "max": self.panel_max},
            "criteria": {
                c.name: {
                    "label": dict(c.label),
                    "scale": {"min": c.minimum, "max": c.maximum},
                    "anchors": {str(k): dict(v) for k, v in sorted(c.anchors.items())},
                }
                for c in self.criteria
            },
            "pass": {
                k: v
                for k, v in (
                    ("each_at_least", self.rule.each_at_least),
                    ("total_at_least", self.rule.total_at_least),
                )
                if v is not None
            },
            "decides": {"pass": self.passed, "fail": self.failed},
        }
        if self.total_fact:
            document["total_fact"] = self.total_fact
        return document


@dataclass(frozen=True)
class Verdict:
    """What the pass rule says of one set of scores, with every shortfall named."""

    passed: bool
    total: int
    shortfalls: tuple[str, ...]


def checked_scores(spec: InterviewSpec, scores: Mapping[str, object]) -> dict[str, int]:
    """Whole-number scores for every criterion, each on its scale; InvalidInput lists the rest."""
    problems: list[str] = []
    known = {c.name for c in spec.criteria}
    problems += [f"unknown criterion {name!r}" for name in scores if name not in known]
    result: dict[str, int] = {}
    for criterion in spec.criteria:
        raw = scores.get(criterion.name)
        if raw is None or raw == "":
            problems.append(f"{criterion.name}: give a score")
            continue
        text = str(raw).strip()
        if isinstance(raw, bool) or not _WHOLE.match(text):
            problems.append(f"{criterion.name}: expected a whole number, got {raw!r}")
            continue
        value = int(text)
        if not criterion.minimum <= value <= criterion.maximum:
            problems.append(
                f"{criterion.name}: {value} is outside the scale "
                f"{criterion.minimum}–{criterion.maximum}"
            )
            continue
        result[criterion.name] = value
    if problems:
        raise InvalidInput("scores: " + "; ".join(problems))
    return result


def verdict(spec: InterviewSpec, scores: Mapping[str, object]) -> Verdict:
    """Apply the pass rule to a complete set of scores (checked first)."""
    checked = checked_scores(spec, scores)
    total = sum(checked.values())
    shortfalls: list[str] = []
    floor = spec.rule.each_at_least
    if floor is not None:
        shortfalls += [
            f"{name}: {value} is below {floor}" for name, value in checked.items() if value < floor
        ]
    if spec.rule.total_at_least is not None and total < spec.rule.total_at_least:
        shortfalls.append(f"total: {total} is below {spec.rule.total_at_least}")
    return Verdict(not shortfalls, total, tuple(shortfalls))
