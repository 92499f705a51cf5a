"""The schema of Parley's first migrated release (what `create_all` and the search index made before).

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Full-text search is made here by DDL, not by the models: SQLite's FTS5 table with
its triggers; PostgreSQL's `parley_search` configuration, `parley_search_vector`
function and stored generated column with its GIN index (see chat/db/search.py).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    _conversations()
    _messages()
    _auth_sessions()
    _login_failures()
    _audit_events()

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_search()
    elif dialect == "postgresql":
        _postgres_search()


def _conversations() -> None:
    """Conversations, one row per chat, owned by a username."""
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_conversations_owner_recent", "conversations", ["username", "updated_at"])
    op.create_index("ix_conversations_username", "conversations", ["username"])


def _messages() -> None:
    """Prompts and replies; a reply row is written as it streams and finished once."""
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("feedback", sa.Integer(), nullable=True),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("context_tokens", sa.Integer(), nullable=True),
        sa.Column("context_left_out", sa.Integer(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("usage_estimated", sa.Boolean(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("owner", sa.String(300), nullable=True),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    op.create_index("ix_messages_status_updated", "messages", ["status", "updated_at"])
    op.create_index("ix_messages_username", "messages", ["username"])


def _auth_sessions() -> None:
    """Server-side sign-in sessions (the cookie holds a token whose hash is the key)."""
    op.create_table(
        "auth_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_mark", sa.String(16), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_auth_sessions_username", "auth_sessions", ["username"])


def _login_failures() -> None:
    """Failed sign-ins, for the throttle."""
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username_key", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])
    op.create_index("ix_login_failures_key", "login_failures", ["username_key", "address", "failed_at"])


def _audit_events() -> None:
    """What admins did (the audited reader, user changes)."""
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS messages_fts")  # its triggers go with `messages`
    for table in ("audit_events", "login_failures", "auth_sessions", "messages", "conversations"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS parley_search_vector(text)")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS parley_search")


# --- full-text search ------------------------------------------------------------------


def _sqlite_search() -> None:
    # An external-content FTS5 table over messages.content, kept in step by triggers.
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id',"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
        " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END"
    )
    op.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
        " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END"
    )


# Token types of PostgreSQL's default parser that carry words (the rest is blanks and
# the URL/e-mail/number kinds that the punctuation rewrite leaves no room for).
_PG_WORD_TOKENS = "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart"
# ASCII punctuation as a character class of plain code points (no dependence on the
# database's locale): turned into spaces so that PostgreSQL splits words as FTS5 does.
_PG_PUNCTUATION = r"[!-/:-@\[-`{-~]+"


def _postgres_search() -> None:
    bind = op.get_bind()
    op.execute("CREATE TEXT SEARCH CONFIGURATION parley_search (COPY = simple)")
    if _unaccent_available(bind):
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION parley_search ALTER MAPPING FOR {_PG_WORD_TOKENS} WITH unaccent, simple"
        )
    else:
        log.warning("PostgreSQL's unaccent extension is missing: search will tell accented letters apart")
    # Immutable, so a generated column can use it. Named with its schema: a restore
    # (pg_restore runs with an empty search_path) recomputes the column and must find it.
    schema = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one()
    op.execute(
        "CREATE FUNCTION parley_search_vector(content text) RETURNS tsvector"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
        f" $$ SELECT pg_catalog.to_tsvector('{schema}.parley_search'::regconfig,"
        f" pg_catalog.regexp_replace(content, '{_PG_PUNCTUATION}', ' ', 'g')) $$"
    )
    # Stored, not only indexed: the index's matches are rechecked against the vector,
    # and recomputing it per match took seconds over 100,000 messages.
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector"
        " GENERATED ALWAYS AS (parley_search_vector(content)) STORED"
    )
    op.execute("CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)")


def _unaccent_available(bind: sa.Connection) -> bool:
    try:
        with bind.begin_nested():  # a failure must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        return True
    except Exception:  # noqa: BLE001 - not installed, or not allowed: search works without it
        log.debug("CREATE EXTENSION unaccent failed", exc_info=True)
        return False
