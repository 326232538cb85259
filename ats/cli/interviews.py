"""`ats interview`: a vacancy's panel, the members' blind scorecards, the chair's decision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table

AS_USER = click.option(
    "--as",
    "username",
    required=True,
    help="The panel member acting (a user with the panel role); what they may see follows.",
)
SCORES = click.option(
    "--score",
    "scores",
    multiple=True,
    metavar="CRITERION=N",
    help="A score per criterion of the workflow's interview block; repeat for each.",
)


@click.group()
def interview() -> None:
    """Interview panels: who sits on them, blind scorecards, and the chair's decision.

    The workflow's `interview` block names the criteria, their scales and the
    pass rule (docs/workflow-language.md). Each member scores without seeing the
    others' cards; the chair then records the consensus scores and a
    motivation, and the pass rule moves the candidacy on.
    """


@interview.command("panel")
@click.argument("vacancy")
@click.option("--member", "members", multiple=True, help="A panel member's username; repeat.")
@click.option("--chair", help="The member who chairs the panel and records the decision.")
@click.option("--actor", help="Who sets the panel, e.g. recruiter:els (audited).")
@json_option
@pass_context
def interview_panel(
    ctx: Context,
    vacancy: str,
    members: Sequence[str],
    chair: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Show VACANCY's panel, or set it with --member (2–4 times) and --chair."""
    from ats.service.interviews import panel, set_panel

    if members or chair:
        if not (members and chair and actor):
            raise click.UsageError("setting a panel needs --member (each), --chair and --actor")
        rows = set_panel(ctx.app, vacancy, members, chair, actor=actor, role="recruiter")
    else:
        rows = panel(ctx.app, vacancy)
    if as_json:
        emit(rows)
        return
    if not rows:
        click.echo(f"vacancy {vacancy} has no interview panel yet")
        return
    click.echo(
        table(
            [{**r, "chair": "chair" if r["chair"] else ""} for r in rows],
            ["username", "display_name", "chair"],
        )
    )


@interview.command("score")
@click.argument("candidacy", type=int)
@AS_USER
@SCORES
@click.option(
    "--comment", help="What the member noted (kept with the card; erased with the person)."
)
@click.option(
    "--supersede",
    "reason",
    help="Replace your submitted card, saying why (audited); without it a card is filed once.",
)
@json_option
@pass_context
def interview_score(
    ctx: Context,
    candidacy: int,
    username: str,
    scores: Sequence[str],
    comment: str | None,
    reason: str | None,
    as_json: bool,
) -> None:
    """File your scorecard for CANDIDACY (or supersede it with --supersede REASON)."""
    from ats.service.interviews import submit
    from ats.service.users import principal_of

    who = principal_of(ctx.app, username)
    card = submit(ctx.app, candidacy, who, _pairs(scores), comment, supersede_reason=reason)
    if as_json:
        emit({"scorecard": card, "candidacy": candidacy})
    else:
        click.echo(f"scorecard {card} filed for candidacy {candidacy} by {who.username}")


@interview.command("show")
@click.argument("candidacy", type=int)
@AS_USER
@json_option
@pass_context
def interview_show(ctx: Context, candidacy: int, username: str, as_json: bool) -> None:
    """The scorecards of CANDIDACY as that user may see them (blind until theirs is in)."""
    from ats.service.interviews import scorecards
    from ats.service.users import principal_of

    view = scorecards(ctx.app, candidacy, principal_of(ctx.app, username))
    if as_json:
        emit(view)
        return
    names = [c["name"] for c in view["criteria"]]
    click.echo(f"pass rule: {view['rule']}; {view['submitted']} of {len(view['panel'])} cards in")
    if view["blind"]:
        click.echo("the others' scores show once your own card is in")
    rows: list[dict[str, Any]] = [
        {"member": c["member"], **c["scores"], "total": c["total"], "passes": c["passed"]}
        for c in view["cards"]
    ]
    if view["decision"]:
        d = view["decision"]
        rows.append(
            {"member": "consensus", **d["scores"], "total": d["total"], "passes": d["passed"]}
        )
    if rows:
        click.echo(table(rows, ["member", *names, "total", "passes"]))


@interview.command("decide")
@click.argument("candidacy", type=int)
@AS_USER
@SCORES
@click.option("--motivation", required=True, help="Why, in words the candidate may read (audited).")
@json_option
@pass_context
def interview_decide(
    ctx: Context,
    candidacy: int,
    username: str,
    scores: Sequence[str],
    motivation: str,
    as_json: bool,
) -> None:
    """The chair records the consensus SCOREs; the pass rule moves CANDIDACY on."""
    from ats.service.interviews import decide
    from ats.service.users import principal_of

    event = decide(ctx.app, candidacy, principal_of(ctx.app, username), _pairs(scores), motivation)
    if as_json:
        emit({"candidacy": candidacy, "trigger": event.trigger, "from": event.src, "to": event.dst})
    else:
        click.echo(f"candidacy {candidacy}: {event.trigger} ({event.src} → {event.dst})")


def _pairs(values: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sign, score = value.partition("=")
        if not sign or not name.strip():
            raise click.BadParameter(f"{value!r}: expected CRITERION=N", param_hint="--score")
        pairs[name.strip()] = score.strip()
    return pairs
