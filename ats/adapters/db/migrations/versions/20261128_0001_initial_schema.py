"""Initial schema: drive catalogue, workflow versions, candidates, candidacies, audit.

Audit entries are append-only: the database itself refuses UPDATE and DELETE.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 16:06:55.614171
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint("email", name=op.f("uq_candidates_email")),
        sa.UniqueConstraint("key", name=op.f("uq_candidates_key")),
    )
    op.create_table(
        "job_functions",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_job_functions")),
    )
    op.create_table(
        "services",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("short", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_services")),
    )
    op.create_table(
        "waves",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_waves")),
    )
    op.create_table(
        "workflow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_versions")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_workflow_versions_content_hash")),
        sa.UniqueConstraint("name", "number", name=op.f("uq_workflow_versions_name")),
    )
    op.create_table(
        "vacancies",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("job_function", sa.String(length=64), nullable=False),
        sa.Column("wave", sa.String(length=16), nullable=False),
        sa.Column("track", sa.String(length=64), nullable=True),
        sa.Column("target", sa.Integer(), nullable=True),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_function"],
            ["job_functions.code"],
            name=op.f("fk_vacancies_job_function_job_functions"),
        ),
        sa.ForeignKeyConstraint(
            ["service"], ["services.code"], name=op.f("fk_vacancies_service_services")
        ),
        sa.ForeignKeyConstraint(["wave"], ["waves.code"], name=op.f("fk_vacancies_wave_waves")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_vacancies")),
    )
    op.create_table(
        "candidacies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("vacancy", sa.String(length=32), nullable=False),
        sa.Column("workflow_version_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("audit_head", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidates.id"], name=op.f("fk_candidacies_candidate_id_candidates")
        ),
        sa.ForeignKeyConstraint(
            ["vacancy"], ["vacancies.code"], name=op.f("fk_candidacies_vacancy_vacancies")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_version_id"],
            ["workflow_versions.id"],
            name=op.f("fk_candidacies_workflow_version_id_workflow_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidacies")),
        sa.UniqueConstraint("candidate_id", "vacancy", name=op.f("uq_candidacies_candidate_id")),
    )
    with op.batch_alter_table("candidacies", schema=None) as batch_op:
        batch_op.create_index("ix_candidacies_vacancy_state", ["vacancy", "state"], unique=False)

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidacy_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("candidate_key", sa.String(length=32), nullable=False),
        sa.Column("vacancy", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("src", sa.String(length=64), nullable=True),
        sa.Column("dst", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("workflow_version_id", sa.Integer(), nullable=False),
        sa.Column("workflow_hash", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("process", sa.String(length=128), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidacy_id"],
            ["candidacies.id"],
            name=op.f("fk_audit_entries_candidacy_id_candidacies"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_version_id"],
            ["workflow_versions.id"],
            name=op.f("fk_audit_entries_workflow_version_id_workflow_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("candidacy_id", "seq", name=op.f("uq_audit_entries_candidacy_id")),
    )

    _audit_append_only()


def _audit_append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_change ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_append_only()")

    op.drop_table("audit_entries")
    with op.batch_alter_table("candidacies", schema=None) as batch_op:
        batch_op.drop_index("ix_candidacies_vacancy_state")

    op.drop_table("candidacies")
    op.drop_table("vacancies")
    op.drop_table("workflow_versions")
    op.drop_table("waves")
    op.drop_table("services")
    op.drop_table("job_functions")
    op.drop_table("candidates")
