"""Sign-in attempts in flight, and per-address turns for password spraying (issue 15).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows already there are failures whose outcome is known.
    op.add_column("login_failures", sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index("ix_login_failures_address", "login_failures", ["address", "failed_at"])
    op.create_table(
        "login_addresses",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("next_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_login_addresses_next_at", "login_addresses", ["next_at"])


def downgrade() -> None:
    op.drop_index("ix_login_addresses_next_at", table_name="login_addresses")
    op.drop_table("login_addresses")
    op.drop_index("ix_login_failures_address", table_name="login_failures")
    op.drop_column("login_failures", "pending")
