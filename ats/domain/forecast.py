"""What the taskforce's reports compute: stages, stays, observed rates, and the forecast.

Pure functions over plain data (no database, no clock): the service layer reads
candidacies and their audit entries and hands them over as ``History`` values.

Workflow order. A workflow's stages are its states in the order the definition
lists them, without the negative final states (``rejected``, ``withdrawn``):
``applied → screened → … → offer → hired``. A candidacy *reached* a stage when
one of its audit entries entered that stage or any later one (a skipped or
migrated step still counts as passed); it *went on* from a stage when it
reached the next stage of its own workflow.

The forecast (``simulate``) is a seeded Monte Carlo over weeks:

- new applications arrive as a Poisson process at the observed weekly inflow,
  spread evenly over each week;
- each stage keeps a candidacy for a stay drawn from that stage's observed
  stays (bootstrap: the same distribution, no fitted curve), then lets it go on
  with the stage's observed conversion rate, otherwise it leaves the drive;
- a stage with a *capacity* lets at most that many candidacies go on per week
  (Selor seats for the stage whose exit is the Selor invitation, recruiters'
  pace for recruiter-driven stages); the others wait, first ready first served;
- candidacies in progress start in their stage with the rest of a stay drawn
  from the observed stays at least as long as what they have already waited;
  one that has waited longer than every observed stay is *stalled* and left out;
- the target is met at the hire that closes the gap.

Common random numbers. Every run draws its arrivals per week, its stays per
stage by order of entering, its outcomes per stage by order of readiness and its
weekly seat roundings from separate seeded streams. Two scenarios with the same
seed therefore see the same luck, and more inflow, seats or recruiters can only
bring each run's hires earlier (the tests check this with hypothesis).
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

NEGATIVE = ("rejected", "withdrawn")  # final states that end a candidacy without a hire
HIRED = "hired"
DAY = 86_400.0
MIN_OBSERVATIONS = 10  # fewer resolved candidacies (or stays) than this is thin data
INFINITY = math.inf


# -- workflow order --------------------------------------------------------------------------


@dataclass(frozen=True)
class StagePath:
    """A workflow's stages in order, and which of its stages a forecast treats as limited.

    ``seat_gate`` is the stage left by a Selor invitation (candidacies wait there
    for a seat); ``recruiter_gates`` are the stages a recruiter moves candidacies
    on from.
    """

    name: str
    stages: tuple[str, ...]
    finals: frozenset[str]
    seat_gate: str | None = None
    selor_stage: str | None = None
    recruiter_gates: frozenset[str] = frozenset()
    _index: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.stages)})

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> StagePath:
        """The path of a stored workflow definition (its canonical JSON document)."""
        states: Mapping[str, Mapping[str, Any]] = document["states"]
        finals = frozenset(name for name, spec in states.items() if spec.get("final"))
        stages = tuple(name for name in states if name not in NEGATIVE)
        while True:
            index = {s: i for i, s in enumerate(stages)}
            forward: dict[str, list[Mapping[str, Any]]] = {s: [] for s in stages}
            for transition in document.get("transitions", ()):
                dest = transition["to"]
                for source in transition["from"]:
                    if source in index and dest in index and index[dest] > index[source]:
                        forward[source].append(transition)
            # A detour (a missed interview) only leads back or out: not a stage of the path.
            detours = {s for s in stages if s not in finals and not forward[s]}
            if not detours:
                break
            stages = tuple(s for s in stages if s not in detours)

        def roles(stage: str) -> set[str]:
            return {r for t in forward[stage] for r in t["roles"]} - {"system"}

        seat_gate = selor_stage = None
        selection = document.get("selection")
        if isinstance(selection, Mapping) and selection.get("waiting") in index:
            seat_gate = str(selection["waiting"])
            invited = [
                t["to"] for t in forward[seat_gate] if t["trigger"] == selection.get("invite")
            ]
            selor_stage = invited[0] if invited else None
        else:  # the first stage only Selor moves on from is where the Selor test happens
            for stage in stages:
                if roles(stage) == {"selor"}:
                    selor_stage = stage
                    entering = [s for s in stages if any(t["to"] == stage for t in forward[s])]
                    seat_gate = entering[0] if entering else None
                    break
        recruiter_gates = frozenset(
            s
            for s in stages
            if s != seat_gate and "recruiter" in roles(s) and "candidate" not in roles(s)
        )
        return cls(
            name=str(document.get("name", "")),
            stages=stages,
            finals=finals,
            seat_gate=seat_gate,
            selor_stage=selor_stage,
            recruiter_gates=recruiter_gates,
        )

    def index(self, state: str) -> int | None:
        return self._index.get(state)

    def next_stage(self, stage: str) -> str | None:
        i = self._index.get(stage)
        return self.stages[i + 1] if i is not None and i + 1 < len(self.stages) else None


def merge_orders(orders: Iterable[Sequence[str]]) -> list[str]:
    """One order for several workflows' stages that keeps each workflow's own order.

    Ties (stages no workflow orders against each other) keep first-seen order.
    """
    seen: list[str] = []
    after: dict[str, set[str]] = {}
    for order in orders:
        for i, stage in enumerate(order):
            if stage not in after:
                seen.append(stage)
                after[stage] = set()
            after[stage].update(order[:i])
    result: list[str] = []
    placed: set[str] = set()
    while len(result) < len(seen):
        ready = [s for s in seen if s not in placed and after[s] <= placed]
        # A cycle (two workflows ordering two stages both ways) falls back to first-seen.
        stage = ready[0] if ready else next(s for s in seen if s not in placed)
        result.append(stage)
        placed.add(stage)
    return result


# -- histories and stays ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One audit entry, as far as reports care: when, from where, to where."""

    at: datetime
    src: str | None
    dst: str


