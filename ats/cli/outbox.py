"""`ats outbox`: the mail owed to candidates — list, show, retry, and preview a template."""

from __future__ import annotations

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table


@click.group()
def outbox() -> None:
    """Candidate mail: pending, sent and dead messages."""


@outbox.command("list")
@click.option("--state", "status", type=click.Choice(["pending", "sent", "dead"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@json_option
@pass_context
def outbox_list(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """Messages, newest first; dead ones show why."""
    from ats.service.outbox import messages

    rows = messages(ctx.app, status=status, limit=limit)
    if as_json:
        emit(rows)
        return
    click.echo(
        table(
            rows,
            ["id", "candidacy", "template", "status", "attempts", "created", "sent", "last_error"],
        )
    )


@outbox.command("show")
@click.argument("outbox_id", type=int)
@json_option
@pass_context
def outbox_show(ctx: Context, outbox_id: int, as_json: bool) -> None:
    """One message and every attempt to deliver it."""
    from ats.service.outbox import message

    data = message(ctx.app, outbox_id)
    if as_json:
        emit(data)
        return
    click.echo(
        f"message {data['id']} {data['message_id']}: {data['template']} for candidacy "
        f"{data['candidacy']}, {data['status']} after {data['attempts']} attempt(s)"
    )
    click.echo(table(data["attempt_log"], ["at", "outcome", "detail", "process"]))


@outbox.command("retry")
@click.argument("outbox_id", type=int)
@pass_context
def outbox_retry(ctx: Context, outbox_id: int) -> None:
    """Put a dead message back in the queue (after fixing what killed it)."""
    from ats.service.outbox import retry

    retry(ctx.app, outbox_id)
    ctx.fields.update(outbox=outbox_id)
    click.echo(f"message {outbox_id} queued again; the worker's relay sends it")


@outbox.command("render")
@click.argument("candidacy_id", type=int)
@click.argument("template")
@click.option("--language", type=click.Choice(["nl", "fr", "de", "en"]), required=True)
@click.option("--html", "as_html", is_flag=True, help="Print the HTML part instead of the text.")
@json_option
@pass_context
def outbox_render(
    ctx: Context, candidacy_id: int, template: str, language: str, as_html: bool, as_json: bool
) -> None:
    """Preview TEMPLATE for a candidacy in a language; sends nothing."""
    from ats.service.outbox import preview

    mail = preview(ctx.app, candidacy_id, template, language)
    if as_json:
        emit(mail)
        return
    click.echo(f"Subject: {mail['subject']}\n")
    click.echo(mail["html"] if as_html else mail["text"], nl=False)
