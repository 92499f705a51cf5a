"""Records of the spool file already written to the log (chat/db/spool.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spooled_writes",
        sa.Column("record_id", sa.String(32), primary_key=True),
        sa.Column("written_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("spooled_writes")
