"""`ats worker` and `ats timers`: the process that keeps deadlines, and a look at them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table


def parse_instant(value: str, zone: ZoneInfo, option: str) -> datetime:
    """An ISO time; without an offset it is read as local (Europe/Brussels) time."""
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO time like 2021-07-20T09:00 or 2021-07-20T07:00+00:00, got {value!r}",
            param_hint=option,
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone)
    return instant.astimezone(UTC)


@click.group(invoke_without_command=True)
@click.option("--once", is_flag=True, help="One pass over every due timer, then exit.")
@click.option(
    "--now",
    metavar="ISO-TIME",
    help="With --once: pretend it is this time (a simulated clock for drills and demos; "
    "never in production).",
)
@click.option("--name", help="Worker name in `ats worker status` (default host:pid).")
@click.option("--no-mail", is_flag=True, help="With --once: timers only; mail waits for a relay.")
@json_option
@click.pass_context
def worker(
    click_ctx: click.Context,
    once: bool,
    now: str | None,
    name: str | None,
    no_mail: bool,
    as_json: bool,
) -> None:
    """Run the worker: sweep due timers, send candidate mail, checkpoint the audit log.

    Without --once it runs until SIGTERM or SIGINT, then finishes the timer in
    hand and exits. Any number of workers may share one PostgreSQL database.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.ensure_object(Context)
    from dataclasses import replace

    from ats.clock import ManualClock
    from ats.worker import Worker

    app = ctx.app
    if now is not None:
        if not once:
            raise click.UsageError(
                "--now is for drills with --once; a running worker uses real time"
            )
        app = replace(app, clock=ManualClock(parse_instant(now, app.settings.zone, "--now")))
    runner = Worker(app, name=name)
    if not once:
        runner.run_forever()
        return
    report, mail = runner.run_once(mail=not no_mail)
    ctx.fields.update(fired=report.fired, failed=report.failed, mailed=mail.sent)
    if as_json:
        emit({"worker": runner.name, **report.to_dict(), "mail": mail.to_dict()})
        return
    click.echo(
        f"worker {runner.name}: {report.fired} timeouts fired, {report.reminded} reminders, "
        f"{report.skipped} skipped (candidacy moved on), {report.failed} failed"
    )
    click.echo(
        f"mail: {mail.sent} sent, {mail.deferred} to retry, {mail.dead} dead"
        + (" (see `ats outbox list --state dead`)" if mail.dead else "")
    )
    if report.settled:
        hours = report.max_lateness_s / 3600
        click.echo(f"most late: {hours:.1f} hours after its due time")
    for failure in report.failures:
        click.echo(f"failed timer {failure['timer']}: {failure['reason']}", err=True)


@worker.command("status")
@json_option
@pass_context
def worker_status(ctx: Context, as_json: bool) -> None:
    """Workers seen, whether they are alive, and their last sweep."""
    from ats.worker import workers

    rows = workers(ctx.app)
    if as_json:
        emit(rows)
        return
    click.echo(
        table(
            rows,
            ["name", "live", "status", "started", "last_seen", "last_sweep", "last_sweep_settled"],
        )
    )


@click.group()
def timers() -> None:
    """Deadlines and reminders armed on candidacies."""


@timers.command("list")
@click.option("--due-before", metavar="ISO-TIME", help="Only timers due before this time.")
@click.option("--failed", is_flag=True, help="Timers that could not fire, with the reason.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@json_option
@pass_context
def timers_list(
    ctx: Context, due_before: str | None, failed: bool, limit: int, as_json: bool
) -> None:
    """Armed timers by due time (local), or --failed ones."""
    from ats.service.timers import timers as list_timers

    before = (
        parse_instant(due_before, ctx.app.settings.zone, "--due-before") if due_before else None
    )
    rows = list_timers(ctx.app, due_before=before, failed=failed, limit=limit)
    if as_json:
        emit(rows)
        return
    columns = ["id", "candidacy", "state", "kind", "what", "due", "status"]
    click.echo(table(rows, [*columns, "outcome"] if failed else columns))