@dataclass(frozen=True)
class History:
    """One candidacy's transitions in order (its audit entries), and its workflow's path."""

    candidacy_id: int
    vacancy: str
    path: StagePath
    entries: tuple[Entry, ...]
    applied_at: datetime

    def __post_init__(self) -> None:
        if not self.entries:
            raise ValueError(f"candidacy {self.candidacy_id} has no audit entries")

    @property
    def state(self) -> str:
        return self.entries[-1].dst

    @property
    def last_moved_at(self) -> datetime:
        return self.entries[-1].at

    @property
    def open(self) -> bool:
        return self.state not in self.path.finals

    def furthest(self) -> int | None:
        """Index of the furthest stage any entry entered, in workflow order."""
        reached = [i for e in self.entries if (i := self.path.index(e.dst)) is not None]
        return max(reached) if reached else None


@dataclass(frozen=True)
class Stay:
    """A stretch a candidacy spent in one state; ``left`` is None while it is still there."""

    state: str
    entered: datetime
    left: datetime | None
    next_state: str | None

    def days(self, now: datetime) -> float:
        return ((self.left or now) - self.entered).total_seconds() / DAY


def stays(history: History) -> list[Stay]:
    """Consecutive audit entries as stays; an entry back into the same state extends the stay.

    The stay in the current state of an open candidacy has ``left=None``: it
    lasts until now, which ``Stay.days`` takes.
    """
    result: list[Stay] = []
    current: str | None = None
    since: datetime | None = None
    for entry in history.entries:
        if entry.dst == current:
            continue  # a reschedule: same stage, the stay goes on
        if current is not None and since is not None:
            result.append(Stay(current, since, entry.at, entry.dst))
        current, since = entry.dst, entry.at
    if current is not None and since is not None and current not in history.path.finals:
        result.append(Stay(current, since, None, None))
    return result


