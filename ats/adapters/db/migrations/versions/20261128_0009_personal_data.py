"""Personal data: retention, legal holds, sealed audit texts, duplicate links.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 22:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ats.domain.people import normalised_email

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): nullable columns, so no row is rewritten.
    op.add_column("candidates", sa.Column("birth_date", sa.Date(), nullable=True))
    op.add_column("candidates", sa.Column("email_key", sa.String(length=320), nullable=True))
    op.create_index("ix_candidates_birth_date", "candidates", ["birth_date"], unique=False)
    op.create_index(op.f("ix_candidates_email_key"), "candidates", ["email_key"], unique=False)
    candidates = sa.table(
        "candidates",
        sa.column("id", sa.Integer()),
        sa.column("email", sa.String()),
        sa.column("email_key", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(candidates.c.id, candidates.c.email)).all()
    if rows:
        connection.execute(
            candidates.update()
            .where(candidates.c.id == sa.bindparam("row_id"))
            .values(email_key=sa.bindparam("key")),
            [{"row_id": row.id, "key": normalised_email(row.email)} for row in rows],
        )
    op.add_column(
        "candidates", sa.Column("pool_consent_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("candidates", sa.Column("merged_into", sa.Integer(), nullable=True))
    op.add_column("candidates", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("candidacies", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("candidacies", sa.Column("hold_reason", sa.Text(), nullable=True))
    op.create_table(
        "audit_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidates.id"], name=op.f("fk_audit_texts_candidate_id_candidates")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["audit_entries.id"], name=op.f("fk_audit_texts_entry_id_audit_entries")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["audit_events.id"], name=op.f("fk_audit_texts_event_id_audit_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_texts")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_texts_entry_id")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_texts_event_id")),
    )
    op.create_index(
        op.f("ix_audit_texts_candidate_id"), "audit_texts", ["candidate_id"], unique=False
    )
    op.create_table(
        "candidate_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_candidate_links_candidate_id_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["candidates.id"], name=op.f("fk_candidate_links_other_id_candidates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_links")),
        sa.UniqueConstraint(
            "candidate_id", "other_id", name=op.f("uq_candidate_links_candidate_id")
        ),
    )
    op.create_index(
        op.f("ix_candidate_links_candidate_id"), "candidate_links", ["candidate_id"], unique=False
    )
    op.create_index(
        op.f("ix_candidate_links_other_id"), "candidate_links", ["other_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_candidate_links_other_id"), table_name="candidate_links")
    op.drop_index(op.f("ix_candidate_links_candidate_id"), table_name="candidate_links")
    op.drop_table("candidate_links")
    op.drop_index(op.f("ix_audit_texts_candidate_id"), table_name="audit_texts")
    op.drop_table("audit_texts")
    with op.batch_alter_table("candidacies") as batch_op:
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("held_at")
    op.drop_index(op.f("ix_candidates_email_key"), table_name="candidates")
    op.drop_index("ix_candidates_birth_date", table_name="candidates")
    with op.batch_alter_table("candidates") as batch_op:
        batch_op.drop_column("email_key")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("merged_into")
        batch_op.drop_column("pool_consent_at")
        batch_op.drop_column("birth_date")
