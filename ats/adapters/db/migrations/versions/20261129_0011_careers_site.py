"""The public careers site: vacancy content and dates, uploaded CVs, form-post counts.

Vacancy content (descriptions, requirements, places, closing dates) comes from
config/hiring-drive.yaml like the rest of the catalogue; every new column is
nullable, so no row is rewritten and `ats init` fills them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("services", sa.Column("url", sa.String(length=200), nullable=True))
    op.add_column("services", sa.Column("address", sa.JSON(), nullable=True))
    op.add_column("job_functions", sa.Column("description", sa.JSON(), nullable=True))
    op.add_column("job_functions", sa.Column("requirements", sa.JSON(), nullable=True))
    op.add_column("waves", sa.Column("closes_on", sa.Date(), nullable=True))
    op.add_column("vacancies", sa.Column("opens_on", sa.Date(), nullable=True))
    op.add_column("vacancies", sa.Column("closes_on", sa.Date(), nullable=True))
    op.add_column("vacancies", sa.Column("place", sa.JSON(), nullable=True))
    op.add_column("vacancies", sa.Column("employment_type", sa.String(length=16), nullable=True))
    op.add_column("vacancies", sa.Column("description", sa.JSON(), nullable=True))
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidacy_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidacy_id"],
            ["candidacies.id"],
            name=op.f("fk_documents_candidacy_id_candidacies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_documents_stored_name")),
    )
    op.create_index(op.f("ix_documents_candidacy_id"), "documents", ["candidacy_id"], unique=False)
    op.create_table(
        "form_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_posts")),
    )
    op.create_index(
        "ix_form_posts_form_address_at", "form_posts", ["form", "address", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_form_posts_form_address_at", table_name="form_posts")
    op.drop_table("form_posts")
    op.drop_index(op.f("ix_documents_candidacy_id"), table_name="documents")
    op.drop_table("documents")
    with op.batch_alter_table("vacancies") as batch:
        for column in ("description", "employment_type", "place", "closes_on", "opens_on"):
            batch.drop_column(column)
    with op.batch_alter_table("waves") as batch:
        batch.drop_column("closes_on")
    with op.batch_alter_table("job_functions") as batch:
        batch.drop_column("requirements")
        batch.drop_column("description")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("address")
        batch.drop_column("url")
