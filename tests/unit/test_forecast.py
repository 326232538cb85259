"""The forecast's model: stays, observed rates with fallbacks, and the seeded Monte Carlo.

The headline test generates a synthetic history with known rates (conversion 0.5
at each of three stages, stays of exactly 7 days, 20 applications a week) and
checks that the estimation recovers them and that the Monte Carlo's median date
lies near the analytic expectation. Property tests check that the simulation is
monotone: more inflow, more seats or more recruiters never make a run later.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.adapters.workflow_files import read_workflow_file
from ats.domain.forecast import (
    MIN_OBSERVATIONS,
    Entry,
    History,
    Scenario,
    StageModel,
    StageObservation,
    StagePath,
    bottleneck,
    estimate,
    in_progress_ages,
    merge_orders,
    observe,
    quantile,
    simulate,
    stays,
    weekly_rate,
)
from ats.domain.workflow import Catalog
from tests.conftest import REPO

NOW = datetime(2021, 12, 1, 12, 0, tzinfo=UTC)
LINEAR = StagePath(
    name="linear",
    stages=("applied", "screened", "interview", "hired"),
    finals=frozenset({"hired", "rejected", "withdrawn"}),
)


def _history(
    candidacy_id: int, steps: list[tuple[datetime, str]], path: StagePath = LINEAR
) -> History:
    entries, previous = [], None
    for at, state in steps:
        entries.append(Entry(at=at, src=previous, dst=state))
        previous = state
    return History(
        candidacy_id=candidacy_id,
        vacancy="V",
        path=path,
        entries=tuple(entries),
        applied_at=steps[0][0],
    )


def synthetic_history(
    *, weeks: int = 30, per_week: int = 20, conversion: float = 0.5, stay_days: float = 7.0
) -> list[History]:
    """Applications evenly spread over ``weeks`` weeks before NOW; every stage keeps a
    candidacy ``stay_days`` and lets it go on with probability ``conversion`` (else
    rejected). Steps after NOW have not happened yet."""
    rng = random.Random(2021)
    start = NOW - timedelta(weeks=weeks)
    histories = []
    for number in range(weeks * per_week):
        at = start + timedelta(days=7 * number / per_week)
        steps = [(at, "applied")]
        for stage in LINEAR.stages[1:]:
            at += timedelta(days=stay_days)
            if at >= NOW:
                break
            if rng.random() < conversion:
                steps.append((at, stage))
            else:
                steps.append((at, "rejected"))
                break
        histories.append(_history(number + 1, steps))
    return histories


@functools.cache
def drive_history() -> list[History]:
    """The history the headline tests share: 100 applications a week for 40 weeks."""
    return synthetic_history(weeks=40, per_week=100)


def _scenario(histories: list[History], *, needed: int, horizon_weeks: int = 52) -> Scenario:
    observed = observe(histories)
    stages = LINEAR.stages[:-1]
    estimates = [estimate(s, [("vacancy", observed.get(s))]) for s in stages]
    return Scenario(
        stages=tuple(
            StageModel(name=e.stage, conversion=e.conversion or 0.0, durations=e.durations)
            for e in estimates
        ),
        needed=needed,
        inflow_per_week=weekly_rate((h.applied_at for h in histories), NOW, 4),
        horizon_weeks=horizon_weeks,
        in_progress=in_progress_ages(histories, stages, NOW),
    )


# -- the synthetic history ---------------------------------------------------------------------


def test_estimation_recovers_the_known_conversions_stays_and_inflow() -> None:
    """Conversions of 0.5 are estimated within ±0.05, stays of 7 days as 7 days, and the
    inflow as 100 a week, from a generated history of 4,000 applications (at the last
    stage about 1,000 resolved candidacies: a standard error of 0.016, so ±0.05 is three)."""
    histories = drive_history()
    observed = observe(histories)
    for stage in ("applied", "screened", "interview"):
        found = estimate(stage, [("vacancy", observed[stage])])
        assert found.conversion is not None
        assert found.conversion == pytest.approx(0.5, abs=0.05), stage
        assert found.conversion_source == "vacancy"
        assert found.durations
        assert min(found.durations) == max(found.durations) == pytest.approx(7.0)
    assert weekly_rate((h.applied_at for h in histories), NOW, 4) == pytest.approx(100, abs=1)


def test_the_median_date_lies_within_a_week_of_the_analytic_expectation() -> None:
    """At 100 applications a week and 0.5³ = 1/8 of them hired 21 days later, hires come
    at 12.5 a week (the pipeline is in steady state), so 125 more take 10 weeks: the
    median is within 7 days of day 70. The spread is that of a sum of Poisson arrivals
    (about ±0.9 weeks for 125 hires): the 10th-90th percentile range is 1 to 4 weeks."""
    scenario = _scenario(drive_history(), needed=125, horizon_weeks=20)
    forecast = simulate(scenario, runs=200, rng=random.Random(1))
    assert forecast.median == pytest.approx(70, abs=7)
    assert 7 <= forecast.quantile(0.9) - forecast.quantile(0.1) <= 28
    assert forecast.within_horizon == 1.0
    assert forecast.stalled == 0


def test_the_same_seed_gives_the_same_forecast_and_another_seed_differs() -> None:
    scenario = _scenario(synthetic_history(weeks=10), needed=10)
    first = simulate(scenario, runs=50, rng=random.Random(5))
    assert simulate(scenario, runs=50, rng=random.Random(5)) == first
    assert simulate(scenario, runs=50, rng=random.Random(6)).days != first.days


def test_a_met_target_is_met_today_in_every_run() -> None:
    scenario = _scenario(synthetic_history(weeks=10), needed=0)
    assert set(simulate(scenario, runs=20, rng=random.Random(1)).days) == {0.0}


def test_a_candidacy_waiting_longer_than_every_observed_stay_is_stalled() -> None:
    """It is left out of the simulation (no evidence it will ever move) and counted."""
    stage = StageModel(name="applied", conversion=1.0, durations=(3.0, 5.0))
    scenario = Scenario(stages=(stage,), needed=1, inflow_per_week=0, in_progress=((4.0, 9.0),))
    forecast = simulate(scenario, runs=20, rng=random.Random(1))
    assert forecast.stalled == 1
    assert set(forecast.days) == {1.0}, "the 4-day-old one needs the 5-day stay: 1 day more"


# -- monotonicity ------------------------------------------------------------------------------

stage_models = st.builds(
    StageModel,
    name=st.sampled_from(["a", "b", "c", "d"]),
    conversion=st.floats(0.05, 1.0),
    durations=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=5).map(tuple),
    capacity=st.none() | st.floats(0.0, 15.0),
)


@st.composite
def scenarios(draw: Any) -> Scenario:
    stages = tuple(draw(st.lists(stage_models, min_size=1, max_size=4)))
    in_progress = tuple(tuple(draw(st.lists(st.floats(0.0, 20.0), max_size=4))) for _ in stages)
    return Scenario(
        stages=stages,
        needed=draw(st.integers(1, 25)),
        inflow_per_week=draw(st.floats(0.0, 25.0)),
        horizon_weeks=draw(st.integers(4, 26)),
        in_progress=in_progress,
    )


def _runs(scenario: Scenario, seed: int) -> tuple[float, ...]:
    return simulate(scenario, runs=20, rng=random.Random(seed)).days


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.floats(0.5, 20.0), st.integers(0, 2**32))
def test_more_inflow_never_makes_a_run_or_the_median_later(
    scenario: Scenario, extra: float, seed: int
) -> None:
    """Same seed, more applications a week: every run meets the target no later."""
    more = replace(scenario, inflow_per_week=scenario.inflow_per_week + extra)
    base, better = _runs(scenario, seed), _runs(more, seed)
    assert all(b <= a for a, b in zip(base, better, strict=True))
    assert quantile(better, 0.5) <= quantile(base, 0.5)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.data(), st.floats(0.5, 20.0), st.integers(0, 2**32))
def test_more_seats_or_recruiters_never_make_a_run_or_the_median_later(
    scenario: Scenario, data: st.DataObject, extra: float, seed: int
) -> None:
    """Raising one stage's weekly capacity (Selor seats, recruiters) never delays a run."""
    index = data.draw(st.integers(0, len(scenario.stages) - 1))
    stage = scenario.stages[index]
    limited = replace(stage, capacity=stage.capacity if stage.capacity is not None else 1.0)
    raised = replace(limited, capacity=(limited.capacity or 0.0) + extra)
    before = replace(scenario, stages=_with(scenario.stages, index, limited))
    after = replace(scenario, stages=_with(scenario.stages, index, raised))
    base, better = _runs(before, seed), _runs(after, seed)
    assert all(b <= a for a, b in zip(base, better, strict=True))
    assert quantile(better, 0.5) <= quantile(base, 0.5)


