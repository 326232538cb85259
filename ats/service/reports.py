"""The taskforce's reports: funnel, delays, targets and forecast, per service, function and wave.

Each report reads candidacies, their audit entries (the transitions, in order)
and, for delays, their timers with SQLAlchemy Core, turns them into
``ats.domain.forecast.History`` values and computes with pure functions. A
report is a ``Report``: named sections of rows (plain values, ready for JSON,
CSV or a spreadsheet), the filters and parameters it was made with, and notes.

Filters narrow the vacancies (``service``, ``function``, ``wave``,
``vacancy``; an unknown code is refused with the known ones listed) and the
candidacies (``since``/``until``: local dates in Europe/Brussels, inclusive, on
the application date). How each report is computed, and the forecast's model
and assumptions, are in docs/reports.md.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection, Select, Table, and_, or_, select

from ats.adapters.db.models import (
    AuditEntryRow,
    CandidacyRow,
    JobFunctionRow,
    ServiceRow,
    TimerRow,
    VacancyRow,
    WaveRow,
    WorkflowCurrentRow,
    WorkflowVersionRow,
)
from ats.domain.forecast import (
    HIRED,
    NEGATIVE,
    Entry,
    History,
    Scenario,
    StageEstimate,
    StageModel,
    StageObservation,
    StagePath,
    bottleneck,
    estimate,
    in_progress_ages,
    merge_orders,
    observe,
    pooled,
    quantile,
    simulate,
    stays,
    weekly_rate,
)
from ats.errors import InvalidInput
from ats.service.app import App
from ats.service.queries import local_time

log = structlog.get_logger("ats")

VACANCY = cast(Table, VacancyRow.__table__)
SERVICE = cast(Table, ServiceRow.__table__)
FUNCTION = cast(Table, JobFunctionRow.__table__)
WAVE = cast(Table, WaveRow.__table__)
CANDIDACY = cast(Table, CandidacyRow.__table__)
AUDIT = cast(Table, AuditEntryRow.__table__)
TIMER = cast(Table, TimerRow.__table__)
WORKFLOW = cast(Table, WorkflowVersionRow.__table__)
CURRENT = cast(Table, WorkflowCurrentRow.__table__)

GROUPINGS = ("vacancy", "service", "function", "wave", "all")
OFFER = "offer"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LIMITS = {  # forecast options: what a person may ask for, and no more
    "runs": (1, 100_000),
    "inflow_weeks": (1, 104),
    "horizon_weeks": (1, 260),
    "extra_seats_per_week": (0, 10_000),
    "extra_recruiters": (0, 1_000),
    "recruiters": (1, 1_000),
}


# -- filters -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReportFilters:
    """Which vacancies and candidacies a report covers; None means "any"."""

    service: str | None = None
    function: str | None = None
    wave: str | None = None
    vacancy: str | None = None
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(
        cls,
        *,
        service: str | None = None,
        function: str | None = None,
        wave: str | None = None,
        vacancy: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> ReportFilters:
        """Filters as typed on a command line; every bad date is named in one error.

        Codes are checked against the database by each report (``check``).
        """
        problems: list[str] = []
        since_date = _parse_date("since", since, problems)
        until_date = _parse_date("until", until, problems)
        if since_date and until_date and until_date < since_date:
            problems.append(
                f"until {until_date.isoformat()} is before since {since_date.isoformat()}; "
                "swap them or widen the period"
            )
        if problems:
            raise InvalidInput("bad report filter: " + "; ".join(problems))
        return cls(
            service=service or None,
            function=function or None,
            wave=wave or None,
            vacancy=vacancy or None,
            since=since_date,
            until=until_date,
        )

    def to_dict(self) -> dict[str, str]:
        """The filters that were given, as a report states them."""
        values = {
            "service": self.service,
            "function": self.function,
            "wave": self.wave,
            "vacancy": self.vacancy,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
        return {k: v for k, v in values.items() if v is not None}

    @property
    def narrows_vacancies(self) -> bool:
        return any((self.service, self.function, self.wave, self.vacancy))

    def check(self, connection: Connection) -> None:
        """A misspelt code is an error that lists the known codes, not an empty report."""
        problems: list[str] = []
        for name, table, value in (
            ("service", SERVICE, self.service),
            ("function", FUNCTION, self.function),
            ("wave", WAVE, self.wave),
            ("vacancy", VACANCY, self.vacancy),
        ):
            if value is None:
                continue
            known = list(connection.execute(select(table.c.code).order_by(table.c.code)).scalars())
            if value not in known:
                listed = ", ".join(known) or "none; run `ats init`"
                problems.append(f"no {name} {value!r} (known: {listed})")
        if problems:
            raise InvalidInput("bad report filter: " + "; ".join(problems))


def _parse_date(name: str, text: str | None, problems: list[str]) -> date | None:
    if text is None or text == "":
        return None
    try:
        if not _DATE.fullmatch(text):  # fromisoformat would also take 20210628 and 2021-W26
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{name} {text!r}: give a date as YYYY-MM-DD, e.g. 2021-06-28")
        return None


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local calendar day begins (DST-aware)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


# -- what a report is --------------------------------------------------------------------------


def _no_meaning(row: Mapping[str, Any], column: str) -> str | None:
    return None


@dataclass(frozen=True)
class Section:
    """One table of a report. Rows hold plain values; None is an empty cell.

    ``percent`` columns hold shares (0.5 is 50%); ``blank`` says what an empty
    cell of a row means when a person reads the table (None: nothing to say).
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    percent: frozenset[str] = frozenset()
    blank: Callable[[Mapping[str, Any], str], str | None] = _no_meaning