def quantile(values: Iterable[float], q: float) -> float:
    """The q-quantile by linear interpolation between closest ranks (numpy's default).

    Infinite values (runs that never met the target) sort last; a quantile that
    touches one is infinite.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quantile of no values")
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} is outside 0..1")
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    fraction = position - low
    if fraction == 0:
        return ordered[low]
    a, b = ordered[low], ordered[low + 1]
    if math.isinf(b):
        return INFINITY
    return a + (b - a) * fraction


# -- observed rates ----------------------------------------------------------------------------


@dataclass
class StageObservation:
    """What the history says about one stage: who went on, who left, how long they took."""

    passed: int = 0
    failed: int = 0
    durations: list[float] = field(default_factory=list)  # days, of stays that went on
    exits: list[datetime] = field(default_factory=list)  # when those stays went on

    @property
    def resolved(self) -> int:
        return self.passed + self.failed

    def add(self, other: StageObservation) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.durations.extend(other.durations)
        self.exits.extend(other.exits)


def observe(histories: Iterable[History]) -> dict[str, StageObservation]:
    """Per stage name: conversions of resolved candidacies and stays that went on.

    A candidacy still in a stage is not resolved there and counts for neither
    side of that stage's conversion (it would bias the rate towards failure).
    """
    observed: dict[str, StageObservation] = {}
    for history in histories:
        path = history.path
        furthest = history.furthest()
        if furthest is None:
            continue
        ended_badly = history.state in NEGATIVE
        for i in range(furthest + 1):
            stage = path.stages[i]
            if stage in path.finals:
                break
            record = observed.setdefault(stage, StageObservation())
            if i < furthest:
                record.passed += 1
            elif ended_badly:
                record.failed += 1
        for stay in stays(history):
            here, there = path.index(stay.state), path.index(stay.next_state or "")
            if stay.left is not None and here is not None and there is not None and there > here:
                record = observed.setdefault(stay.state, StageObservation())
                record.durations.append(stay.days(stay.left))
                record.exits.append(stay.left)
    return observed


def pooled(observations: Iterable[Mapping[str, StageObservation]]) -> dict[str, StageObservation]:
    """Observations of several vacancies added up, stage by stage."""
    total: dict[str, StageObservation] = {}
    for observed in observations:
        for stage, record in observed.items():
            total.setdefault(stage, StageObservation()).add(record)
    return total


@dataclass(frozen=True)
class StageEstimate:
    """A stage's conversion and stays as the forecast uses them, and where they came from."""

    stage: str
    conversion: float | None  # None: nobody ever resolved this stage anywhere
    durations: tuple[float, ...]  # sorted days
    conversion_source: str
    durations_source: str
    resolved: int
    stays: int


def estimate(stage: str, levels: Sequence[tuple[str, StageObservation | None]]) -> StageEstimate:
    """The first level (vacancy, job function, all) with enough data; else the widest with any.

    ``levels`` go from the narrowest to the widest. "Enough" is
    ``MIN_OBSERVATIONS`` resolved candidacies for the conversion and as many
    stays that went on for the durations; each falls back on its own.
    """
    conversion: float | None = None
    conversion_source = "none"
    resolved = 0
    for name, record in levels:
        if record is not None and record.resolved >= MIN_OBSERVATIONS:
            conversion, conversion_source, resolved = (
                record.passed / record.resolved,
                name,
                record.resolved,
            )
            break
    else:
        for name, record in reversed(levels):
            if record is not None and record.resolved:
                conversion = record.passed / record.resolved
                conversion_source, resolved = f"{name} (thin)", record.resolved
                break
    durations: tuple[float, ...] = ()
    durations_source = "none"
    for name, record in levels:
        if record is not None and len(record.durations) >= MIN_OBSERVATIONS:
            durations, durations_source = tuple(sorted(record.durations)), name
            break
    else:
        for name, record in reversed(levels):
            if record is not None and record.durations:
                durations = tuple(sorted(record.durations))
                durations_source = f"{name} (thin)"
                break
    return StageEstimate(
        stage=stage,
        conversion=conversion,
        durations=durations,
        conversion_source=conversion_source,
        durations_source=durations_source,
        resolved=resolved,
        stays=len(durations),
    )


def weekly_rate(instants: Iterable[datetime], now: datetime, weeks: int) -> float:
    """How many of ``instants`` fall in the ``weeks`` weeks before ``now``, per week."""
    start = now - timedelta(weeks=weeks)
    return sum(1 for at in instants if start <= at < now) / weeks


# -- the Monte Carlo ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StageModel:
    """One stage as the simulation sees it.

    ``capacity``: the most candidacies that may go on from this stage per week
    (None: no limit); fractional capacities are met on average, week by week.
    """

    name: str
    conversion: float
    durations: tuple[float, ...]  # observed stays in days; may be empty only if conversion is 0
    capacity: float | None = None
    capacity_label: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.conversion <= 1:
            raise ValueError(f"{self.name}: conversion {self.conversion} is outside 0..1")
        if self.conversion > 0 and not self.durations:
            raise ValueError(f"{self.name}: a stage anyone passes needs observed stays")
        if any(d < 0 or math.isnan(d) for d in self.durations):
            raise ValueError(f"{self.name}: stays must be non-negative days")
        if self.capacity is not None and not self.capacity >= 0:
            raise ValueError(f"{self.name}: capacity must be non-negative")
        object.__setattr__(self, "durations", tuple(sorted(self.durations)))


