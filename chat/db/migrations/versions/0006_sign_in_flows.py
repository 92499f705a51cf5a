"""Sign-ins through an identity provider under way, shared by every replica (issue 21).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
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
        "sign_in_flows",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_path", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_sign_in_flows_created_at", "sign_in_flows", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_flows_created_at", table_name="sign_in_flows")
    op.drop_table("sign_in_flows")
