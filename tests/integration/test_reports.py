"""The taskforce's reports on real databases, over candidacies moved by real transitions."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ats.adapters.db.models import TimerRow
from ats.adapters.drive_file import read_hiring_drive
from ats.clock import ManualClock
from ats.errors import ConfigurationError, InvalidInput
from ats.service import reports
from ats.service.app import App
from ats.service.commands import Apply, FireTrigger
from ats.service.reports import ForecastOptions, ReportFilters
from ats.service.timers import sweep
from ats.settings import load_settings
from tests.conftest import REPO, walk

VACANCY = "DVZ-SEC-W1"
NO_FILTER = ReportFilters()


def _apply(app: App, number: int, vacancy: str = VACANCY) -> int:
    return int(
        app.handle(
            Apply(
                vacancy=vacancy,
                name=f"Candidate {number}",
                email=f"candidate.{number}@example.org",
                language="nl",
            )
        )
    )


def _advance(app: App, candidacy_id: int, goal: str) -> None:
    """Fire the shortest chain of staff triggers from the current state to ``goal``."""
    walk(app, candidacy_id, goal)


def _fire(
    app: App, candidacy_id: int, trigger: str, role: str, facts: dict[str, object] | None = None
) -> None:
    app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=trigger,
            actor=f"test:{role}",
            role=role,
            reason="test",
            facts=facts or {},
        )
    )


def _rows(report: reports.Report, section: str, **match: object) -> list[dict[str, object]]:
    return [r for r in report.section(section).rows if all(r.get(k) == v for k, v in match.items())]


# -- funnel ------------------------------------------------------------------------------------


def test_funnel_counts_each_stage_and_the_conversion_to_the_next(app: App) -> None:
    """Four candidacies: one still applied, one screened, one rejected at the Selor test,
    one hired. Reached and went-on follow the audit entries in workflow order."""
    waiting, screened, failed, hired = (_apply(app, n) for n in range(4))
    _advance(app, screened, "screened")
    _advance(app, failed, "selor_test")
    _fire(app, failed, "reject", "recruiter")
    _advance(app, hired, "hired")
    del waiting

    made = reports.funnel(app, ReportFilters.parse(vacancy=VACANCY))
    by_stage = {r["stage"]: r for r in made.section("funnel").rows}
    assert [
        (s, by_stage[s]["now"], by_stage[s]["reached"], by_stage[s]["went_on"])
        for s in ("applied", "screened", "selor_test", "awaiting_interview", "offer", "hired")
    ] == [
        ("applied", 1, 4, 3),
        ("screened", 1, 3, 2),
        ("selor_test", 0, 2, 1),
        ("awaiting_interview", 0, 1, 1),
        ("offer", 0, 1, 1),
        ("hired", 1, 1, None),
    ]
    assert by_stage["applied"]["conversion"] == pytest.approx(0.75)
    assert by_stage["selor_test"]["conversion"] == pytest.approx(0.5)
    assert by_stage["selor_test"]["rejected"] == 1
    assert (by_stage["rejected"]["now"], by_stage["withdrawn"]["now"]) == (1, 0)
    assert list(by_stage)[: len(by_stage) - 2][-1] == "hired", "workflow order, finals last"
    assert {r["vacancy"] for r in made.section("funnel").rows} == {VACANCY}
    empty = reports.funnel(app, ReportFilters.parse(vacancy="RVV-LAW-W3")).section("funnel")
    assert [r["stage"] for r in empty.rows][:4] == [
        "applied",
        "screened",
        "selor_test",
        "written_case",
    ]
    assert {r["now"] for r in empty.rows} == {0}, "a vacancy nobody applied to shows its stages"


def test_funnel_grouped_by_service_merges_the_vacancies_of_different_workflows(
    app: App,
) -> None:
    """DVZ holds security escorts (with a medical check) and return counsellors (without):
    one block, each stage once, in an order that keeps both workflows' own orders."""
    _advance(app, _apply(app, 1, "DVZ-SEC-W1"), "medical_check")
    _advance(app, _apply(app, 2, "DVZ-RET-W1"), "interview")
    made = reports.funnel(app, ReportFilters.parse(service="DVZ"), by="service")
    rows = made.section("funnel").rows
    assert {r["service"] for r in rows} == {"DVZ"}
    stages = [r["stage"] for r in rows]
    assert len(stages) == len(set(stages))
    assert stages.index("interview") < stages.index("medical_check") < stages.index("selected")
    interview = next(r for r in rows if r["stage"] == "interview")
    assert (interview["reached"], interview["went_on"]) == (2, 1)


# -- delays ------------------------------------------------------------------------------------


