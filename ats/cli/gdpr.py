"""`ats gdpr`: retention, erasure, legal holds, talent-pool consent and access requests."""

from __future__ import annotations

from pathlib import Path

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table

ACTOR = click.option(
    "--actor",
    required=True,
    help="Who does this, e.g. admin:els (recorded in the audit log).",
)
REASON = click.option(
    "--reason", required=True, help="Why (recorded in the audit log; keep personal data out)."
)


@click.group()
def gdpr() -> None:
    """Personal data: what is due for erasure, erasure, holds, consent, access requests.

    Retention follows the policy in the settings (retention_*_months) from each
    candidacy's final transition; the worker erases what is due once a day.
    """


@gdpr.command("due")
@click.option(
    "--within",
    type=int,
    default=30,
    show_default=True,
    help="Days from today: files due by then (overdue and held ones included).",
)
@json_option
@pass_context
def gdpr_due(ctx: Context, within: int, as_json: bool) -> None:
    """What will be erased, and when."""
    from ats.service.privacy import due, today

    files = due(ctx.app, within_days=within)
    if as_json:
        emit([f.to_dict() for f in files])
        return
    if not files:
        click.echo(f"nothing falls due by {within} days from today")
        return
    now = today(ctx.app)
    rows = [
        {
            "candidate": f.candidate_key,
            "due_on": f.due_on,
            "status": "held: " + ", ".join(map(str, f.held_candidacies))
            if f.held_candidacies
            else ("due" if f.due(now) else "later"),
            "grounds": f.grounds,
        }
        for f in files
    ]
    click.echo(table(rows, ["candidate", "due_on", "status", "grounds"]))


@gdpr.command("run")
@json_option
@pass_context
def gdpr_run(ctx: Context, as_json: bool) -> None:
    """Erase now what is due (the worker does this daily)."""
    from ats.service.privacy import erase_due

    run = erase_due(ctx.app)
    ctx.fields.update(erased=len(run.erased))
    if as_json:
        emit(run.to_dict())
    else:
        click.echo(
            f"erased {len(run.erased)}, held back by a legal hold {len(run.held)}, "
            f"failed {len(run.failed)}"
        )
        for key, error in run.failed.items():
            click.echo(f"  {key}: {error}", err=True)
    if run.failed:
        ctx.exit_code = 1


@gdpr.command("erase")
@click.argument("candidate")
@REASON
@ACTOR
@json_option
@pass_context
def gdpr_erase(ctx: Context, candidate: str, reason: str, actor: str, as_json: bool) -> None:
    """Erase a candidate's personal data now (CANDIDATE: key or email), e.g. on request."""
    from ats.service.privacy import erase

    erasure = erase(ctx.app, candidate, reason=reason, actor=actor, request_id=ctx.request_id)
    ctx.fields.update(candidate=erasure.candidate_key)
    if as_json:
        emit(erasure.to_dict())
    else:
        click.echo(
            f"candidate {erasure.candidate_key} erased: {len(erasure.candidacies)} candidacies "
            f"kept pseudonymously, {erasure.texts} audit texts and {erasure.mail_files} mail "
            "files removed"
        )
    for problem in erasure.mail_file_errors:
        click.echo(f"could not delete {problem}; remove it by hand", err=True)
    if erasure.mail_file_errors:
        ctx.exit_code = 1


@gdpr.command("export")
@click.argument("candidate")
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the JSON file and the HTML page.",
)
@json_option
@pass_context
def gdpr_export(ctx: Context, candidate: str, folder: Path, as_json: bool) -> None:
    """Answer an access request: a JSON file and a readable page of the person's data."""
    from ats.service.privacy import write_access_export

    paths = write_access_export(ctx.app, candidate, folder)
    if as_json:
        emit({"json": str(paths[0]), "html": str(paths[1])})
    else:
        click.echo(f"written {paths[0]} and {paths[1]}")


@gdpr.command("hold")
@click.argument("candidacy", type=int)
@click.argument("switch", type=click.Choice(["on", "off"]))
@REASON
@ACTOR
@pass_context
def gdpr_hold(ctx: Context, candidacy: int, switch: str, reason: str, actor: str) -> None:
    """Put a candidacy under legal hold (a dispute is pending), or lift the hold."""
    from ats.service.privacy import hold

    changed = hold(
        ctx.app,
        candidacy,
        on=switch == "on",
        reason=reason,
        actor=actor,
        request_id=ctx.request_id,
    )
    ctx.fields.update(candidacy=candidacy)
    state = "under legal hold" if switch == "on" else "no longer held"
    click.echo(f"candidacy {candidacy} {'is now' if changed else 'was already'} {state}")


@gdpr.command("consent")
@click.argument("candidate")
@click.argument("switch", type=click.Choice(["given", "withdrawn"]))
@ACTOR
@pass_context
def gdpr_consent(ctx: Context, candidate: str, switch: str, actor: str) -> None:
    """Record the candidate's consent to the talent pool (or its withdrawal)."""
    from ats.service.privacy import consent

    until = consent(
        ctx.app, candidate, given=switch == "given", actor=actor, request_id=ctx.request_id
    )
    if until:
        click.echo(f"consent recorded: the file is kept at least until {until}")
    else:
        click.echo("consent withdrawn: the retention policy alone applies")
