"""Browser sessions for staff: sign-in with rate limiting, hashed cookies, CSRF tokens.

The cookie carries 256 random bits; the database keeps only their SHA-256, so a
copy of the database signs nobody in. Sessions end after an hour without use or
ten hours in all, at sign-out, and when the user is disabled. Failed sign-ins
are counted in the database (so several API processes share the count) and
audited; after five for one username, or twenty from one address, within
fifteen minutes, further attempts are refused until the window has passed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, update

from ats.adapters.db.models import LoginFailureRow, UserRow, WebSessionRow
from ats.domain.access import Principal
from ats.domain.audit import AUTHORISATION_FAILED
from ats.errors import InvalidInput, TooManyAttempts, Unauthenticated
from ats.service.app import App
from ats.service.audit import record_event
from ats.service.users import authenticate_password, principal_from_row

SESSION = cast(Table, WebSessionRow.__table__)
FAILURE = cast(Table, LoginFailureRow.__table__)
USER = cast(Table, UserRow.__table__)

IDLE = timedelta(hours=1)
LIFETIME = timedelta(hours=10)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
UI_LANGUAGES = ("nl", "fr", "en")


@dataclass(frozen=True)
class WebSession:
    """Who a browser is signed in as, the token its forms must carry, how they read."""

    principal: Principal
    csrf: str
    display_name: str
    language: str


def sign_in(app: App, username: str, password: str, *, address: str) -> tuple[str, WebSession]:
    """A new session (the cookie value, shown once) or Unauthenticated / TooManyAttempts."""
    username = username.strip().lower()[:64]
    address = address[:64]
    now = app.clock.now()
    since = now - FAILURE_WINDOW
    with app.engine.connect() as connection:
        for column, value, limit in (
            (FAILURE.c.username, username, MAX_FAILURES_PER_USER),
            (FAILURE.c.address, address, MAX_FAILURES_PER_ADDRESS),
        ):
            count, oldest = connection.execute(
                select(func.count(), func.min(FAILURE.c.at)).where(
                    column == value, FAILURE.c.at >= since
                )
            ).one()
            if count >= limit:
                wait = max(1, int((oldest + FAILURE_WINDOW - now).total_seconds()) + 1)
                raise TooManyAttempts(
                    f"too many failed sign-ins; try again in {(wait + 59) // 60} minute(s)",
                    retry_after=wait,
                )
    try:
        principal = authenticate_password(app, username, password)
    except Unauthenticated:
        with app.unit_of_work() as uow:
            uow.connection.execute(
                insert(FAILURE).values(username=username, address=address, at=now)
            )
            record_event(
                uow,
                app,
                kind=AUTHORISATION_FAILED,
                actor=f"sign-in:{username}",
                role="anonymous",
                subject="web:login",
                details={"reason": "unknown user or wrong password", "address": address},
            )
            uow.commit()
        raise
    token = secrets.token_urlsafe(32)
    with app.unit_of_work() as uow:
        uow.connection.execute(delete(FAILURE).where(FAILURE.c.username == username))
        uow.connection.execute(delete(SESSION).where(SESSION.c.expires_at < now))
        uow.connection.execute(
            insert(SESSION).values(
                token_hash=_digest(token),
                user_id=principal.user_id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + LIFETIME,
            )
        )
        uow.commit()
    return token, session(app, token)


def session(app: App, token: str) -> WebSession:
    """The live session a cookie names; Unauthenticated when it is unknown, idle, old or disabled."""
    now = app.clock.now()
    with app.unit_of_work() as uow:
        row = uow.connection.execute(
            select(
                SESSION.c.id,
                SESSION.c.csrf,
                SESSION.c.last_seen_at,
                SESSION.c.expires_at,
                USER.c.id.label("user_id"),
                USER.c.username,
                USER.c.roles,
                USER.c.disabled,
                USER.c.display_name,
                USER.c.language,
            )
            .join(USER, USER.c.id == SESSION.c.user_id)
            .where(SESSION.c.token_hash == _digest(token))
        ).first()
        if row is None or row.disabled or row.expires_at <= now or row.last_seen_at + IDLE <= now:
            raise Unauthenticated("your session has ended; sign in again")
        if now - row.last_seen_at > timedelta(minutes=1):  # one write a minute, not per request
            uow.connection.execute(
                update(SESSION).where(SESSION.c.id == row.id).values(last_seen_at=now)
            )
            uow.commit()
    return WebSession(
        principal=principal_from_row(row.user_id, row.username, row.roles, "session"),
        csrf=row.csrf,
        display_name=row.display_name,
        language=row.language if row.language in UI_LANGUAGES else "en",
    )


def sign_out(app: App, token: str) -> None:
    with app.unit_of_work() as uow:
        uow.connection.execute(delete(SESSION).where(SESSION.c.token_hash == _digest(token)))
        uow.commit()


def set_language(app: App, user_id: int, language: str) -> None:
    """The interface language a user reads (their preference, kept on their account)."""
    if language not in UI_LANGUAGES:
        raise InvalidInput(f"language {language!r}: the interface speaks {', '.join(UI_LANGUAGES)}")
    with app.unit_of_work() as uow:
        uow.connection.execute(update(USER).where(USER.c.id == user_id).values(language=language))
        uow.commit()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