def test_delays_give_median_and_p90_of_stays_with_the_current_stage_up_to_now(
    app: App, clock: ManualClock
) -> None:
    """Five candidacies screened 1, 2, 3, 4 and 10 days after applying; a sixth still in
    applied for 12 days at report time: stays 1, 2, 3, 4, 10, 12 give a median of 3.5
    and a p90 of 11 days (linear interpolation)."""
    candidacies = [_apply(app, n) for n in range(6)]
    start = clock.now()
    for candidacy, days in zip(candidacies, (1, 2, 3, 4, 10), strict=False):
        clock.set(start + timedelta(days=days))
        _advance(app, candidacy, "screened")
    clock.set(start + timedelta(days=12))

    made = reports.delays(app, ReportFilters.parse(vacancy=VACANCY), answer_days=30)
    applied = _rows(made, "stages", stage="applied")[0]
    assert (applied["stays"], applied["in_stage_now"]) == (6, 1)
    assert applied["median_days"] == pytest.approx(3.5)
    assert applied["p90_days"] == pytest.approx(11.0)
    screened = _rows(made, "stages", stage="screened")[0]
    assert screened["in_stage_now"] == 5
    assert screened["median_days"] == pytest.approx(9.0), "in screened for 11, 10, 9, 8, 2 days"
    assert made.section("waiting").rows == ()


def test_candidacies_waiting_past_the_promised_answer_time_are_listed(
    app: App, clock: ManualClock
) -> None:
    """The setting report_answer_days is the promised answer time; a transition restarts it."""
    stale, moved = _apply(app, 1), _apply(app, 2)
    clock.advance(timedelta(days=6))
    _advance(app, moved, "screened")
    clock.advance(timedelta(days=2))
    app = replace(app, settings=replace(app.settings, report_answer_days=7))

    made = reports.delays(app, NO_FILTER)
    assert [
        (r["candidacy"], r["state"], r["days_waiting"]) for r in made.section("waiting").rows
    ] == [(stale, "applied", 8.0)]
    assert _rows(made, "stages", vacancy=VACANCY, stage="applied")[0]["over_answer_time"] == 1
    assert made.parameters["answer_days"] == 7
    assert any("1 open candidacies have waited more than 7 days" in n for n in made.notes)
    with pytest.raises(InvalidInput, match="positive number of days, got 0"):
        reports.delays(app, NO_FILTER, answer_days=0)


def test_overdue_armed_timers_and_failed_timers_are_counted(app: App, clock: ManualClock) -> None:
    """A Selor-test timeout the sweeper could not fire is failed; another candidacy's
    timeout, 31 days later with no sweep, is armed and overdue. Both are listed."""
    failing = _apply(app, 1)
    _advance(app, failing, "selor_test")
    timer = TimerRow.__table__
    with app.engine.begin() as connection:
        connection.execute(
            update(timer)
            .where(timer.c.candidacy_id == failing, timer.c.kind == "timeout")
            .values(trigger="accept_offer")  # does not leave selor_test: the sweep fails it
        )
    clock.advance(timedelta(days=31))
    assert sweep(app, worker="test").failed == 1
    overdue = _apply(app, 2)
    _advance(app, overdue, "selor_test")
    clock.advance(timedelta(days=31))  # no worker sweeps now

    made = reports.delays(app, NO_FILTER)
    late = made.section("timers").rows
    assert sorted((r["candidacy"], r["status"]) for r in late if r["kind"] == "timeout") == [
        (failing, "failed"),
        (overdue, "armed"),
    ]
    failed = next(r for r in late if r["status"] == "failed")
    assert "does not leave state 'selor_test'" in str(failed["outcome"])
    assert failed["days_overdue"] is None
    timeout = next(r for r in late if r["status"] == "armed" and r["kind"] == "timeout")
    assert timeout["days_overdue"] == pytest.approx(1.0)
    armed = sum(1 for r in late if r["status"] == "armed")
    assert armed == 2, "the timeout and its reminder"
    assert "2 armed timers are overdue" in " ".join(made.notes)
    assert "1 timers failed" in " ".join(made.notes)


# -- targets -----------------------------------------------------------------------------------


def test_targets_list_every_vacancy_of_the_seed_with_its_target_and_a_drive_total(
    app: App,
) -> None:
    """Every vacancy of config/hiring-drive.yaml, with its target (None where the seed
    gives none), hired and in-offer counts, and a total line against the drive's 700."""
    hired, offered, open_ = _apply(app, 1), _apply(app, 2), _apply(app, 3)
    _advance(app, hired, "hired")
    _advance(app, offered, "offer")
    del open_
    drive = read_hiring_drive(REPO / "config" / "hiring-drive.yaml")

    made = reports.targets(app, NO_FILTER)
    rows = made.section("targets").rows
    assert {r["vacancy"]: r["target"] for r in rows[:-1]} == {
        v.code: v.target for v in drive.vacancies
    }
    mine = _rows(made, "targets", vacancy=VACANCY)[0]
    assert (mine["hired"], mine["offer"], mine["in_progress"], mine["applications"]) == (1, 1, 1, 3)
    assert mine["gap"] == 54
    assert mine["reached"] == pytest.approx(1 / 55)
    lawyers = _rows(made, "targets", vacancy="RVV-LAW-W3")[0]
    assert (lawyers["target"], lawyers["gap"], lawyers["reached"]) == (None, None, None)
    total = rows[-1]
    assert (total["vacancy"], total["target"], total["hired"]) == ("TOTAL (drive)", 700, 1)
    assert total["gap"] == 699