def _with(stages: tuple[StageModel, ...], index: int, stage: StageModel) -> tuple[StageModel, ...]:
    return (*stages[:index], stage, *stages[index + 1 :])


@settings(max_examples=40, deadline=None)
@given(scenarios(), st.data())
def test_a_stage_nobody_passes_means_not_within_the_horizon(
    scenario: Scenario, data: st.DataObject
) -> None:
    """With conversion 0 somewhere and nobody in progress beyond it, no run meets the target,
    and the bottleneck names that stage."""
    index = data.draw(st.integers(0, len(scenario.stages) - 1))
    stages = _with(scenario.stages, index, replace(scenario.stages[index], conversion=0.0))
    in_progress = tuple(ages if i <= index else () for i, ages in enumerate(scenario.in_progress))
    blocked = replace(scenario, stages=stages, in_progress=in_progress)
    forecast = simulate(blocked, runs=10, rng=random.Random(3))
    assert all(math.isinf(d) for d in forecast.days)
    assert forecast.within_horizon == 0
    assert bottleneck(blocked).stage == stages[index].name


def test_a_binding_selor_capacity_delays_the_target_and_extra_seats_bring_it_back() -> None:
    """20 ready a week for 5 seats: the queue dominates; 30 seats remove it."""

    def scenario(seats: float) -> Scenario:
        return Scenario(
            stages=(
                StageModel(name="screened", conversion=1.0, durations=(7.0,), capacity=seats),
                StageModel(name="selor_test", conversion=0.5, durations=(7.0,)),
            ),
            needed=50,
            inflow_per_week=20,
        )

    tight = simulate(scenario(5), runs=50, rng=random.Random(1))
    roomy = simulate(scenario(30), runs=50, rng=random.Random(1))
    # 50 hires at 0.5: 100 seats; 5 a week take 20 weeks, 30 a week about 5 weeks.
    assert tight.median == pytest.approx(20 * 7 + 7, abs=10)
    assert roomy.median == pytest.approx(5 * 7 + 14, abs=10)
    limit = bottleneck(scenario(5))
    assert limit.stage == "screened"
    assert limit.hires_per_week == pytest.approx(2.5)