@dataclass(frozen=True)
class Scenario:
    """Everything one forecast needs: the stages in order, the pipeline, inflow and target.

    ``in_progress[i]`` lists, for stage ``i``, the days each candidacy there has
    already waited. Going on from the last stage is being hired.
    """

    stages: tuple[StageModel, ...]
    needed: int  # hires still missing to meet the target
    inflow_per_week: float
    horizon_weeks: int = 52
    in_progress: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a scenario needs at least one stage")
        if self.horizon_weeks < 1:
            raise ValueError("the horizon is at least one week")
        if not 0 <= self.inflow_per_week <= 100_000:
            raise ValueError(f"inflow {self.inflow_per_week} per week is out of range")
        if len(self.in_progress) > len(self.stages):
            raise ValueError("more in-progress stages than stages")


@dataclass(frozen=True)
class Forecast:
    """Days from now until the target is met, one per run (infinite: not within the horizon)."""

    days: tuple[float, ...]
    stalled: int
    horizon_weeks: int

    def quantile(self, q: float) -> float:
        return quantile(self.days, q)

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    @property
    def within_horizon(self) -> float:
        """Share of runs that met the target within the horizon."""
        return sum(1 for d in self.days if not math.isinf(d)) / len(self.days)


def simulate(scenario: Scenario, *, runs: int, rng: random.Random) -> Forecast:
    """Run the Monte Carlo ``runs`` times; ``rng`` seeds every run's streams."""
    if runs < 1:
        raise ValueError("at least one run")
    horizon = 7.0 * scenario.horizon_weeks
    if scenario.needed <= 0:
        return Forecast(days=(0.0,) * runs, stalled=0, horizon_weeks=scenario.horizon_weeks)
    arrivals_cdf = _poisson_cdf(scenario.inflow_per_week)
    # Residual stays of the candidacies in progress: each waits out a stay at least its wait.
    pending: list[tuple[int, tuple[float, ...], int, float]] = []
    stalled = 0
    for i, ages in enumerate(scenario.in_progress):
        observed = scenario.stages[i].durations
        for age in ages:
            first_longer = bisect.bisect_left(observed, age)  # stays at least this long
            if first_longer == len(observed):
                stalled += 1
            else:
                pending.append((i, observed, first_longer, age))
    days = tuple(
        _run(scenario, arrivals_cdf, pending, horizon, rng.getrandbits(64)) for _ in range(runs)
    )
    return Forecast(days=days, stalled=stalled, horizon_weeks=scenario.horizon_weeks)


def _stream(seed: int, name: str) -> random.Random:
    # Seeded model randomness, reproducible by design; nothing secret depends on it.
    return random.Random(f"{seed}:{name}")  # noqa: S311


def _run(
    scenario: Scenario,
    arrivals_cdf: Sequence[float],
    pending: Sequence[tuple[int, tuple[float, ...], int, float]],
    horizon: float,
    seed: int,
) -> float:
    weeks = scenario.horizon_weeks
    draw_arrivals = _stream(seed, "arrivals").random
    entrants: list[float] = []
    for week in range(weeks):
        count = bisect.bisect_right(arrivals_cdf, draw_arrivals())
        entrants.extend(7.0 * (week + (k + 0.5) / count) for k in range(count))
    draw_residual = _stream(seed, "in-progress").random
    waiting: list[list[float]] = [[] for _ in scenario.stages]
    for stage_index, observed, first_longer, age in pending:
        pick = first_longer + int(draw_residual() * (len(observed) - first_longer))
        waiting[stage_index].append(observed[pick] - age)
    for i, stage in enumerate(scenario.stages):
        ready = list(waiting[i])
        if entrants and stage.conversion > 0:
            drawn = _stream(seed, f"stay:{i}").choices(stage.durations, k=len(entrants))
            ready.extend(e + d for e, d in zip(entrants, drawn, strict=True))
        ready.sort()
        passed: list[float] = []
        if stage.conversion > 0:
            draw_outcome = _stream(seed, f"outcome:{i}").random
            for at in ready:
                if at >= horizon:
                    break
                if draw_outcome() < stage.conversion:
                    passed.append(at)
        if stage.capacity is not None:
            draw_rounding = _stream(seed, f"seats:{i}").random
            seats = [int(stage.capacity + draw_rounding()) for _ in range(weeks)]
            passed = _admit(passed, seats)
        entrants = passed
    return entrants[scenario.needed - 1] if len(entrants) >= scenario.needed else INFINITY


