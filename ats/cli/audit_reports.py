"""`ats audit log | export | extract`: read, export and extract the audit log.

The rules live in ``ats.service.audit_reports``; this module only turns options
into filters and results into tables, summaries or JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table

if TYPE_CHECKING:
    from ats.service.audit_reports import AuditFilters

F = TypeVar("F", bound=Callable[..., Any])

LOG_COLUMNS = ["at", "candidacy", "vacancy", "actor", "role", "trigger", "from", "to", "reason"]
EXTRACT_COLUMNS = ["at", "vacancy", "role", "trigger", "from", "to", "reason"]


def filter_options(command: F) -> F:
    """The filters `log` and `export` share; dates are checked by the service (exit 1)."""
    options = [
        click.option("--candidacy", type=int, help="One candidacy, by id."),
        click.option("--vacancy", help="Entries of one vacancy, by code."),
        click.option("--service", help="Entries of one service's vacancies, e.g. DVZ."),
        click.option("--actor", help="Entries by one actor, e.g. recruiter:an.peeters."),
        click.option("--trigger", help="Entries of one trigger, e.g. screen."),
        click.option("--state", help="Entries leaving or entering this state."),
        click.option(
            "--since", metavar="YYYY-MM-DD", help="From this local (Brussels) date, inclusive."
        ),
        click.option(
            "--until", metavar="YYYY-MM-DD", help="Up to this local (Brussels) date, inclusive."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(options: dict[str, Any]) -> AuditFilters:
    """The filter options, parsed; a bad date or period is InvalidInput (exit 1)."""
    from ats.service.audit_reports import AuditFilters

    return AuditFilters.parse(**options)


@click.command("log")
@filter_options
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@json_option
@pass_context
def log_command(ctx: Context, /, limit: int, as_json: bool, **options: Any) -> None:
    """Audit entries (transitions), filtered, oldest first."""
    from ats.service import audit_reports

    rows = audit_reports.entries(ctx.app, _filters(options), limit=limit)
    if as_json:
        emit(rows)
        return
    for row in rows:
        row["from"] = row["from"] or "-"
    click.echo(table(rows, LOG_COLUMNS))
    if len(rows) == limit:
        click.echo(f"(first {limit} entries; narrow the filters or raise --limit)", err=True)


@click.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), required=True, help="File format."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write; its manifest goes to OUT.manifest.json.",
)
@filter_options
@click.option(
    "--actor-label",
    default="cli",
    show_default=True,
    help="Who exports, as recorded in the manifest and the audit events.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file and manifest.")
@json_option
@pass_context
def export_command(
    ctx: Context,
    /,
    fmt: str,
    out: Path,
    actor_label: str,
    force: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Write the filtered audit log to CSV or JSON Lines, with a checkable manifest."""
    from ats.service import audit_reports

    result = audit_reports.export(
        ctx.app,
        _filters(options),
        fmt=fmt,
        out=out,
        exporter=actor_label,
        force=force,
        request_id=ctx.request_id,
    )
    if as_json:
        emit(result.manifest)
        return
    click.echo(f"exported {result.manifest['rows']} entries to {result.path}")
    click.echo(f"sha256 {result.manifest['sha256']}")
    click.echo(f"manifest {result.manifest_path}")


@click.command("extract")
@click.argument("candidate")
@json_option
@pass_context
def extract_command(ctx: Context, candidate: str, as_json: bool) -> None:
    """A data subject's timeline: CANDIDATE is their email address or candidate key.

    Staff identities are replaced by their roles.
    """
    from ats.service import audit_reports

    data = audit_reports.extract(ctx.app, candidate)
    if as_json:
        emit(data)
        return
    person = data["candidate"]
    click.echo(
        f"candidate {person['key']}: {person['name']} <{person['email']}>, language {person['language']}"
    )
    for candidacy in data["candidacies"]:
        click.echo(
            f"candidacy {candidacy['id']} on {candidacy['vacancy']} ({candidacy['vacancy_title']}), "
            f"applied {candidacy['applied']}: {candidacy['status']}"
        )
    rows = [{**entry, "from": entry["from"] or "-"} for entry in data["timeline"]]
    click.echo(table(rows, EXTRACT_COLUMNS))


def register(group: click.Group) -> None:
    """Add the report commands to the `ats audit` group."""
    group.add_command(log_command)
    group.add_command(export_command)
    group.add_command(extract_command)