@dataclass(frozen=True)
class Report:
    """A report as computed: its sections, and what it was asked and assumed."""

    name: str
    as_of: datetime
    zone: ZoneInfo
    filters: Mapping[str, str]
    parameters: Mapping[str, Any]
    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "as_of": local_time(self.as_of, self.zone),
            "as_of_utc": self.as_of.isoformat(),
            "filters": dict(self.filters),
            "parameters": dict(self.parameters),
            **{s.name: [_plain(r) for r in s.rows] for s in self.sections},
            "notes": list(self.notes),
        }


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for JSON: dates as ISO text."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VacancyInfo:
    code: str
    service: str
    function: str
    wave: str
    target: int | None
    workflow: str

    def key(self, by: str) -> str:
        return {
            "vacancy": self.code,
            "service": self.service,
            "function": self.function,
            "wave": self.wave,
        }.get(by, "all")


def _vacancies(connection: Connection, filters: ReportFilters | None) -> list[VacancyInfo]:
    query = (
        select(VACANCY, FUNCTION.c.workflow)
        .join(FUNCTION, FUNCTION.c.code == VACANCY.c.job_function)
        .join(WAVE, WAVE.c.code == VACANCY.c.wave)
        .order_by(WAVE.c.number, VACANCY.c.code)
    )
    if filters is not None:
        for column, value in (
            (VACANCY.c.service, filters.service),
            (VACANCY.c.job_function, filters.function),
            (VACANCY.c.wave, filters.wave),
            (VACANCY.c.code, filters.vacancy),
        ):
            if value is not None:
                query = query.where(column == value)
    return [
        VacancyInfo(
            code=row["code"],
            service=row["service"],
            function=row["job_function"],
            wave=row["wave"],
            target=row["target"],
            workflow=row["workflow"],
        )
        for row in connection.execute(query).mappings()
    ]


def _candidacies(
    codes: Sequence[str], filters: ReportFilters | None, zone: ZoneInfo
) -> Select[Any]:
    query = select(CANDIDACY.c.id).where(CANDIDACY.c.vacancy.in_(codes))
    if filters is not None and filters.since is not None:
        query = query.where(CANDIDACY.c.created_at >= _day_start(filters.since, zone))
    if filters is not None and filters.until is not None:
        query = query.where(
            CANDIDACY.c.created_at < _day_start(filters.until + timedelta(days=1), zone)
        )
    return query


