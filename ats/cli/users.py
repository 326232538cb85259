"""`ats user` and `ats token`: staff accounts and their API tokens."""

from __future__ import annotations

import sys

import click

from ats.cli.context import Context, json_option, pass_context
from ats.cli.output import emit, table
from ats.domain.access import STAFF_ROLES


@click.group()
def user() -> None:
    """Staff users: create, list, disable."""


@user.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name as shown to colleagues.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(STAFF_ROLES))
@click.option("--service", "services", multiple=True, help="A service the user works for; repeat.")
@click.option("--language", type=click.Choice(["nl", "fr", "en"]), default="nl", show_default=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read a password (for the web UI) from standard input."
)
@click.option("--email", help="Where panel invitations and approval reminders go.")
@pass_context
def user_create(
    ctx: Context,
    username: str,
    display_name: str,
    roles: tuple[str, ...],
    services: tuple[str, ...],
    language: str,
    password_stdin: bool,
    email: str | None,
) -> None:
    """Create a user with roles (and services, for recruiters)."""
    from ats.service.users import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    create_user(
        ctx.app,
        username=username,
        display_name=display_name,
        roles=roles,
        services=services,
        language=language,
        password=password,
        email=email,
    )
    click.echo(
        f"user {username} created: {', '.join(roles)}"
        + (f" for {', '.join(services)}" if services else "")
    )


@user.command("list")
@json_option
@pass_context
def user_list(ctx: Context, as_json: bool) -> None:
    """Every user with roles, services and whether they are disabled."""
    from ats.service.users import users

    rows = users(ctx.app)
    if as_json:
        emit(rows)
        return
    for row in rows:
        row["roles"] = ", ".join(row["roles"])
        row["services"] = ", ".join(row["services"])
    click.echo(
        table(
            rows, ["username", "display_name", "roles", "services", "language", "email", "disabled"]
        )
    )


@user.command("email")
@click.argument("username")
@click.argument("address", required=False)
@pass_context
def user_email(ctx: Context, username: str, address: str | None) -> None:
    """Set the address a user's panel invitations and approval reminders go to (none: clear)."""
    from ats.service.users import set_email

    set_email(ctx.app, username, address)
    click.echo(f"user {username}: " + (f"mail goes to {address}" if address else "no mail address"))


@user.command("disable")
@click.argument("username")
@pass_context
def user_disable(ctx: Context, username: str) -> None:
    """Disable a user and revoke all their tokens."""
    from ats.service.users import disable_user

    disable_user(ctx.app, username)
    click.echo(f"user {username} disabled; their tokens are revoked")


@click.group()
def token() -> None:
    """API tokens: create (shown once), revoke."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@json_option
@pass_context
def token_create(ctx: Context, username: str, name: str, as_json: bool) -> None:
    """Create a token for USERNAME; it is printed once and stored only as a hash."""
    from ats.service.users import create_token

    secret, prefix = create_token(ctx.app, username, name)
    if as_json:
        emit({"token": secret, "prefix": prefix, "user": username})
        return
    click.echo(secret)
    click.echo(f"(shown once; revoke with `ats token revoke {prefix}`)", err=True)


@token.command("revoke")
@click.argument("prefix")
@pass_context
def token_revoke(ctx: Context, prefix: str) -> None:
    """Revoke the token that starts with PREFIX."""
    from ats.service.users import revoke_token

    revoke_token(ctx.app, prefix)
    click.echo(f"token {prefix}… revoked")
