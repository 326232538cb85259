"""Engines for the embedded SQLite default and the PostgreSQL scale-out target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import String, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ats.errors import ConfigurationError


class lowered(FunctionElement[str]):  # lower case: it reads as the SQL function it is
    """lower() of a text column that folds accented capitals on every database."""

    type = String()
    inherit_cache = True


@compiles(lowered)
def _lowered_default(element: lowered, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "sqlite")
def _lowered_sqlite(element: lowered, compiler: Any, **kw: Any) -> str:
    return f"ats_lower({compiler.process(element.clauses, **kw)})"


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def create_database_engine(url: str, *, busy_timeout_ms: int = 5000, **options: Any) -> Engine:
    """An engine; SQLite files get WAL, foreign keys and a busy timeout on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"database_url: cannot create the folder {folder} for the SQLite file: {exc}"
                ) from exc
        engine = create_engine(parsed, hide_parameters=True, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()
            # SQLite's lower() folds ASCII only; searches for "Élodie" need Python's.
            dbapi_connection.create_function("ats_lower", 1, _lower, deterministic=True)

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Statement parameters carry personal data: keep them out of error messages.
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True, **options)
    raise ConfigurationError(f"database_url: unsupported database {parsed.get_backend_name()!r}")