class _Paths:
    """Stored workflow versions as paths, each parsed once per report."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._by_id: dict[int, StagePath] = {}

    def get(self, version_id: int) -> StagePath:
        if version_id not in self._by_id:
            self.load([version_id])
        return self._by_id[version_id]

    def load(self, version_ids: Iterable[int]) -> None:
        missing = set(version_ids) - set(self._by_id)
        if missing:
            for row in self.connection.execute(
                select(WORKFLOW.c.id, WORKFLOW.c.definition).where(WORKFLOW.c.id.in_(missing))
            ):
                self._by_id[row.id] = StagePath.from_document(row.definition)

    def current(self, workflow: str) -> StagePath | None:
        """The version new candidacies of ``workflow`` start on (else its latest)."""
        version_id = self.connection.execute(
            select(CURRENT.c.version_id).where(CURRENT.c.name == workflow)
        ).scalar()
        if version_id is None:
            version_id = self.connection.execute(
                select(WORKFLOW.c.id)
                .where(WORKFLOW.c.name == workflow)
                .order_by(WORKFLOW.c.number.desc())
                .limit(1)
            ).scalar()
        return None if version_id is None else self.get(version_id)


def _histories(connection: Connection, paths: _Paths, candidacies: Select[Any]) -> list[History]:
    """Every selected candidacy with its audit entries in order (sequence)."""
    ids = candidacies.subquery()
    rows = list(
        connection.execute(
            select(
                CANDIDACY.c.id,
                CANDIDACY.c.vacancy,
                CANDIDACY.c.workflow_version_id,
                CANDIDACY.c.created_at,
            )
            .where(CANDIDACY.c.id.in_(select(ids.c.id)))
            .order_by(CANDIDACY.c.id)
        )
    )
    entries: dict[int, list[Entry]] = {}
    for entry in connection.execute(
        select(AUDIT.c.candidacy_id, AUDIT.c.occurred_at, AUDIT.c.src, AUDIT.c.dst)
        .where(AUDIT.c.candidacy_id.in_(select(ids.c.id)))
        .order_by(AUDIT.c.candidacy_id, AUDIT.c.seq)
    ):
        entries.setdefault(entry.candidacy_id, []).append(
            Entry(at=entry.occurred_at, src=entry.src, dst=entry.dst)
        )
    paths.load({row.workflow_version_id for row in rows})
    return [
        History(
            candidacy_id=row.id,
            vacancy=row.vacancy,
            path=paths.get(row.workflow_version_id),
            entries=tuple(entries[row.id]),
            applied_at=row.created_at,
        )
        for row in rows
        if row.id in entries  # every candidacy has its "apply" entry; be safe all the same
    ]


@dataclass(frozen=True)
class _Data:
    now: datetime
    zone: ZoneInfo
    vacancies: list[VacancyInfo]
    histories: list[History]
    paths: Mapping[str, StagePath]  # vacancy -> the path its new candidacies follow


def _read(app: App, filters: ReportFilters) -> _Data:
    zone = app.settings.zone
    with app.engine.connect() as connection:
        filters.check(connection)
        vacancies = _vacancies(connection, filters)
        paths = _Paths(connection)
        histories = _histories(
            connection, paths, _candidacies([v.code for v in vacancies], filters, zone)
        )
        current = {v.workflow: paths.current(v.workflow) for v in vacancies}
    return _Data(
        now=app.clock.now(),
        zone=zone,
        vacancies=vacancies,
        histories=histories,
        paths={v.code: p for v in vacancies if (p := current[v.workflow]) is not None},
    )


def _check_grouping(by: str) -> str:
    if by not in GROUPINGS:
        raise InvalidInput(f"group by {by!r}: choose one of {', '.join(GROUPINGS)}")
    return "group" if by == "all" else by


def _grouped(data: _Data, by: str) -> list[tuple[str, list[History], list[StagePath]]]:
    """Per group (in the order of its first vacancy: wave, then code): its candidacies'
    histories and its vacancies' current paths (so a vacancy nobody applied to still shows
    its stages)."""
    key_of = {v.code: v.key(by) for v in data.vacancies}
    groups: dict[str, tuple[list[History], list[StagePath]]] = {}
    for vacancy in data.vacancies:
        _, paths = groups.setdefault(key_of[vacancy.code], ([], []))
        if vacancy.code in data.paths:
            paths.append(data.paths[vacancy.code])
    for history in data.histories:
        groups[key_of[history.vacancy]][0].append(history)
    return [(key, histories, paths) for key, (histories, paths) in groups.items()]


def _known_paths(histories: Iterable[History], paths: Iterable[StagePath]) -> list[StagePath]:
    """Each distinct stage order once: the candidacies' own versions and the current ones."""
    unique = {p.stages: p for p in paths}
    unique.update((h.path.stages, h.path) for h in histories)
    return list(unique.values())


def _stage_order(paths: Sequence[StagePath]) -> list[str]:
    return merge_orders(p.stages for p in paths)


def _notes_for_empty(data: _Data) -> tuple[str, ...]:
    if not data.vacancies:
        return ("no vacancy matches these filters",)
    if not data.histories:
        return ("no candidacies match these filters",)
    return ()


# -- funnel ------------------------------------------------------------------------------------

FUNNEL_COLUMNS = ("stage", "now", "reached", "went_on", "conversion", "rejected", "withdrawn")


def funnel(app: App, filters: ReportFilters, *, by: str = "vacancy") -> Report:
    """Candidacies per state and the conversion from each stage to the next, per group."""
    group = _check_grouping(by)
    data = _read(app, filters)
    rows: list[dict[str, Any]] = []
    for key, histories, paths in _grouped(data, by):
        rows.extend({group: key, **row} for row in funnel_rows(histories, paths))
    log.info("report.made", report="funnel", rows=len(rows))
    return Report(
        name="funnel",
        as_of=data.now,
        zone=data.zone,
        filters=filters.to_dict(),
        parameters={"by": by},
        sections=(
            Section(
                name="funnel",
                title="Candidacies per stage, and the share that went on to the next stage",
                columns=(group, *FUNNEL_COLUMNS),
                rows=tuple(rows),
                percent=frozenset({"conversion"}),
            ),
        ),
        notes=_notes_for_empty(data),
    )


