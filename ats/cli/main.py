"""The `ats` command line: human tables by default, ``--json`` for scripts.

Exit codes: 0 done, 1 refused or invalid input (an ``ATSError``), 2 usage error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import structlog
from sqlalchemy.exc import DBAPIError

from ats.cli.audit import audit
from ats.cli.candidates import candidate
from ats.cli.context import Context, json_option, pass_context
from ats.cli.gdpr import gdpr
from ats.cli.interviews import interview
from ats.cli.outbox import outbox
from ats.cli.output import emit, table
from ats.cli.reports import report
from ats.cli.serve import serve
from ats.cli.sessions import session
from ats.cli.users import token, user
from ats.cli.worker import timers, worker
from ats.domain.roles import FIRING_ROLES
from ats.errors import ATSError, InvalidInput, database_problem


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ats")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """ATS: applicant tracking for public hiring drives.

    Start with `ats init`, then `ats vacancy list`, `ats apply`, `ats fire`
    and `ats history`. `ats demo` fills the database with synthetic
    applicants. Settings come from config/ats.toml and ATS_* variables.
    """
    context = ctx.ensure_object(Context)
    ctx.call_on_close(context.close)


# -- init ----------------------------------------------------------------------------------


@cli.command()
@json_option
@pass_context
def init(ctx: Context, as_json: bool) -> None:
    """Create or upgrade the database and load the drive and workflows (idempotent)."""
    from ats.service.setup import initialise

    report = initialise(ctx.app)
    data: dict[str, Any] = {
        "database": _safe_url(ctx.app.settings.database_url),
        "schema": {"before": report.revision_before, "after": report.revision_after},
        "catalogue_changes": report.drive_changes,
        "workflows": [
            {"name": w.name, "version": w.number, "hash": w.content_hash[:12], "new": w.new}
            for w in report.workflows
        ],
    }
    if as_json:
        emit(data)
        return
    click.echo(
        f"database: {data['database']} (schema {report.revision_before or 'empty'} -> {report.revision_after})"
    )
    click.echo(
        "catalogue: " + ", ".join(f"{n} {k} changed" for k, n in report.drive_changes.items())
    )
    click.echo(
        table(
            data["workflows"],
            ["name", "version", "hash", "new"],
        )
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- workflow ------------------------------------------------------------------------------


@cli.group()
def workflow() -> None:
    """Workflow definitions: list, show, validate, diagram, migrate."""


@workflow.command("list")
@json_option
@pass_context
def workflow_list(ctx: Context, as_json: bool) -> None:
    """Stored workflow versions and how many candidacies each carries."""
    from ats.service import queries

    rows = queries.workflows(ctx.app)
    if as_json:
        emit(rows)
        return
    for row in rows:
        row["hash"] = row["hash"][:12]
    click.echo(
        table(
            rows, ["name", "version", "hash", "job_function", "states", "candidacies", "loaded_at"]
        )
    )


@workflow.command("show")
@click.argument("name")
@click.option("--version", "number", type=int, help="A stored version number (default: latest).")
@json_option
@pass_context
def workflow_show(ctx: Context, name: str, number: int | None, as_json: bool) -> None:
    """One stored workflow version: states, transitions, guards and timeouts."""
    from ats.service import queries

    data = queries.workflow(ctx.app, name, number)
    if as_json:
        emit(data)
        return
    definition = data["definition"]
    click.echo(
        f"{data['name']} v{data['version']}  ({definition['job_function']}, hash {data['hash'][:12]}, loaded {data['loaded_at']})"
    )
    if definition.get("description"):
        click.echo(definition["description"].strip())
    click.echo("\nstates:")
    click.echo(
        table(
            [
                {
                    "state": name,
                    "kind": "initial" if s.get("initial") else ("final" if s.get("final") else ""),
                    "label": s["label"].get("en"),
                    "timeout": f"after {s['timeout']['after']} -> {s['timeout']['trigger']}"
                    if s.get("timeout")
                    else "",
                }
                for name, s in definition["states"].items()
            ],
            ["state", "kind", "label", "timeout"],
        )
    )
    click.echo("\ntransitions:")
    click.echo(
        table(
            [
                {
                    "trigger": t["trigger"],
                    "from": ", ".join(t["from"]),
                    "to": t["to"],
                    "roles": ", ".join(t["roles"]),
                    "guards": "; ".join(_conditions(t, definition.get("interview"))),
                    "reason": t["reason"],
                }
                for t in definition["transitions"]
            ],
            ["trigger", "from", "to", "roles", "guards", "reason"],
        )
    )


@workflow.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@pass_context
def workflow_validate(ctx: Context, paths: Sequence[Path], as_json: bool) -> None:
    """Check workflow files; every problem names file, line and field."""
    from ats.adapters.drive_file import read_hiring_drive
    from ats.service.setup import read_workflows
    from ats.settings import load_settings

    settings = load_settings()
    drive = (
        read_hiring_drive(settings.hiring_drive_file)
        if settings.hiring_drive_file.exists()
        else None
    )
    if drive is None:
        from ats.adapters.workflow_files import read_workflow_files
        from ats.service.setup import catalog

        definitions = read_workflow_files(list(paths), catalog(settings))
    else:
        definitions = read_workflows(settings, drive, list(paths))
    rows = [
        {
            "file": d.file,
            "name": d.name,
            "states": len(d.states),
            "transitions": len(d.transitions),
            "hash": d.content_hash[:12],
        }
        for d in definitions
    ]
    if as_json:
        emit({"valid": True, "workflows": rows})
        return
    click.echo(table(rows, ["file", "name", "states", "transitions", "hash"]))
    click.echo(f"{len(rows)} workflow file{'s' if len(rows) != 1 else ''} valid")


def _conditions(transition: dict[str, Any], interview: dict[str, Any] | None) -> list[str]:
    """What must hold for a stored transition to fire, beyond its roles and source state."""
    said = [g["expr"] for g in transition["guards"]]
    if interview and transition["trigger"] in interview["decides"].values():
        said.append("the panel's consensus decides")
    if transition.get("consensus"):
        said.append(f"consensus: {transition['consensus']}")
    if transition.get("approves"):
        said.append(f"four eyes on {transition['approves']}")
    if transition.get("once"):
        said.append("once per candidacy")
    return said


@workflow.command("diagram")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True
)
@pass_context
def workflow_diagram(ctx: Context, name: str, fmt: str) -> None:
    """Print a state diagram of workflows/NAME.yaml (Mermaid or Graphviz dot)."""
    from ats.adapters.workflow_files import read_workflow_file
    from ats.service.diagrams import diagram
    from ats.service.setup import catalog
    from ats.settings import load_settings

    settings = load_settings()
    path = settings.workflows_dir / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in settings.workflows_dir.glob("*.yaml")))
        raise InvalidInput(f"no workflow file {path} (workflows: {known or 'none'})")
    click.echo(diagram(read_workflow_file(path, catalog(settings)), fmt), nl=False)


@workflow.command("migrate")
@click.argument("name")
@click.option(
    "--from", "from_number", type=int, required=True, help="The version candidacies are on now."
)
@click.option("--to", "to_number", type=int, help="The target version (default: latest).")
@click.option(
    "--map", "mappings", multiple=True, metavar="OLD=NEW", help="Where a state goes; repeat."
)
@click.option("--dry-run", is_flag=True, help="Show what would move and change nothing.")
@click.option("--actor", default="system:migration", show_default=True)
@json_option
@pass_context
def workflow_migrate(
    ctx: Context,
    name: str,
    from_number: int,
    to_number: int | None,
    mappings: Sequence[str],
    dry_run: bool,
    actor: str,
    as_json: bool,
) -> None:
    """Move in-flight candidacies to a newer version of a workflow.

    States present in both versions map to themselves; --map says where the
    others go. Any state in use without a target refuses the whole migration.
    Run with --dry-run first.
    """
    from ats.service.commands import MigrateWorkflow

    state_map = dict(_pairs(mappings, "--map"))
    plan = ctx.app.handle(
        MigrateWorkflow(
            workflow=name,
            from_number=from_number,
            to_number=to_number,
            state_map=state_map,
            dry_run=dry_run,
            actor=actor,
            request_id=ctx.request_id,
        )
    )
    rows = [{"from": s, "to": d, "candidacies": n} for (s, d), n in sorted(plan.counts().items())]
    if as_json:
        emit(
            {
                "workflow": name,
                "from": plan.from_number,
                "to": plan.to_number,
                "applied": plan.applied,
                "moves": rows,
            }
        )
        return
    click.echo(table(rows, ["from", "to", "candidacies"]))
    verb = "moved" if plan.applied else "would move (dry run, nothing changed)"
    click.echo(
        f"{len(plan.moves)} candidacies {verb}: {name} v{plan.from_number} -> v{plan.to_number}"
    )


def _pairs(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        pairs.append((key.strip(), value.strip()))
    return pairs


# -- vacancy -------------------------------------------------------------------------------


@cli.group()
def vacancy() -> None:
    """Vacancies of the hiring drive."""


@vacancy.command("list")
@click.option(
    "--language", type=click.Choice(["nl", "fr", "de", "en"]), default="en", show_default=True
)
@json_option
@pass_context
def vacancy_list(ctx: Context, language: str, as_json: bool) -> None:
    """Every vacancy with its target and how many applied and were hired."""
    from ats.service import queries

    rows = queries.vacancies(ctx.app, language)
    if as_json:
        emit(rows)
        return
    for row in rows:
        row["target"] = "-" if row["target"] is None else row["target"]
    click.echo(table(rows, ["code", "service", "wave", "title", "target", "candidacies", "hired"]))


@vacancy.command("show")
@click.argument("code")
@json_option
@pass_context
def vacancy_show(ctx: Context, code: str, as_json: bool) -> None:
    """One vacancy and its candidacies per state."""
    from ats.service import queries

    data = queries.vacancy(ctx.app, code)
    if as_json:
        emit(data)
        return
    click.echo(f"{data['code']}: {data['title']['en']}")
    click.echo(
        f"service {data['service']} ({data['service_name']['en']}), wave {data['wave']} from {data['opens_on']}"
    )
    click.echo(
        f"job function {data['job_function']}, workflow {data['workflow']}, track {data['track'] or '-'}"
    )
    click.echo(f"target {data['target'] if data['target'] is not None else 'not announced'}")
    click.echo(
        table(
            [{"state": s, "candidacies": n} for s, n in data["states"].items()],
            ["state", "candidacies"],
        )
    )


# -- apply, candidacy, fire, history -------------------------------------------------------


@cli.command()
@click.option(
    "--vacancy", "vacancy_code", required=True, help="Vacancy code (see `ats vacancy list`)."
)
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--language", required=True, type=click.Choice(["nl", "fr", "de", "en"]))
@click.option("--phone")
@click.option(
    "--birth-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Optional; with the name it finds a second record of the same person.",
)
@click.option("--actor", help="Who entered the application (default: the candidate).")
@click.option(
    "--role", type=click.Choice(sorted(FIRING_ROLES)), default="candidate", show_default=True
)
@json_option
@pass_context
def apply(
    ctx: Context,
    vacancy_code: str,
    name: str,
    email: str,
    language: str,
    phone: str | None,
    birth_date: datetime | None,
    actor: str | None,
    role: str,
    as_json: bool,
) -> None:
    """Apply a candidate to a vacancy; prints the new candidacy.

    A warning follows when another candidate record may be the same person
    (`ats candidate duplicates` lists them, `ats candidate merge` settles it).
    """
    from ats.service import queries
    from ats.service.commands import Apply
    from ats.service.duplicates import duplicates

    ctx.fields.update(vacancy=vacancy_code)
    candidacy_id = ctx.app.handle(
        Apply(
            vacancy=vacancy_code,
            name=name,
            email=email,
            language=language,
            phone=phone,
            birth_date=birth_date.date() if birth_date else None,
            actor=actor,
            role=role,
            request_id=ctx.request_id,
        )
    )
    data = queries.candidacy(ctx.app, candidacy_id)
    data["possible_duplicates"] = duplicates(ctx.app, candidacy=candidacy_id)
    if as_json:
        emit(data)
        return
    click.echo(
        f"candidacy {candidacy_id} opened on {data['vacancy']}: state {data['state']} (version {data['version']})"
    )
    for found in data["possible_duplicates"]:
        click.echo(
            f"warning: candidate {found['other']} may be the same person "
            f"({found['rule_text']}); see `ats candidate duplicates {found['candidate']}`",
            err=True,
        )


@cli.group()
def candidacy() -> None:
    """Candidacies: list and show."""


@candidacy.command("list")
@click.option("--vacancy", "vacancy_code")
@click.option("--state")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@json_option
@pass_context
def candidacy_list(
    ctx: Context, vacancy_code: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """Candidacies, filtered by vacancy and state."""
    from ats.service import queries

    rows = queries.candidacies(ctx.app, vacancy=vacancy_code, state=state, limit=limit)
    if as_json:
        emit(rows)
        return
    click.echo(table(rows, ["id", "vacancy", "state", "version", "since", "name", "language"]))


@candidacy.command("show")
@click.argument("candidacy_id", type=int)
@click.option(
    "--role", type=click.Choice(sorted(FIRING_ROLES)), help="Show what this role can do now."
)
@json_option
@pass_context
def candidacy_show(ctx: Context, candidacy_id: int, role: str | None, as_json: bool) -> None:
    """One candidacy, and which triggers each role can fire now — and why not the others."""
    from ats.service import queries

    data = queries.candidacy(ctx.app, candidacy_id, role=role)
    if as_json:
        emit(data)
        return
    candidate = data["candidate"]
    click.echo(f"candidacy {data['id']} on {data['vacancy']} ({data['workflow']})")
    click.echo(
        f"candidate {candidate['name']} <{candidate['email']}>, language {candidate['language']}, key {candidate['key']}"
    )
    click.echo(
        f"state {data['state']} ({data['label']}) since {data['since']}, version {data['version']}"
    )
    click.echo(f"candidate sees: {data['public'][candidate['language']]}")
    if data["legal_hold"]:
        hold = data["legal_hold"]
        click.echo(f"under legal hold since {hold['since']}: {hold['reason']}")
    if data["facts"]:
        click.echo("facts: " + ", ".join(f"{k}={v}" for k, v in sorted(data["facts"].items())))
    if data["options"]:
        click.echo(
            table(
                [
                    {
                        "role": o["role"],
                        "trigger": o["trigger"],
                        "to": o["to"],
                        "now": "yes" if o["allowed"] else "no",
                        "why not": "; ".join(o["why_not"]),
                    }
                    for o in data["options"]
                ],
                ["role", "trigger", "to", "now", "why not"],
            )
        )
    elif data["final"]:
        click.echo("final state: nothing more can happen")


@cli.command()
@click.argument("candidacy_id", type=int)
@click.argument("trigger")
@click.option("--actor", required=True, help="Who fires it, e.g. recruiter:an.peeters.")
@click.option("--role", required=True, type=click.Choice(sorted(FIRING_ROLES)))
@click.option("--reason", help="Why; required for rejections.")
@click.option(
    "--fact",
    "facts",
    multiple=True,
    metavar="KEY=VALUE",
    help="Record a fact with the transition; repeat.",
)
@click.option(
    "--expect-version", type=int, help="Refuse if the candidacy is no longer at this version."
)
@json_option
@pass_context
def fire(
    ctx: Context,
    candidacy_id: int,
    trigger: str,
    actor: str,
    role: str,
    reason: str | None,
    facts: Sequence[str],
    expect_version: int | None,
    as_json: bool,
) -> None:
    """Fire TRIGGER on a candidacy: checks role, state and guards, then moves it."""
    from ats.service.commands import FireTrigger

    ctx.fields.update(candidacy=candidacy_id, trigger=trigger, role=role)
    event = ctx.app.handle(
        FireTrigger(
            candidacy_id=candidacy_id,
            trigger=trigger,
            actor=actor,
            role=role,
            reason=reason,
            facts=dict(_pairs(facts, "--fact")),
            expected_version=expect_version,
            request_id=ctx.request_id,
        )
    )
    if as_json:
        emit(
            {
                "candidacy": candidacy_id,
                "trigger": event.trigger,
                "from": event.src,
                "to": event.dst,
            }
        )
        return
    click.echo(
        f"candidacy {candidacy_id}: {event.src} -> {event.dst} ({event.trigger} by {event.actor} as {event.role})"
    )


@cli.command()
@click.argument("candidacy_id", type=int)
@json_option
@pass_context
def history(ctx: Context, candidacy_id: int, as_json: bool) -> None:
    """Every transition of a candidacy: who, as what role, when, and why."""
    from ats.service import queries

    rows = queries.history(ctx.app, candidacy_id)
    if as_json:
        emit(rows)
        return
    for row in rows:
        row["from"] = row["from"] or "-"
        row["reason"] = row["reason"] or ""
        row["facts"] = ", ".join(f"{k}={v}" for k, v in row["facts"].items())
    click.echo(
        table(rows, ["seq", "at", "actor", "role", "trigger", "from", "to", "reason", "facts"])
    )


# -- demo ----------------------------------------------------------------------------------


@cli.command()
@click.option("--applicants", type=click.IntRange(1, 100_000), default=300, show_default=True)
@click.option("--seed", type=int, default=2021, show_default=True, help="Same seed, same story.")
@json_option
@pass_context
def demo(ctx: Context, applicants: int, seed: int, as_json: bool) -> None:
    """Synthetic applicants moved through their workflows on a simulated clock."""
    from ats.demo import run_demo
    from ats.logs import configure_logging
    from ats.service import queries

    app = ctx.app
    # Thousands of transitions: keep their log lines out of the way of the summary.
    configure_logging(level="warning", fmt=app.settings.log_format)
    ctx.fields.update(applicants=applicants, seed=seed)

    try:
        summary = run_demo(
            ctx.app, applicants=applicants, seed=seed, progress=None if as_json else click.echo
        )
    finally:
        configure_logging(level=app.settings.log_level, fmt=app.settings.log_format)
    counts = queries.state_counts(ctx.app)
    if as_json:
        emit({"summary": summary, "counts": counts})
        return
    click.echo(table(_funnel(counts, queries.vacancies(app)), FUNNEL_COLUMNS))


FUNNEL_COLUMNS = [
    "vacancy",
    "target",
    "applications",
    "hired",
    "rejected",
    "withdrawn",
    "in progress",
]


def _funnel(counts: list[dict[str, Any]], vacancies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts per vacancy and state, one line a vacancy: finals in columns, the rest listed."""
    rows = []
    for vacancy_row in vacancies:
        mine = {c["state"]: c["count"] for c in counts if c["vacancy"] == vacancy_row["code"]}
        open_states = {s: n for s, n in mine.items() if s not in ("hired", "rejected", "withdrawn")}
        rows.append(
            {
                "vacancy": vacancy_row["code"],
                "target": "-" if vacancy_row["target"] is None else vacancy_row["target"],
                "applications": sum(mine.values()),
                "hired": mine.get("hired", 0),
                "rejected": mine.get("rejected", 0),
                "withdrawn": mine.get("withdrawn", 0),
                "in progress": ", ".join(f"{s} {n}" for s, n in sorted(open_states.items())),
            }
        )
    return rows


