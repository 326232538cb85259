"""Staff users and API tokens: argon2 for passwords, SHA-256 for high-entropy tokens."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, delete, insert, select, update

from ats.adapters.db.models import ApiTokenRow, UserRow, VacancyRow, WebSessionRow
from ats.domain.access import STAFF_ROLES, Principal
from ats.errors import DuplicateApplication, InvalidInput, NotFound, Unauthenticated
from ats.service.app import App
from ats.service.queries import local_time

USER = cast(Table, UserRow.__table__)
TOKEN = cast(Table, ApiTokenRow.__table__)
VACANCY = cast(Table, VacancyRow.__table__)
WEB_SESSION = cast(Table, WebSessionRow.__table__)
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_HASHER = PasswordHasher()


@functools.cache
def dummy_password_hash() -> str:
    """Verified against when the user is unknown: a wrong username costs as long as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


TOKEN_PREFIX = "ats_"  # noqa: S105 - a public marker that makes leaked tokens greppable


class UserExists(DuplicateApplication):
    """A username is taken."""


def create_user(
    app: App,
    *,
    username: str,
    display_name: str,
    roles: Iterable[str],
    services: Iterable[str] = (),
    language: str = "nl",
    password: str | None = None,
    email: str | None = None,
) -> int:
    roles, services = sorted(set(roles)), sorted(set(services))
    problems = []
    address, trouble = _address(email)
    if trouble:
        problems.append(trouble)
    if not _USERNAME.match(username):
        problems.append("username: lowercase letters, digits, . _ -, starting with a letter")
    if not display_name.strip() or any(c in display_name for c in "\r\n"):
        problems.append("display name: one non-empty line")
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if not roles or unknown:
        problems.append(
            f"roles: choose from {', '.join(STAFF_ROLES)} (got {', '.join(roles) or 'none'})"
        )
    if language not in ("nl", "fr", "en"):
        problems.append("language: the interface speaks nl, fr or en")
    if password is not None and len(password) < 12:
        problems.append("password: at least 12 characters")
    with app.unit_of_work() as uow:
        known = set(uow.connection.execute(select(VACANCY.c.service).distinct()).scalars())
        strangers = [s for s in services if s not in known]
        if strangers:
            problems.append(
                f"services: unknown {', '.join(strangers)} (known: {', '.join(sorted(known))})"
            )
        if "recruiter" in roles and not services:
            problems.append("services: a recruiter works for at least one service")
        if problems:
            raise InvalidInput("cannot create the user: " + "; ".join(problems))
        if uow.connection.execute(select(USER.c.id).where(USER.c.username == username)).first():
            raise UserExists(f"user {username!r} exists already")
        user_id = uow.connection.execute(
            insert(USER)
            .values(
                username=username,
                display_name=display_name.strip(),
                password_hash=_HASHER.hash(password) if password else None,
                roles={"roles": roles, "services": services},
                language=language,
                disabled=False,
                created_at=app.clock.now(),
                email=address,
            )
            .returning(USER.c.id)
        ).scalar_one()
        uow.commit()
    return int(user_id)