def funnel_rows(
    histories: Sequence[History], paths: Iterable[StagePath] = ()
) -> list[dict[str, Any]]:
    """One row per stage in workflow order, then one per negative final state.

    ``now``: candidacies in that state now. ``reached``: candidacies whose audit
    entries entered that stage or a later one. ``went_on``: of those, the ones
    that reached the next stage of their own workflow; ``conversion`` is
    went_on / reached (candidacies still in the stage count as not gone on).
    ``rejected``/``withdrawn``: candidacies that ended so from that stage.
    """
    known = _known_paths(histories, paths)
    finals = {f for p in known for f in p.finals}
    now = Counter(h.state for h in histories)
    reached: Counter[str] = Counter()
    went_on: Counter[str] = Counter()
    ended: dict[str, Counter[str]] = {final: Counter() for final in NEGATIVE}
    for history in histories:
        furthest = history.furthest()
        if furthest is None:
            continue
        for i in range(furthest + 1):
            reached[history.path.stages[i]] += 1
            if i < furthest:
                went_on[history.path.stages[i]] += 1
        if history.state in ended:
            ended[history.state][history.path.stages[furthest]] += 1
    rows: list[dict[str, Any]] = []
    for stage in _stage_order(known):
        is_final = stage in finals
        rows.append(
            {
                "stage": stage,
                "now": now[stage],
                "reached": reached[stage],
                "went_on": None if is_final else went_on[stage],
                "conversion": None
                if is_final or not reached[stage]
                else went_on[stage] / reached[stage],
                "rejected": None if is_final else ended["rejected"][stage],
                "withdrawn": None if is_final else ended["withdrawn"][stage],
            }
        )
    for negative in NEGATIVE:
        rows.append(
            {
                "stage": negative,
                "now": now[negative],
                "reached": None,
                "went_on": None,
                "conversion": None,
                "rejected": None,
                "withdrawn": None,
            }
        )
    return rows


# -- delays ------------------------------------------------------------------------------------

STAGE_DELAY_COLUMNS = (
    "stage",
    "stays",
    "in_stage_now",
    "median_days",
    "p90_days",
    "over_answer_time",
)
WAITING_COLUMNS = ("candidacy", "vacancy", "state", "applied", "last_moved", "days_waiting")
TIMER_COLUMNS = (
    "timer",
    "candidacy",
    "vacancy",
    "state",
    "kind",
    "action",
    "due",
    "status",
    "days_overdue",
    "outcome",
)


def delays(
    app: App, filters: ReportFilters, *, by: str = "vacancy", answer_days: int | None = None
) -> Report:
    """Time in each stage, candidacies waiting past the promised answer time, late timers."""
    days = app.settings.report_answer_days if answer_days is None else answer_days
    if days < 1:
        raise InvalidInput(f"answer time: give a positive number of days, got {days}")
    group = _check_grouping(by)
    data = _read(app, filters)
    stage_rows: list[dict[str, Any]] = []
    for key, histories, paths in _grouped(data, by):
        stage_rows.extend(
            {group: key, **row} for row in stage_delay_rows(histories, data.now, days, paths)
        )
    waiting = waiting_rows(data.histories, data.now, days, data.zone)
    timers = _late_timers(app, filters, data)
    overdue = sum(1 for t in timers if t["status"] == "armed")
    failed = len(timers) - overdue
    notes = [
        *_notes_for_empty(data),
        f"{len(waiting)} open candidacies have waited more than {days} days since their last "
        "transition (the promised answer time, setting report_answer_days)",
        f"{overdue} armed timers are overdue"
        + (" (is a worker running? `ats worker status`)" if overdue else ""),
        f"{failed} timers failed" + (" (`ats timers list --failed`)" if failed else ""),
    ]
    log.info("report.made", report="delays", rows=len(stage_rows), waiting=len(waiting))
    return Report(
        name="delays",
        as_of=data.now,
        zone=data.zone,
        filters=filters.to_dict(),
        parameters={"by": by, "answer_days": days},
        sections=(
            Section(
                name="stages",
                title="Time spent in each stage, in days (the current stage counts up to now)",
                columns=(group, *STAGE_DELAY_COLUMNS),
                rows=tuple(stage_rows),
            ),
            Section(
                name="waiting",
                title=f"Open candidacies without a transition for more than {days} days",
                columns=WAITING_COLUMNS,
                rows=tuple(waiting),
            ),
            Section(
                name="timers",
                title="Overdue armed timers and failed timers",
                columns=TIMER_COLUMNS,
                rows=tuple(timers),
            ),
        ),
        notes=tuple(notes),
    )