cli.add_command(audit)
cli.add_command(worker)
cli.add_command(timers)
cli.add_command(outbox)
cli.add_command(user)
cli.add_command(token)
cli.add_command(serve)
cli.add_command(session)
cli.add_command(report)
cli.add_command(candidate)
cli.add_command(gdpr)
cli.add_command(interview)


# -- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; translate ATSError into a message and exit code 1.

    Every run ends with one canonical log line (command, result, exit code,
    duration, request id, and the candidacy and trigger where there are some):
    ids only, never names or addresses.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    _configure_logging()
    context = Context()
    context.as_json = "--json" in args
    result, code = "ok", 0
    try:
        cli.main(args=args, prog_name="ats", obj=context, standalone_mode=False)
        code = context.exit_code
        result = "ok" if code == 0 else "failed"
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        result, code = "aborted", 1
    except click.ClickException as exc:
        exc.show()
        result, code = "usage", exc.exit_code
    except click.exceptions.Exit as exc:
        code = int(exc.exit_code)
    except DBAPIError as exc:
        problem = database_problem(exc)
        click.echo(f"error: {problem.message}", err=True)
        result, code = type(problem).__name__, problem.exit_code
    except ATSError as exc:
        if context.as_json:
            click.echo(json.dumps(exc.to_dict(), ensure_ascii=False, indent=2))
        else:
            click.echo(f"error: {exc.message}", err=True)
        result, code = type(exc).__name__, exc.exit_code
    finally:
        context.close()
    structlog.get_logger("ats").info(
        "cli.command",
        command=" ".join(_command_path(args)) or "-",
        result=result,
        exit_code=code,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        request_id=context.request_id,
        **context.fields,
    )
    return code


def _configure_logging() -> None:
    """Logging from the settings when they load; defaults otherwise (the command then says why)."""
    from ats.logs import configure_logging
    from ats.settings import load_settings

    try:
        settings = load_settings()
    except ATSError:
        configure_logging()
        return
    configure_logging(level=settings.log_level, fmt=settings.log_format)


def _command_path(args: Sequence[str]) -> list[str]:
    """The (sub)command names in ``args``, without their arguments (which may be personal)."""
    path: list[str] = []
    command: click.Command = cli
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            break
        path.append(arg)
        command = command.commands[arg]
    return path


if __name__ == "__main__":
    sys.exit(main())
