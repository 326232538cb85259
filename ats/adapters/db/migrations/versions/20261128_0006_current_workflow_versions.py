"""The current version of each workflow: reverting a file makes its older version current again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 17:33:25.771851
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "workflow_current",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["workflow_versions.id"],
            name=op.f("fk_workflow_current_version_id_workflow_versions"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workflow_current")),
    )


def downgrade() -> None:

    op.drop_table("workflow_current")