# -- stays, quantiles, orders, fallbacks -------------------------------------------------------


def test_stays_follow_consecutive_entries_and_a_reschedule_extends_the_stay() -> None:
    day = timedelta(days=1)
    history = _history(
        1,
        [(NOW, "applied"), (NOW + 2 * day, "screened"), (NOW + 3 * day, "screened")],
    )
    found = stays(history)
    assert [(s.state, s.left) for s in found] == [
        ("applied", NOW + 2 * day),
        ("screened", None),
    ]
    assert found[0].days(NOW) == 2.0
    assert found[1].days(NOW + 10 * day) == 8.0, "the open stay counts up to now"


def test_a_final_state_has_no_stay_and_reached_stages_follow_workflow_order() -> None:
    history = _history(1, [(NOW, "applied"), (NOW, "interview"), (NOW, "rejected")])
    assert [s.state for s in stays(history)] == ["applied", "interview"]
    assert history.furthest() == 2, "a skipped stage (screened) counts as passed"
    observed = observe([history])
    assert (observed["applied"].passed, observed["screened"].passed) == (1, 1)
    assert (observed["interview"].passed, observed["interview"].failed) == (0, 1)


def test_quantiles_interpolate_linearly_and_touch_infinity_only_at_unreached_runs() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert quantile(values, 0.5) == 3.0
    assert quantile(values, 0.9) == pytest.approx(7.6)
    assert quantile([1.0, math.inf], 0.25) == math.inf
    assert quantile([1.0, 2.0, math.inf], 0.5) == 2.0
    with pytest.raises(ValueError, match="no values"):
        quantile([], 0.5)


