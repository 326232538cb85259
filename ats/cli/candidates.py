"""`ats candidate`: candidate records — their possible duplicates, merging and telling apart."""

from __future__ import annotations

from typing import Any

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table

# The roles that may settle duplicates (ats.service.duplicates.MERGE_ROLES, which checks
# again); repeated here so that `ats --help` imports no service code.
MERGE_ROLES = ("recruiter", "admin")

REASON = click.option(
    "--reason", required=True, help="Why (kept in the audit log, erasable with the person)."
)
ACTOR = click.option(
    "--actor", required=True, help="Who does this, e.g. recruiter:an.peeters (audited)."
)
ROLE = click.option(
    "--role", type=click.Choice(MERGE_ROLES), default="admin", show_default=True, help="As what."
)


@click.group()
def candidate() -> None:
    """Candidate records: possible duplicates, merging two records of one person."""


@candidate.command("duplicates")
@click.argument("key")
@json_option
@pass_context
def candidate_duplicates(ctx: Context, key: str, as_json: bool) -> None:
    """Records that may be the same person as candidate KEY (open links only)."""
    from ats.service.duplicates import duplicates

    ctx.fields.update(candidate=key)
    rows = duplicates(ctx.app, candidate=key)
    if as_json:
        emit(rows)
        return
    if not rows:
        click.echo(f"candidate {key}: no possible duplicates")
        return
    click.echo(
        table(
            [
                {
                    "other": row["other"],
                    "rule": row["rule_text"],
                    "found": row["found_at"],
                    "candidacies": _candidacies(row["candidacies"]),
                }
                for row in rows
            ],
            ["other", "rule", "found", "candidacies"],
        )
    )
    click.echo(
        f"one person? `ats candidate merge {key} OTHER --reason ...`; "
        f"two people? `ats candidate distinct {key} OTHER --reason ...`"
    )


def _candidacies(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{c['id']} {c['vacancy']} ({c['state']})" for c in rows) or "-"


@candidate.command("merge")
@click.argument("keep")
@click.argument("merged")
@REASON
@ACTOR
@ROLE
@json_option
@pass_context
def candidate_merge(
    ctx: Context, keep: str, merged: str, reason: str, actor: str, role: str, as_json: bool
) -> None:
    """Merge candidate record MERGED into KEEP: one person, one record (audited).

    KEEP takes MERGED's candidacies, Selor seats and links, and the phone and
    birth date it lacks; MERGED keeps only its key, pointing at KEEP.
    """
    from ats.service.duplicates import merge

    ctx.fields.update(candidate=keep, merged=merged)
    result = merge(
        ctx.app,
        keep=keep,
        merge=merged,
        reason=reason,
        actor=actor,
        role=role,
        request_id=ctx.request_id,
    )
    if as_json:
        emit(result.to_dict())
        return
    moved = ", ".join(str(c) for c in result.candidacies) or "none"
    click.echo(
        f"candidate {result.merged} merged into {result.kept}: candidacies moved: {moved}"
        + (f"; {result.seats} Selor seat(s) moved" if result.seats else "")
        + (f"; filled in: {', '.join(result.filled)}" if result.filled else "")
    )


@candidate.command("distinct")
@click.argument("key")
@click.argument("other")
@REASON
@ACTOR
@ROLE
@pass_context
def candidate_distinct(
    ctx: Context, key: str, other: str, reason: str, actor: str, role: str
) -> None:
    """Say candidate records KEY and OTHER are two people: the duplicate warning stops (audited)."""
    from ats.service.duplicates import mark_distinct

    ctx.fields.update(candidate=key)
    changed = mark_distinct(
        ctx.app,
        candidate=key,
        other=other,
        reason=reason,
        actor=actor,
        role=role,
        request_id=ctx.request_id,
    )
    click.echo(
        f"candidates {key} and {other} marked as different people"
        if changed
        else f"candidates {key} and {other} were marked as different people already"
    )
