"""`ats report funnel | delays | targets | forecast`: the taskforce's reports.

The numbers come from ``ats.service.reports``; this module turns options into
filters and a report into a table, CSV, JSON or an .xlsx workbook:

- table (default): each section under its title, then the notes;
- csv: each section as a block (its header row, its rows), blocks separated by
  an empty line; text cells that a spreadsheet would run as a formula get a
  leading ``'`` (see ``ats.service.audit_reports.neutralise``);
- json: one document with the filters, parameters, sections and notes;
- xlsx: one worksheet per section and an "about" sheet; ``--out`` is required.
  Text is always written as text, never as a formula.

``--out FILE`` writes to a file (replaced whole, never half-written) instead of
standard output.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ats.cli.context import Context, pass_context
from ats.cli.output import table
from ats.errors import InvalidInput

if TYPE_CHECKING:
    from ats.service.reports import Report, ReportFilters

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "csv", "json", "xlsx")
# As ats.service.reports.GROUPINGS, which is not imported here: `ats --help` stays light.
GROUPINGS = ("vacancy", "service", "function", "wave", "all")


@click.group()
def report() -> None:
    """Taskforce reports: funnel, delays, targets and forecast.

    Filter with --service, --function, --wave, --vacancy and --since/--until
    (application dates, Brussels time); choose --format table, csv, json or xlsx.
    """


def report_options(command: F) -> F:
    """The filters and output options every report shares."""
    options = [
        click.option("--service", help="One service's vacancies, e.g. DVZ."),
        click.option("--function", help="One job function's vacancies, e.g. security_escort."),
        click.option("--wave", help="One wave's vacancies, e.g. W1."),
        click.option("--vacancy", help="One vacancy, by code, e.g. DVZ-SEC-W1."),
        click.option(
            "--since",
            metavar="YYYY-MM-DD",
            help="Candidacies applied from this local (Brussels) date, inclusive.",
        ),
        click.option(
            "--until",
            metavar="YYYY-MM-DD",
            help="Candidacies applied up to this local (Brussels) date, inclusive.",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="table",
            show_default=True,
            help="Output format; xlsx needs --out.",
        ),
        click.option(
            "--out",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write to this file instead of standard output.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


by_option = click.option(
    "--by",
    type=click.Choice(GROUPINGS),
    default="vacancy",
    show_default=True,
    help="One block of rows per vacancy, service, function or wave, or all together.",
)


def _filters(options: dict[str, Any]) -> ReportFilters:
    from ats.service.reports import ReportFilters

    return ReportFilters.parse(
        service=options["service"],
        function=options["function"],
        wave=options["wave"],
        vacancy=options["vacancy"],
        since=options["since"],
        until=options["until"],
    )


def _output(options: dict[str, Any]) -> tuple[str, Path | None]:
    """The format and target file, checked before any database work."""
    fmt = "json" if options["as_json"] else options["fmt"]
    out: Path | None = options["out"]
    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx writes a workbook: give --out FILE.xlsx")
    if out is not None:
        target = out.absolute()
        if not target.parent.is_dir():
            raise InvalidInput(f"cannot write {out}: directory {target.parent} does not exist")
        if target.is_dir():
            raise InvalidInput(f"cannot write {out}: it is a directory; give a file name")
    return fmt, out


@report.command("funnel")
@report_options
@by_option
@pass_context
def funnel_command(ctx: Context, /, by: str, **options: Any) -> None:
    """Candidacies per stage and the conversion from each stage to the next."""
    from ats.service import reports

    fmt, out = _output(options)
    _deliver(reports.funnel(ctx.app, _filters(options), by=by), fmt, out)


@report.command("delays")
@report_options
@by_option
@click.option(
    "--answer-days",
    type=int,
    help="The promised answer time in days (default: the report_answer_days setting).",
)
@pass_context
def delays_command(ctx: Context, /, by: str, answer_days: int | None, **options: Any) -> None:
    """Time in each stage (median, p90), long waits, overdue and failed timers."""
    from ats.service import reports

    fmt, out = _output(options)
    _deliver(reports.delays(ctx.app, _filters(options), by=by, answer_days=answer_days), fmt, out)


@report.command("targets")
@report_options
@pass_context
def targets_command(ctx: Context, /, **options: Any) -> None:
    """Hired, in offer and in progress against each vacancy's target, and the total."""
    from ats.service import reports

    fmt, out = _output(options)
    _deliver(reports.targets(ctx.app, _filters(options)), fmt, out)