@given(st.permutations(list("abcdefgh")), st.lists(st.sets(st.integers(0, 7)), max_size=4))
def test_a_merged_stage_order_keeps_every_workflows_own_order(
    master: list[str], picks: list[set[int]]
) -> None:
    orders = [[master[i] for i in sorted(p)] for p in picks]
    merged = merge_orders(orders)
    assert sorted(merged) == sorted({s for o in orders for s in o})
    for order in orders:
        positions = [merged.index(s) for s in order]
        assert positions == sorted(positions)


def test_thin_vacancy_data_falls_back_to_the_function_then_to_all() -> None:
    thin = StageObservation(passed=2, failed=1, durations=[1.0])
    enough = StageObservation(passed=MIN_OBSERVATIONS, failed=0, durations=[2.0] * 10)
    found = estimate("s", [("vacancy", thin), ("function", enough), ("all", enough)])
    assert (found.conversion, found.conversion_source) == (1.0, "function")
    assert found.durations_source == "function"
    sparse = estimate("s", [("vacancy", thin), ("function", None), ("all", thin)])
    assert sparse.conversion_source == "all (thin)"
    assert sparse.conversion == pytest.approx(2 / 3)
    assert estimate("s", [("vacancy", None), ("all", None)]).conversion is None


def test_the_paths_of_the_real_workflows_name_the_selor_and_recruiter_stages() -> None:
    """The seat gate is where candidacies wait for a Selor invitation; recruiters move
    candidacies on from screening and from the wait for an interview."""
    for name in ("security-escort", "protection-officer", "lawyer"):
        definition = read_workflow_file(REPO / "workflows" / f"{name}.yaml", Catalog())
        path = StagePath.from_document(definition.to_document())
        assert path.seat_gate == "screened", name
        assert path.selor_stage == "selor_test", name
        assert {"applied", "awaiting_interview"} <= path.recruiter_gates, name
        assert "offer" not in path.recruiter_gates, "the candidate accepts an offer"
        assert path.stages[0] == "applied"
        assert path.stages[-1] == "hired"
        assert "rejected" not in path.stages


def test_without_a_selection_block_the_selor_stage_is_the_first_only_selor_leaves() -> None:
    definition = read_workflow_file(REPO / "workflows" / "security-escort.yaml", Catalog())
    document = definition.to_document()
    document.pop("selection", None)
    path = StagePath.from_document(document)
    assert (path.seat_gate, path.selor_stage) == ("screened", "selor_test")


def test_bad_models_are_refused() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        StageModel(name="s", conversion=1.5, durations=(1.0,))
    with pytest.raises(ValueError, match="needs observed stays"):
        StageModel(name="s", conversion=0.5, durations=())
    with pytest.raises(ValueError, match="at least one stage"):
        Scenario(stages=(), needed=1, inflow_per_week=1)
