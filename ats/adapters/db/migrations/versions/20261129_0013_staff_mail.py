"""Mail to staff: a user's address, and outbox messages addressed to a user.

Panel members receive the interview invitation (with its calendar file) and
approvers the reminder of an offer waiting for them. Both columns are nullable:
no row is rewritten, a user without an address simply gets no mail, and a
message without a recipient user is the candidate's, as before. Users are
disabled, never deleted, so the recipient needs no foreign key.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(length=320), nullable=True))
    op.add_column("outbox_messages", sa.Column("recipient_user_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox_messages", "recipient_user_id")
    op.drop_column("users", "email")