def stage_delay_rows(
    histories: Sequence[History], now: datetime, answer_days: int, paths: Iterable[StagePath] = ()
) -> list[dict[str, Any]]:
    """Per non-final stage: how many stays, how many open, their median and p90 in days."""
    spent: dict[str, list[float]] = {}
    open_now: Counter[str] = Counter()
    over: Counter[str] = Counter()
    for history in histories:
        for stay in stays(history):
            spent.setdefault(stay.state, []).append(stay.days(now))
            if stay.left is None:
                open_now[stay.state] += 1
        if history.open and _waited(history, now) > answer_days:
            over[history.state] += 1
    known = _known_paths(histories, paths)
    finals = {f for p in known for f in p.finals}
    rows = []
    for stage in _stage_order(known):
        if stage in finals:
            continue
        values = spent.get(stage, [])
        rows.append(
            {
                "stage": stage,
                "stays": len(values),
                "in_stage_now": open_now[stage],
                "median_days": _round(quantile(values, 0.5)) if values else None,
                "p90_days": _round(quantile(values, 0.9)) if values else None,
                "over_answer_time": over[stage],
            }
        )
    return rows


def _waited(history: History, now: datetime) -> float:
    return (now - history.last_moved_at).total_seconds() / 86_400


def waiting_rows(
    histories: Iterable[History], now: datetime, answer_days: int, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Open candidacies whose last transition is older than the promised answer time."""
    late = [h for h in histories if h.open and _waited(h, now) > answer_days]
    late.sort(key=lambda h: (h.last_moved_at, h.candidacy_id))
    return [
        {
            "candidacy": h.candidacy_id,
            "vacancy": h.vacancy,
            "state": h.state,
            "applied": local_time(h.applied_at, zone),
            "last_moved": local_time(h.last_moved_at, zone),
            "days_waiting": _round(_waited(h, now)),
        }
        for h in late
    ]


def _late_timers(app: App, filters: ReportFilters, data: _Data) -> list[dict[str, Any]]:
    """Armed timers past their due time and failed timers of the selected candidacies."""
    chosen = _candidacies([v.code for v in data.vacancies], filters, data.zone).subquery()
    query = (
        select(TIMER, CANDIDACY.c.vacancy)
        .join(CANDIDACY, CANDIDACY.c.id == TIMER.c.candidacy_id)
        .where(TIMER.c.candidacy_id.in_(select(chosen.c.id)))
        .where(
            or_(
                and_(TIMER.c.status == "armed", TIMER.c.due_at < data.now),
                TIMER.c.status == "failed",
            )
        )
        .order_by(TIMER.c.due_at, TIMER.c.id)
    )
    with app.engine.connect() as connection:
        return [
            {
                "timer": row["id"],
                "candidacy": row["candidacy_id"],
                "vacancy": row["vacancy"],
                "state": row["state"],
                "kind": row["kind"],
                "action": row["trigger"] or row["template"],
                "due": local_time(row["due_at"], data.zone),
                "status": row["status"],
                "days_overdue": _round((data.now - row["due_at"]).total_seconds() / 86_400)
                if row["status"] == "armed"
                else None,
                "outcome": row["outcome"],
            }
            for row in connection.execute(query).mappings()
        ]


def _round(value: float) -> float:
    return round(value, 1)


# -- targets -----------------------------------------------------------------------------------

TARGET_COLUMNS = (
    "vacancy",
    "service",
    "function",
    "wave",
    "target",
    "applications",
    "hired",
    "offer",
    "in_progress",
    "gap",
    "reached",
)


def targets(app: App, filters: ReportFilters) -> Report:
    """Per vacancy: target, hired, in offer, in progress, gap and share reached; a total line."""
    data = _read(app, filters)
    total_target, total_label = _drive_target(app, filters, data.vacancies)
    rows = target_rows(data.vacancies, data.histories, total_target, total_label)
    without = [v.code for v in data.vacancies if v.target is None]
    notes = list(_notes_for_empty(data))
    if without:
        notes.append(f"no target announced for {', '.join(without)}")
    if not filters.narrows_vacancies and total_target is not None:
        announced = sum(v.target or 0 for v in data.vacancies)
        notes.append(
            f"the vacancies' targets add up to {announced} of the drive's {total_target} "
            "(config/hiring-drive.yaml, drive.target_total)"
        )
    log.info("report.made", report="targets", rows=len(rows))
    return Report(
        name="targets",
        as_of=data.now,
        zone=data.zone,
        filters=filters.to_dict(),
        parameters={"total_target": total_target, "total_label": total_label},
        sections=(
            Section(
                name="targets",
                title="Hired and in offer against each vacancy's target",
                columns=TARGET_COLUMNS,
                rows=tuple(rows),
                percent=frozenset({"reached"}),
            ),
        ),
        notes=tuple(notes),
    )


def _drive_target(
    app: App, filters: ReportFilters, vacancies: Sequence[VacancyInfo]
) -> tuple[int | None, str]:
    """The drive's target_total for the whole drive; the listed targets' sum when filtered."""
    if filters.narrows_vacancies:
        known = [v.target for v in vacancies if v.target is not None]
        return (sum(known) if known else None), "TOTAL (listed targets)"
    from ats.adapters.drive_file import read_hiring_drive

    path = app.settings.hiring_drive_file
    return (read_hiring_drive(path).target_total if path.exists() else None), "TOTAL (drive)"


def target_rows(
    vacancies: Sequence[VacancyInfo],
    histories: Iterable[History],
    total_target: int | None,
    total_label: str = "TOTAL",
) -> list[dict[str, Any]]:
    """One row per vacancy (even without candidacies), and a total line."""
    counts: dict[str, Counter[str]] = {v.code: Counter() for v in vacancies}
    for history in histories:
        tally = counts[history.vacancy]
        tally["applications"] += 1
        if history.state == HIRED:
            tally["hired"] += 1
        elif history.state == OFFER:
            tally["offer"] += 1
        elif history.open:
            tally["in_progress"] += 1
    rows = [
        {
            "vacancy": v.code,
            "service": v.service,
            "function": v.function,
            "wave": v.wave,
            **_target_figures(v.target, counts[v.code]),
        }
        for v in vacancies
    ]
    total: Counter[str] = Counter()
    for tally in counts.values():
        total.update(tally)
    rows.append(
        {
            "vacancy": total_label,
            "service": None,
            "function": None,
            "wave": None,
            **_target_figures(total_target, total),
        }
    )
    return rows


def _target_figures(target: int | None, tally: Counter[str]) -> dict[str, Any]:
    hired = tally["hired"]
    return {
        "target": target,
        "applications": tally["applications"],
        "hired": hired,
        "offer": tally["offer"],
        "in_progress": tally["in_progress"],
        "gap": None if target is None else max(target - hired, 0),
        "reached": None if not target else hired / target,
    }


# -- forecast ----------------------------------------------------------------------------------

FORECAST_COLUMNS = (
    "vacancy",
    "target",
    "hired",
    "open",
    "inflow_per_week",
    "hires_per_week",
    "median",
    "p10",
    "p90",
    "within_horizon",
    "stalled",
    "limiting_stage",
    "why",
)
MODEL_COLUMNS = (
    "vacancy",
    "stage",
    "in_stage_now",
    "conversion",
    "conversion_from",
    "resolved",
    "median_stay_days",
    "stays_from",
    "capacity_per_week",
    "capacity_from",
)


@dataclass(frozen=True, kw_only=True)
class ForecastOptions:
    """The forecast's knobs: Monte Carlo size and seed, windows, and the "what if"s."""

    runs: int = 1000
    seed: int = 2021
    inflow_weeks: int = 4
    horizon_weeks: int = 52
    extra_seats_per_week: float = 0
    extra_recruiters: int = 0
    recruiters: int = 1

    def __post_init__(self) -> None:
        problems = []
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
                problems.append(f"{name.replace('_', '-')} {value}: give {low} to {high}")
        if problems:
            raise InvalidInput("bad forecast option: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "seed": self.seed,
            "inflow_weeks": self.inflow_weeks,
            "horizon_weeks": self.horizon_weeks,
            "extra_seats_per_week": self.extra_seats_per_week,
            "extra_recruiters": self.extra_recruiters,
            "recruiters": self.recruiters,
        }


def forecast(app: App, filters: ReportFilters, options: ForecastOptions | None = None) -> Report:
    """When each selected vacancy's target will be met, by Monte Carlo over the observed rates.

    Rates, stays and capacities are learnt from the candidacies applied in the
    period (all vacancies, for the fallbacks); the pipeline, the hires so far
    and the inflow are those of today, whatever the period.
    """
    options = options or ForecastOptions()
    zone = app.settings.zone
    now = app.clock.now()
    with app.engine.connect() as connection:
        filters.check(connection)
        paths = _Paths(connection)
        selected = _vacancies(connection, filters)
        everything = _vacancies(connection, None)
        period = ReportFilters(since=filters.since, until=filters.until)
        learnt = _histories(
            connection, paths, _candidacies([v.code for v in everything], period, zone)
        )
        codes = {v.code for v in selected}
        today = (
            [h for h in learnt if h.vacancy in codes]
            if period == ReportFilters()  # no period: today's candidacies are among those read
            else _histories(connection, paths, _candidacies(sorted(codes), None, zone))
        )
        current = {v.workflow: paths.current(v.workflow) for v in selected}

    by_vacancy: dict[str, list[History]] = {}
    for history in learnt:
        by_vacancy.setdefault(history.vacancy, []).append(history)
    observed = {code: observe(items) for code, items in by_vacancy.items()}
    functions = {v.code: v.function for v in everything}
    per_function = {
        function: pooled(o for code, o in observed.items() if functions[code] == function)
        for function in set(functions.values())
    }
    overall = pooled(observed.values())
    now_of = {v.code: [h for h in today if h.vacancy == v.code] for v in selected}

    plans = [
        _plan(
            v,
            current[v.workflow],
            [observed.get(v.code), per_function.get(v.function), overall],
            now_of[v.code],
            now,
            options.inflow_weeks,
        )
        for v in selected
    ]
    seat_shares = _share_seats(plans, options.extra_seats_per_week)
    rows: list[dict[str, Any]] = []
    model_rows: list[dict[str, Any]] = []
    for plan in plans:
        row, stage_rows = _forecast_vacancy(
            plan, now, zone, options, seat_shares.get(plan.vacancy.code, 0.0)
        )
        rows.append(row)
        model_rows.extend(stage_rows)
    horizon_end = (now + timedelta(weeks=options.horizon_weeks)).astimezone(zone).date()
    inflow_start = (now - timedelta(weeks=options.inflow_weeks)).astimezone(zone).date()
    notes = (
        f"Monte Carlo: {options.runs} runs, seed {options.seed}; median and 10th-90th percentile "
        f"dates; horizon {options.horizon_weeks} weeks (to {horizon_end.isoformat()})",
        f"inflow: applications per week since {inflow_start.isoformat()} "
        f"({options.inflow_weeks} weeks)",
        f"what if: +{options.extra_seats_per_week:g} Selor seats a week (shared by the vacancies "
        f"listed), +{options.extra_recruiters} recruiters per service on a baseline of "
        f"{options.recruiters}",
        "model and assumptions: docs/reports.md",
    )
    log.info("report.made", report="forecast", rows=len(rows), runs=options.runs)
    horizon_text = f"not within {options.horizon_weeks} weeks"
    return Report(
        name="forecast",
        as_of=now,
        zone=zone,
        filters=filters.to_dict(),
        parameters=options.to_dict(),
        sections=(
            Section(
                name="forecast",
                title="When each target is met (Monte Carlo at the current inflow)",
                columns=FORECAST_COLUMNS,
                rows=tuple(rows),
                percent=frozenset({"within_horizon"}),
                blank=lambda row, column: (
                    horizon_text
                    if column in ("median", "p10", "p90") and row["within_horizon"] is not None
                    else None
                ),
            ),
            Section(
                name="model",
                title="The model per vacancy and stage: conversions, stays and capacities used",
                columns=MODEL_COLUMNS,
                rows=tuple(model_rows),
                percent=frozenset({"conversion"}),
                blank=lambda row, column: "no limit" if column == "capacity_per_week" else None,
            ),
        ),
        notes=notes,
    )


@dataclass(frozen=True)
class _Plan:
    """A vacancy's stages as estimated, and its candidacies today, before the Monte Carlo."""

    vacancy: VacancyInfo
    path: StagePath | None
    estimates: tuple[StageEstimate, ...]
    paces: Mapping[str, float | None]  # gate stage -> moves on per week (None: no limit seen)
    today: Sequence[History]
    problem: str | None


LEVELS = ("vacancy", "function", "all")


def _plan(
    vacancy: VacancyInfo,
    path: StagePath | None,
    levels: Sequence[Mapping[str, StageObservation] | None],
    today: Sequence[History],
    now: datetime,
    weeks: int,
) -> _Plan:
    """Estimates per stage (with fallbacks) and the current pace of the limited stages."""
    if path is None:
        return _Plan(vacancy, None, (), {}, today, f"no stored workflow {vacancy.workflow!r}")
    stages = _stages_to_hire(path)
    if stages is None:
        return _Plan(vacancy, path, (), {}, today, f"workflow {path.name!r} never hires")
    estimates = tuple(
        estimate(
            stage,
            [(name, (level or {}).get(stage)) for name, level in zip(LEVELS, levels, strict=True)],
        )
        for stage in stages
    )
    problem = None
    for item in estimates:
        if item.conversion is None:
            problem = f"nobody has left stage {item.stage!r} yet: no rate to forecast with"
            break
        if item.conversion > 0 and not item.durations:
            problem = f"no stay in stage {item.stage!r} went on yet: no duration to forecast with"
            break
    moved = observe(today)
    waiting = Counter(h.state for h in today)
    paces: dict[str, float | None] = {}
    for stage in stages:
        if stage == path.seat_gate or stage in path.recruiter_gates:
            record = moved.get(stage)
            pace = weekly_rate(record.exits if record else (), now, weeks)
            # Nothing moved on and nobody waits: no evidence of a limit, so none is assumed.
            paces[stage] = None if pace == 0 and not waiting[stage] else pace
    return _Plan(vacancy, path, estimates, paces, today, problem)


def _stages_to_hire(path: StagePath) -> tuple[str, ...] | None:
    """The stages before ``hired``; None when the workflow never hires."""
    index = path.index(HIRED)
    return None if index is None else path.stages[:index]


def _share_seats(plans: Sequence[_Plan], extra: float) -> dict[str, float]:
    """Extra Selor seats, shared by the vacancies in proportion to their invitations now."""
    used: dict[str, float] = {}
    for plan in plans:
        gate = plan.path.seat_gate if plan.path else None
        pace = plan.paces.get(gate) if gate else None
        if plan.problem is None and plan.vacancy.target is not None and pace is not None:
            used[plan.vacancy.code] = pace
    if not extra or not used:
        return {}
    total = sum(used.values())
    if total == 0:
        return {code: extra / len(used) for code in used}
    return {code: extra * pace / total for code, pace in used.items()}


def _forecast_vacancy(
    plan: _Plan,
    now: datetime,
    zone: ZoneInfo,
    options: ForecastOptions,
    extra_seats: float,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    vacancy, histories = plan.vacancy, plan.today
    hired = sum(1 for h in histories if h.state == HIRED)
    inflow = weekly_rate((h.applied_at for h in histories), now, options.inflow_weeks)
    row: dict[str, Any] = {
        "vacancy": vacancy.code,
        "target": vacancy.target,
        "hired": hired,
        "open": sum(1 for h in histories if h.open),
        "inflow_per_week": _round(inflow),
        "hires_per_week": None,
        "median": None,
        "p10": None,
        "p90": None,
        "within_horizon": None,
        "stalled": None,
        "limiting_stage": None,
        "why": None,
    }
    names = [e.stage for e in plan.estimates]
    ages = in_progress_ages(histories, names, now)
    factor = (options.recruiters + options.extra_recruiters) / options.recruiters
    capacities = [_capacity(plan, item.stage, extra_seats, factor) for item in plan.estimates]
    model_rows = [
        {
            "vacancy": vacancy.code,
            "stage": item.stage,
            "in_stage_now": len(waiting),
            "conversion": item.conversion,
            "conversion_from": item.conversion_source,
            "resolved": item.resolved,
            "median_stay_days": _round(quantile(item.durations, 0.5)) if item.durations else None,
            "stays_from": item.durations_source,
            "capacity_per_week": None if capacity is None else _round(capacity),
            "capacity_from": label or None,
        }
        for item, waiting, (capacity, label) in zip(plan.estimates, ages, capacities, strict=True)
    ]
    if vacancy.target is None:
        row["why"] = "no target announced"
        return row, model_rows
    if plan.problem is not None:
        row["why"] = plan.problem
        return row, model_rows
    scenario = Scenario(
        stages=tuple(
            StageModel(
                name=item.stage,
                conversion=item.conversion or 0.0,
                durations=item.durations,
                capacity=capacity,
                capacity_label=label,
            )
            for item, (capacity, label) in zip(plan.estimates, capacities, strict=True)
        ),
        needed=vacancy.target - hired,
        inflow_per_week=inflow,
        horizon_weeks=options.horizon_weeks,
        in_progress=ages,
    )
    rng = random.Random(f"{options.seed}:{vacancy.code}")  # noqa: S311 - a seeded model, not a secret
    result = simulate(scenario, runs=options.runs, rng=rng)
    limit = bottleneck(scenario)

    def day(q: float) -> date | None:
        days = result.quantile(q)
        if math.isinf(days):
            return None
        return (now + timedelta(days=days)).astimezone(zone).date()

    met = scenario.needed <= 0
    row.update(
        {
            "hires_per_week": _round(limit.hires_per_week),
            "median": day(0.5),
            "p10": day(0.1),
            "p90": day(0.9),
            "within_horizon": result.within_horizon,
            "stalled": result.stalled,
            "limiting_stage": None if met else limit.stage,
            "why": "target met" if met else limit.reason,
        }
    )
    return row, model_rows


def _capacity(
    plan: _Plan, stage: str, extra_seats: float, factor: float
) -> tuple[float | None, str]:
    """A stage's weekly capacity to move candidacies on, and what sets it ("" for none)."""
    pace = plan.paces.get(stage)
    if pace is None:
        return None, ""
    if plan.path is not None and stage == plan.path.seat_gate:
        return pace + extra_seats, "Selor seats"
    return pace * factor, "recruiters"