def test_filters_narrow_the_vacancies_and_the_period_the_candidacies(
    app: App, clock: ManualClock
) -> None:
    """A wave lists its vacancies and totals their targets; --since/--until are Brussels
    dates on the application date, both inclusive."""
    _apply(app, 1)  # 2021-06-28 09:00 Brussels
    clock.advance(timedelta(days=2))
    _apply(app, 2)  # 2021-06-30
    made = reports.targets(app, ReportFilters.parse(wave="W1", since="2021-06-29"))
    rows = made.section("targets").rows
    assert {r["wave"] for r in rows[:-1]} == {"W1"}
    assert rows[-1]["vacancy"] == "TOTAL (listed targets)"
    assert rows[-1]["target"] == sum(int(r["target"]) for r in rows[:-1])
    assert _rows(made, "targets", vacancy=VACANCY)[0]["applications"] == 1
    assert made.filters == {"wave": "W1", "since": "2021-06-29"}
    until = reports.targets(app, ReportFilters.parse(until="2021-06-29"))
    assert _rows(until, "targets", vacancy=VACANCY)[0]["applications"] == 1


# -- forecast ----------------------------------------------------------------------------------


def test_forecast_gives_a_row_per_vacancy_and_its_model_per_stage(
    app: App, clock: ManualClock
) -> None:
    """A small history: the forecast runs, names the vacancies without a target, and shows
    where each stage's rate came from (thin data falls back to wider pools)."""
    for number in range(12):
        candidacy = _apply(app, number)
        clock.advance(timedelta(days=1))
        _advance(app, candidacy, "hired" if number % 3 == 0 else "screened")
    made = reports.forecast(app, NO_FILTER, ForecastOptions(runs=30, inflow_weeks=2))
    rows = {r["vacancy"]: r for r in made.section("forecast").rows}
    assert rows["RVV-LAW-W3"]["why"] == "no target announced"
    mine = rows[VACANCY]
    assert (mine["target"], mine["hired"]) == (55, 4)
    assert mine["inflow_per_week"] == pytest.approx(6.0)
    assert mine["limiting_stage"] is not None, mine["why"]
    model = _rows(made, "model", vacancy=VACANCY)
    assert model[0]["stage"] == "applied"
    assert model[0]["conversion"] == pytest.approx(1.0)
    assert model[0]["conversion_from"] == "vacancy"
    assert model[0]["capacity_from"] == "recruiters"
    assert made.parameters["runs"] == 30


def test_forecast_options_out_of_range_are_refused_with_the_value() -> None:
    with pytest.raises(InvalidInput, match="runs 0: give 1 to 100000"):
        ForecastOptions(runs=0)
    with pytest.raises(InvalidInput, match="recruiters 0"):
        ForecastOptions(recruiters=0)


# -- bad input ---------------------------------------------------------------------------------


UNKNOWN = [
    ({"service": "XYZ"}, "no service 'XYZ' (known: CGVS, DVZ, FEDASIL, RVV)"),
    ({"function": "pilot"}, "no function 'pilot' (known: lawyer, migration_officer, "),
    ({"wave": "W9"}, "no wave 'W9' (known: W1, W2, W3)"),
    ({"vacancy": "NOPE"}, "no vacancy 'NOPE' (known: CGVS-PROT-W1, DVZ-LAW-W3, "),
]


def test_an_unknown_code_is_refused_by_every_report_with_the_known_ones(app: App) -> None:
    for options, message in UNKNOWN:
        for report in (reports.funnel, reports.delays, reports.targets, reports.forecast):
            with pytest.raises(InvalidInput, match=re.escape(message)):
                report(app, ReportFilters.parse(**options))
    with pytest.raises(InvalidInput, match=r"no service 'X'.*; no wave 'Y'"):
        reports.targets(app, ReportFilters.parse(service="X", wave="Y"))


def test_bad_dates_are_refused_before_any_database_work() -> None:
    with pytest.raises(InvalidInput, match="since '28/06/2021': give a date as YYYY-MM-DD"):
        ReportFilters.parse(since="28/06/2021")
    with pytest.raises(InvalidInput, match="until 2021-06-01 is before since 2021-07-01"):
        ReportFilters.parse(since="2021-07-01", until="2021-06-01")


def test_the_answer_time_setting_is_a_positive_whole_number(tmp_path: Path) -> None:
    """report_answer_days: 30 days unless set; zero or words are refused at start-up."""
    assert load_settings(tmp_path, environ={}).report_answer_days == 30
    days = load_settings(tmp_path, environ={"ATS_REPORT_ANSWER_DAYS": "14"}).report_answer_days
    assert days == 14
    for bad, message in (("0", "must be positive"), ("soon", "must be a whole number")):
        with pytest.raises(ConfigurationError, match=f"report_answer_days: {message}"):
            load_settings(tmp_path, environ={"ATS_REPORT_ANSWER_DAYS": bad})
