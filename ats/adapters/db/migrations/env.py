"""Alembic environment: the engine comes from ``ats`` (never built at import time)."""

from __future__ import annotations

from alembic import context

from ats.adapters.db.engine import create_database_engine
from ats.adapters.db.models import Base
from ats.settings import load_settings

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    settings = load_settings()
    engine = create_database_engine(settings.database_url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