def _admit(ready: Sequence[float], seats: Sequence[int]) -> list[float]:
    """First ready, first served, at most ``seats[w]`` going on in week ``w``."""
    admitted: list[float] = []
    week, used = 0, 0
    for at in ready:
        if int(at // 7) > week:
            week, used = int(at // 7), 0
        while week < len(seats) and used >= seats[week]:
            week, used = week + 1, 0
        if week >= len(seats):
            break
        used += 1
        admitted.append(max(at, 7.0 * week))
    return admitted


def _poisson_cdf(mean: float) -> list[float]:
    """Cumulative Poisson probabilities; a uniform draw's insertion point is the count.

    Drawing by the inverse CDF keeps draws monotone in the mean for one uniform,
    which is what makes more inflow never hurt a run.
    """
    if mean <= 0:
        return [1.0]
    top = int(mean + 12 * math.sqrt(mean) + 12)
    total, cdf = 0.0, []
    for k in range(top + 1):
        total += math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1))
        cdf.append(min(total, 1.0))
    cdf[-1] = 1.0
    return cdf


# -- what limits a target ----------------------------------------------------------------------


@dataclass(frozen=True)
class Bottleneck:
    """The stage that limits the pace of hires, why, and the steady pace it allows."""

    stage: str | None
    reason: str
    hires_per_week: float


def bottleneck(scenario: Scenario) -> Bottleneck:
    """Follow the steady weekly flow down the stages; name what holds it back.

    In order of precedence: a stage nobody passes; a stage whose capacity is
    below the flow arriving at it (the most overloaded one); otherwise the stage
    with the longest average stay. The flow is the inflow times the conversions,
    capped by each capacity on the way.
    """
    flow = scenario.inflow_per_week
    overloaded: tuple[float, StageModel, float] | None = None
    for stage in scenario.stages:
        if stage.conversion == 0:
            return Bottleneck(stage.name, "nobody has gone on from this stage yet", 0.0)
        demand = flow * stage.conversion
        if stage.capacity is not None:
            load = demand / stage.capacity if stage.capacity > 0 else INFINITY
            if demand > 0 and load >= 1 and (overloaded is None or load > overloaded[0]):
                overloaded = (load, stage, demand)
            flow = min(demand, stage.capacity)
        else:
            flow = demand
    if overloaded is not None:
        _, stage, demand = overloaded
        label = stage.capacity_label or "capacity"
        return Bottleneck(
            stage.name,
            f"{label}: {stage.capacity:.1f} a week for {demand:.1f} a week ready to go on",
            flow,
        )
    if scenario.inflow_per_week == 0:
        return Bottleneck(None, "no applications in the inflow window", 0.0)
    longest = max(scenario.stages, key=lambda s: statistics.fmean(s.durations or (0.0,)))
    mean = statistics.fmean(longest.durations or (0.0,))
    return Bottleneck(longest.name, f"longest stay: {mean:.0f} days on average", flow)


def in_progress_ages(
    histories: Iterable[History], stages: Sequence[str], now: datetime
) -> tuple[tuple[float, ...], ...]:
    """Per stage of ``stages``: how long each open candidacy there has waited (days)."""
    position = {s: i for i, s in enumerate(stages)}
    ages: list[list[float]] = [[] for _ in stages]
    for history in histories:
        if not history.open:
            continue
        open_stays = [s for s in stays(history) if s.left is None]
        if open_stays and open_stays[0].state in position:
            ages[position[open_stays[0].state]].append(open_stays[0].days(now))
    return tuple(tuple(a) for a in ages)
