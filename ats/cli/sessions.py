"""`ats session`: Selor sessions — plan, seat, move, cancel, and import their results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table
from ats.cli.worker import parse_instant

ACTOR = click.option(
    "--actor",
    required=True,
    help="Who does this, e.g. selor:marie (recorded in the audit log; acts as role selor).",
)


@click.group()
def session() -> None:
    """Selor sessions: seats, invitations and results."""


@session.command("create")
@click.option("--at", "starts", required=True, help="Start, e.g. 2026-12-05T09:00 (Brussels).")
@click.option("--place", required=True)
@click.option(
    "--kind",
    type=click.Choice(["computer_test", "assessment", "language_test"]),
    default="computer_test",
    show_default=True,
)
@click.option("--seats", type=click.IntRange(1, 1000), required=True)
@click.option("--vacancy", "vacancies", multiple=True, required=True, help="Repeat for several.")
@click.option("--code", help="A code of your own (default: S<yyyymmdd>-<n>).")
@ACTOR
@json_option
@pass_context
def session_create(
    ctx: Context,
    starts: str,
    place: str,
    kind: str,
    seats: int,
    vacancies: Sequence[str],
    code: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Plan a session (Saturdays too; not on Sundays or public holidays)."""
    from ats.service.selection import SessionPlan, create_session

    app = ctx.app
    created = create_session(
        app,
        SessionPlan(
            starts_at=parse_instant(starts, app.settings.zone, "--at"),
            place=place,
            kind=kind,
            seats=seats,
            vacancies=tuple(vacancies),
            code=code,
        ),
        actor=actor,
    )
    ctx.fields.update(session=created)
    if as_json:
        emit({"session": created})
        return
    click.echo(f"session {created} planned: {seats} seats")


@session.command("list")
@click.option("--all", "include_past", is_flag=True, help="Past sessions too.")
@json_option
@pass_context
def session_list(ctx: Context, include_past: bool, as_json: bool) -> None:
    """Sessions to come (or all), with booked and free seats."""
    from ats.service.selection import sessions

    rows = sessions(ctx.app, include_past=include_past)
    if as_json:
        emit(rows)
        return
    for row in rows:
        row["vacancies"] = ", ".join(row["vacancies"])
    click.echo(
        table(
            rows,
            ["code", "starts", "kind", "module", "seats", "booked", "free", "status", "vacancies"],
        )
    )


@session.command("show")
@click.argument("code")
@json_option
@pass_context
def session_show(ctx: Context, code: str, as_json: bool) -> None:
    """One session and its seats, with results once imported."""
    from ats.service.selection import session as one

    data = one(ctx.app, code)
    if as_json:
        emit(data)
        return
    click.echo(
        f"{data['code']} {data['starts']} {data['place']} ({data['kind']}, {data['module']}): "
        f"{data['booked']}/{data['seats']} seats, {data['status']}; for {', '.join(data['vacancies'])}"
    )
    seats = data["seat_list"]
    for seat in seats:
        seat["score"] = "" if seat["score"] is None else seat["score"]
        seat["passed"] = "" if seat["passed"] is None else ("yes" if seat["passed"] else "no")
    if seats:
        click.echo(
            table(
                seats,
                ["seat", "status", "candidacy", "reference", "name", "state", "score", "passed"],
            )
        )


@session.command("assign")
@click.argument("code")
@click.option("--candidacy", "candidacies", type=int, multiple=True, help="Seat these; repeat.")
@click.option("--auto", is_flag=True, help="Fill the free seats, longest waiting first.")
@click.option("--vacancy", help="With --auto: only candidacies of this vacancy.")
@ACTOR
@json_option
@pass_context
def session_assign(
    ctx: Context,
    code: str,
    candidacies: Sequence[int],
    auto: bool,
    vacancy: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Seat candidacies in a session and send their invitations (all or nothing)."""
    from ats.service.selection import assign

    report = assign(ctx.app, code, actor=actor, candidacies=candidacies, auto=auto, vacancy=vacancy)
    ctx.fields.update(session=code, seated=len(report.seated))
    if as_json:
        emit({"session": code, "seated": report.seated, "skipped": report.skipped})
        return
    click.echo(f"session {code}: {len(report.seated)} seated and invited")
    for skipped in report.skipped:
        click.echo(f"  skipped candidacy {skipped['candidacy']}: {skipped['why']}")


@session.command("reschedule")
@click.argument("code")
@click.option("--at", "starts", required=True, help="The new start (Brussels).")
@click.option("--place", help="A new place (default: the same).")
@ACTOR
@pass_context
def session_reschedule(ctx: Context, code: str, starts: str, place: str | None, actor: str) -> None:
    """Move a session; each seated candidate gets the updated invitation."""
    from ats.service.selection import reschedule

    moved = reschedule(
        ctx.app,
        code,
        starts_at=parse_instant(starts, ctx.app.settings.zone, "--at"),
        place=place,
        actor=actor,
    )
    click.echo(f"session {code} moved; {moved} candidate(s) re-invited")


@session.command("cancel")
@click.argument("code")
@click.option("--move-to", help="The session its seated candidacies move to.")
@ACTOR
@pass_context
def session_cancel(ctx: Context, code: str, move_to: str | None, actor: str) -> None:
    """Cancel a session; anyone seated moves to another one in the same step."""
    from ats.service.selection import cancel

    moved = cancel(ctx.app, code, move_to=move_to, actor=actor)
    click.echo(f"session {code} cancelled" + (f"; {moved} moved to {move_to}" if moved else ""))


@session.command("import-results")
@click.argument("code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@ACTOR
@json_option
@pass_context
def session_import_results(ctx: Context, code: str, file: Path, actor: str, as_json: bool) -> None:
    """Apply a results CSV: every row checked first, then all applied or none."""
    from ats.service.session_results import MAX_BYTES, import_results

    if file.stat().st_size > MAX_BYTES:
        raise click.ClickException(f"{file}: larger than {MAX_BYTES} bytes")
    report = import_results(ctx.app, code, file.read_bytes(), actor=actor)
    ctx.fields.update(session=code, applied=len(report.applied))
    if as_json:
        emit(
            {
                "session": code,
                "sha256": report.sha256,
                "rows": report.rows,
                "applied": report.applied,
                "unchanged": report.unchanged,
                "already_imported": report.already_imported,
                "without_result": report.without_result,
            }
        )
        return
    if report.already_imported:
        click.echo(f"{file}: imported into {code} before (same SHA-256); nothing changed")
        return
    click.echo(
        f"{file}: {len(report.applied)} result(s) applied to session {code}"
        + (f", {report.unchanged} already recorded" if report.unchanged else "")
        + (
            f"; {report.without_result} seated without a result yet"
            if report.without_result
            else ""
        )
    )
