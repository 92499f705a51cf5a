"""Attachments (issue 22): files' contents, kept once per user, and the files attached to prompts;
a document's text searchable as messages are (chat/db/search.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# A document's first characters are searched, on both engines alike: PostgreSQL's tsvector must stay
# under 1 MB, which 2 million characters of distinct words (a log, a CSV of ids) would break.
SEARCHED = 100_000


def upgrade() -> None:
    op.create_table(
        "file_contents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("username", "digest", name="uq_file_contents_owner_digest"),
    )
    op.create_index("ix_file_contents_created_at", "file_contents", ["created_at"])
    op.create_table(
        "message_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("content_id", sa.Integer(), sa.ForeignKey("file_contents.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_index("ix_message_files_message_id", "message_files", ["message_id"])
    op.create_index("ix_message_files_content_id", "message_files", ["content_id"])
    op.add_column("messages", sa.Column("notices", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # As messages_fts (0001): an external-content FTS5 table, kept in step by triggers (a
        # content's text never changes, so there is no update trigger).
        op.execute(
            "CREATE VIRTUAL TABLE file_contents_fts USING fts5(text, content='file_contents', content_rowid='id',"
            " tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER file_contents_fts_insert AFTER INSERT ON file_contents BEGIN"
            f" INSERT INTO file_contents_fts(rowid, text) VALUES (new.id, substr(new.text, 1, {SEARCHED})); END"
        )
        op.execute(
            "CREATE TRIGGER file_contents_fts_delete AFTER DELETE ON file_contents BEGIN"
            " INSERT INTO file_contents_fts(file_contents_fts, rowid, text)"
            f" VALUES ('delete', old.id, substr(old.text, 1, {SEARCHED})); END"
        )
    else:
        # As messages.search_vector (0001), with 0001's `parley_search_vector`.
        op.execute(
            "ALTER TABLE file_contents ADD COLUMN search_vector tsvector"
            f" GENERATED ALWAYS AS (parley_search_vector(left(coalesce(text, ''), {SEARCHED}))) STORED"
        )
        op.execute("CREATE INDEX ix_file_contents_search_vector ON file_contents USING gin (search_vector)")


def downgrade() -> None:
    op.drop_column("messages", "notices")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS file_contents_fts")  # its triggers go with `file_contents`
    op.drop_index("ix_message_files_content_id", table_name="message_files")
    op.drop_index("ix_message_files_message_id", table_name="message_files")
    op.drop_table("message_files")
    op.drop_index("ix_file_contents_created_at", table_name="file_contents")
    op.drop_table("file_contents")
