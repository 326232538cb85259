"""Interview panels per vacancy and the panel's scorecards per candidacy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "panel_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vacancy", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("chair", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_panel_members_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["vacancy"], ["vacancies.code"], name=op.f("fk_panel_members_vacancy_vacancies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_members")),
        sa.UniqueConstraint("vacancy", "user_id", name=op.f("uq_panel_members_vacancy")),
    )
    op.create_index(op.f("ix_panel_members_vacancy"), "panel_members", ["vacancy"], unique=False)
    op.create_table(
        "scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidacy_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidacy_id"],
            ["candidacies.id"],
            name=op.f("fk_scorecards_candidacy_id_candidacies"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scorecards_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecards")),
    )
    op.create_index(
        op.f("ix_scorecards_candidacy_id"), "scorecards", ["candidacy_id"], unique=False
    )
    op.create_index(
        "uq_scorecards_live",
        "scorecards",
        ["candidacy_id", "user_id", "kind"],
        unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"),
        postgresql_where=sa.text("superseded_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_scorecards_live", table_name="scorecards")
    op.drop_index(op.f("ix_scorecards_candidacy_id"), table_name="scorecards")
    op.drop_table("scorecards")
    op.drop_index(op.f("ix_panel_members_vacancy"), table_name="panel_members")
    op.drop_table("panel_members")
