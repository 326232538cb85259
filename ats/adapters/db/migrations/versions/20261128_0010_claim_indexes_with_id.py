"""Claim indexes cover the whole claim order (due time, then id); a candidacy's mail is indexed.

The sweeper and the relay claim with ``ORDER BY due_at, id LIMIT 1``. With an
index on (status, due_at) alone, PostgreSQL sorts every row sharing the
earliest due time to find the lowest id: when a deadline falls for thousands
of candidacies at one instant, each claim sorted them all again (bench/timers.py
measured sweeps slowing as they went). With id in the index the first row is it.

Leaving a state with an invitation looks up the candidacy's earlier mail; without
an index on outbox_messages.candidacy_id that read the whole outbox, so a timer
cost more the more mail had ever been sent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 00:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_timers_status_due_at_id", "timers", ["status", "due_at", "id"], unique=False
    )
    op.drop_index("ix_timers_status_due_at", table_name="timers")
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at_id",
        "outbox_messages",
        ["status", "next_attempt_at", "id"],
        unique=False,
    )
    op.drop_index("ix_outbox_messages_status_next_attempt_at", table_name="outbox_messages")
    op.create_index(
        "ix_outbox_messages_candidacy_id", "outbox_messages", ["candidacy_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_candidacy_id", table_name="outbox_messages")
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at",
        "outbox_messages",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.drop_index("ix_outbox_messages_status_next_attempt_at_id", table_name="outbox_messages")
    op.create_index("ix_timers_status_due_at", "timers", ["status", "due_at"], unique=False)
    op.drop_index("ix_timers_status_due_at_id", table_name="timers")
