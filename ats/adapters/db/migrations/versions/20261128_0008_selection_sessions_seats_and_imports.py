"""Selor sessions, their seats and results, and the results files applied to them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 19:04:25.756148
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selection_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selection_sessions")),
        sa.UniqueConstraint("code", name=op.f("uq_selection_sessions_code")),
    )
    op.create_table(
        "selection_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["selection_sessions.id"],
            name=op.f("fk_selection_imports_session_id_selection_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selection_imports")),
        sa.UniqueConstraint("session_id", "sha256", name=op.f("uq_selection_imports_session_id")),
    )
    op.create_table(
        "selection_session_vacancies",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("vacancy", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["selection_sessions.id"],
            name=op.f("fk_selection_session_vacancies_session_id_selection_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["vacancy"],
            ["vacancies.code"],
            name=op.f("fk_selection_session_vacancies_vacancy_vacancies"),
        ),
        sa.PrimaryKeyConstraint(
            "session_id", "vacancy", name=op.f("pk_selection_session_vacancies")
        ),
    )
    op.create_table(
        "selection_seats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("candidacy_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("seat_no", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("result_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidacy_id"],
            ["candidacies.id"],
            name=op.f("fk_selection_seats_candidacy_id_candidacies"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_selection_seats_candidate_id_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["selection_sessions.id"],
            name=op.f("fk_selection_seats_session_id_selection_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selection_seats")),
    )
    with op.batch_alter_table("selection_seats", schema=None) as batch_op:
        batch_op.create_index("ix_selection_seats_session_id", ["session_id"], unique=False)
        batch_op.create_index(
            "uq_selection_seats_candidacy",
            ["candidacy_id"],
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.create_index(
            "uq_selection_seats_candidate_day",
            ["candidate_id", "day"],
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.create_index(
            "uq_selection_seats_session_seat",
            ["session_id", "seat_no"],
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("selection_seats", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_selection_seats_session_seat",
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.drop_index(
            "uq_selection_seats_candidate_day",
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.drop_index(
            "uq_selection_seats_candidacy",
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )
        batch_op.drop_index("ix_selection_seats_session_id")

    op.drop_table("selection_seats")
    op.drop_table("selection_session_vacancies")
    op.drop_table("selection_imports")
    op.drop_table("selection_sessions")