def _address(email: str | None) -> tuple[str | None, str | None]:
    """The normalised address (ASCII, as every mail server takes it), or why it is refused."""
    if email is None or not email.strip():
        return None, None
    try:
        checked = validate_email(email.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return None, f"email {email!r}: {exc}"
    return checked.ascii_email or checked.normalized, None


def set_email(app: App, username: str, email: str | None) -> None:
    """Give a user the address their panel invitations and reminders go to (None: none)."""
    address, trouble = _address(email)
    if trouble:
        raise InvalidInput(f"cannot set the address of {username}: {trouble}")
    with app.unit_of_work() as uow:
        done = uow.connection.execute(
            update(USER).where(USER.c.username == username.strip().lower()).values(email=address)
        )
        if not done.rowcount:
            raise NotFound(f"no user {username!r}; `ats user list` shows them")
        uow.commit()


def users(app: App) -> list[dict[str, Any]]:
    with app.engine.connect() as connection:
        return [
            {
                "username": row["username"],
                "display_name": row["display_name"],
                "roles": row["roles"]["roles"],
                "services": row["roles"]["services"],
                "language": row["language"],
                "email": row["email"],
                "disabled": row["disabled"],
                "created": local_time(row["created_at"], app.settings.zone),
            }
            for row in connection.execute(select(USER).order_by(USER.c.username)).mappings()
        ]


def disable_user(app: App, username: str) -> None:
    """Disable a user, revoke every token they hold and end their sessions, in one transaction."""
    now = app.clock.now()
    with app.unit_of_work() as uow:
        user_id = uow.connection.execute(
            select(USER.c.id).where(USER.c.username == username)
        ).scalar()
        if user_id is None:
            raise NotFound(f"no user {username!r}")
        uow.connection.execute(update(USER).where(USER.c.id == user_id).values(disabled=True))
        uow.connection.execute(
            update(TOKEN)
            .where(TOKEN.c.user_id == user_id, TOKEN.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        uow.connection.execute(delete(WEB_SESSION).where(WEB_SESSION.c.user_id == user_id))
        uow.commit()


def create_token(app: App, username: str, name: str) -> tuple[str, str]:
    """A new token for ``username``: (the token, shown once; its prefix, kept for revoking)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    prefix = token[: len(TOKEN_PREFIX) + 8]
    with app.unit_of_work() as uow:
        row = uow.connection.execute(
            select(USER.c.id, USER.c.disabled).where(USER.c.username == username)
        ).first()
        if row is None:
            raise NotFound(f"no user {username!r}")
        if row.disabled:
            raise InvalidInput(f"user {username!r} is disabled")
        uow.connection.execute(
            insert(TOKEN).values(
                user_id=row.id,
                name=name.strip() or "token",
                token_hash=_digest(token),
                prefix=prefix,
                created_at=app.clock.now(),
            )
        )
        uow.commit()
    return token, prefix


def revoke_token(app: App, prefix: str) -> None:
    with app.unit_of_work() as uow:
        result = uow.connection.execute(
            update(TOKEN)
            .where(TOKEN.c.prefix == prefix, TOKEN.c.revoked_at.is_(None))
            .values(revoked_at=app.clock.now())
        )
        if result.rowcount == 0:
            raise NotFound(f"no live token starting {prefix!r}")
        uow.commit()


def authenticate_token(app: App, token: str) -> Principal:
    """The user a bearer token belongs to; Unauthenticated when it is unknown, revoked or disabled."""
    with app.unit_of_work() as uow:
        row = uow.connection.execute(
            select(
                TOKEN.c.id,
                USER.c.id.label("user_id"),
                USER.c.username,
                USER.c.roles,
                USER.c.disabled,
            )
            .join(USER, USER.c.id == TOKEN.c.user_id)
            .where(TOKEN.c.token_hash == _digest(token), TOKEN.c.revoked_at.is_(None))
        ).first()
        if row is None or row.disabled:
            raise Unauthenticated("the token is unknown, revoked, or its user is disabled")
        uow.connection.execute(
            update(TOKEN).where(TOKEN.c.id == row.id).values(last_used_at=app.clock.now())
        )
        uow.commit()
    return principal_from_row(row.user_id, row.username, row.roles, "token")


def authenticate_password(app: App, username: str, password: str) -> Principal:
    with app.engine.connect() as connection:
        row = connection.execute(
            select(
                USER.c.id, USER.c.username, USER.c.roles, USER.c.disabled, USER.c.password_hash
            ).where(USER.c.username == username)
        ).first()
    try:
        usable = row is not None and not row.disabled and bool(row.password_hash)
        _HASHER.verify(row.password_hash if usable and row else dummy_password_hash(), password)
        if not usable:
            raise VerificationError
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("unknown user or wrong password") from None
    assert row is not None  # noqa: S101 - a usable row was verified above
    return principal_from_row(row.id, row.username, row.roles, "session")


def principal_from_row(user_id: int, username: str, roles: dict[str, Any], via: str) -> Principal:
    return Principal(
        user_id=user_id,
        username=username,
        roles=frozenset(roles.get("roles", [])),
        services=frozenset(roles.get("services", [])),
        via=via,
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(app: App, username: str) -> Principal:
    """An active user as the command line acts for them (``--as``); NotFound otherwise."""
    with app.engine.connect() as connection:
        row = connection.execute(
            select(USER.c.id, USER.c.username, USER.c.roles, USER.c.disabled).where(
                USER.c.username == username.strip().lower()
            )
        ).first()
    if row is None or row.disabled:
        raise NotFound(f"no active user {username!r}; `ats user list` shows them")
    return principal_from_row(row.id, row.username, row.roles, "cli")
