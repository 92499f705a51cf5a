"""Versions of a message: each message's parent, and when a version was last chosen (issue 20).

The parents of the rows already there follow from their order and `superseded`
(`chat.domain.versions.parents_from_order`, which an export without parents uses too).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa
from alembic import op

from chat.domain.versions import parents_from_order

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000  # rows updated per statement


def upgrade() -> None:
    op.add_column("messages", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("chosen_at", sa.DateTime(), nullable=True))
    messages = sa.table(
        "messages",
        sa.column("id", sa.Integer),
        sa.column("conversation_id", sa.String),
        sa.column("role", sa.String),
        sa.column("superseded", sa.Boolean),
        sa.column("parent_id", sa.Integer),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(messages.c.conversation_id, messages.c.id, messages.c.role, messages.c.superseded).order_by(
            messages.c.conversation_id, messages.c.id
        )
    ).all()
    parents: list[dict[str, int]] = []
    for _, group in itertools.groupby(rows, key=lambda row: row.conversation_id):
        found = parents_from_order([(row.id, row.role, bool(row.superseded)) for row in group])
        parents.extend({"row_id": id_, "parent": parent} for id_, parent in found.items() if parent is not None)
    update = messages.update().where(messages.c.id == sa.bindparam("row_id")).values(parent_id=sa.bindparam("parent"))
    for start in range(0, len(parents), BATCH):
        connection.execute(update, parents[start : start + BATCH])


def downgrade() -> None:
    op.drop_column("messages", "chosen_at")
    op.drop_column("messages", "parent_id")