@report.command("forecast")
@report_options
@click.option("--runs", type=int, default=1000, show_default=True, help="Monte Carlo runs.")
@click.option("--seed", type=int, default=2021, show_default=True, help="Same seed, same numbers.")
@click.option(
    "--inflow-weeks",
    type=int,
    default=4,
    show_default=True,
    help="Measure the inflow of applications over this many past weeks.",
)
@click.option(
    "--horizon-weeks",
    type=int,
    default=52,
    show_default=True,
    help="Look this many weeks ahead.",
)
@click.option(
    "--extra-seats-per-week",
    type=int,
    default=0,
    show_default=True,
    help="What if Selor offered this many more seats a week (shared by the vacancies listed).",
)
@click.option(
    "--extra-recruiters",
    type=int,
    default=0,
    show_default=True,
    help="What if each service had this many more recruiters.",
)
@click.option(
    "--recruiters",
    type=int,
    default=1,
    show_default=True,
    help="Recruiters per service today (the baseline for --extra-recruiters).",
)
@pass_context
def forecast_command(
    ctx: Context,
    /,
    runs: int,
    seed: int,
    inflow_weeks: int,
    horizon_weeks: int,
    extra_seats_per_week: int,
    extra_recruiters: int,
    recruiters: int,
    **options: Any,
) -> None:
    """When each target will be met at the current inflow (Monte Carlo), and what limits it."""
    from ats.service import reports

    fmt, out = _output(options)
    settings = reports.ForecastOptions(
        runs=runs,
        seed=seed,
        inflow_weeks=inflow_weeks,
        horizon_weeks=horizon_weeks,
        extra_seats_per_week=extra_seats_per_week,
        extra_recruiters=extra_recruiters,
        recruiters=recruiters,
    )
    _deliver(reports.forecast(ctx.app, _filters(options), settings), fmt, out)


# -- output ------------------------------------------------------------------------------------


def _deliver(made: Report, fmt: str, out: Path | None) -> None:
    from ats.service.report_files import render_csv, render_json, write_xlsx

    if fmt == "xlsx":
        if out is None:  # _output refuses this already; kept for the type checker
            raise click.UsageError("--format xlsx writes a workbook: give --out FILE.xlsx")
        with _replacing(out) as temporary:
            write_xlsx(made, temporary)
        click.echo(f"wrote {made.name} report to {out}")
        return
    text = {"table": render_table, "csv": render_csv, "json": render_json}[fmt](made)
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    with _replacing(out) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="")
    click.echo(f"wrote {made.name} report to {out}")


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target``, renamed over it only once written whole."""
    descriptor, name = tempfile.mkstemp(
        dir=target.absolute().parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def render_table(made: Report) -> str:
    """Each section as a titled table, then the notes."""
    from ats.service.report_files import as_of, cell_text

    parts = [f"{made.name} report, {as_of(made)}"]
    if made.filters:
        parts[0] += " — " + ", ".join(f"{k} {v}" for k, v in made.filters.items())
    for section in made.sections:
        rows = [{c: cell_text(row, c, section) for c in section.columns} for row in section.rows]
        parts.append(f"\n{section.title}\n{table(rows, section.columns)}")
    if made.notes:
        parts.append("\n" + "\n".join(f"- {note}" for note in made.notes))
    return "\n".join(parts) + "\n"
