"""Full-text search over a user's messages, with one meaning on both engines.

Every word of the query must match a word of the message, case- and
accent-insensitively, the last one as a prefix; results come newest first with a
snippet that marks the matching words.

- SQLite: an FTS5 table (external content, kept in step by triggers) with the
  `unicode61 remove_diacritics 2` tokenizer.
- PostgreSQL: a stored, GIN-indexed `tsvector` column made with a text search configuration
  that unaccents, then lowercases without stemming or stop words (`simple`). ASCII
  punctuation is turned into spaces first, so that PostgreSQL's parser splits
  text into words as FTS5 does (it would otherwise keep `example.com`, `a@b.org`
  or `1.2.3` as one token, and a search for `example` would miss them).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

HIGHLIGHT_START, HIGHLIGHT_END = "\ue000", "\ue001"  # private-use marks: never in real text
SNIPPET_WORDS = 16
# A word: letters and digits (any script). Underscores and punctuation separate words,
# as in FTS5's unicode61 tokenizer.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    conversation_title: str
    message_id: int
    role: str
    snippet: str  # the matching words between HIGHLIGHT_START and HIGHLIGHT_END
    created_at: datetime


def query_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


# --- the index ----------------------------------------------------------------------

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END",
)

# Token types of PostgreSQL's default parser that carry words (the rest is blanks and
# the URL/e-mail/number kinds that the punctuation rewrite leaves no room for).
_PG_WORD_TOKENS = "asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart"
_PG_LOCK = 0x7061726C6579  # "parley": serialises the DDL when two replicas start at once
# ASCII punctuation, as a character class; the ranges are plain code points, so the
# rewrite does not depend on the database's locale.
_PG_PUNCTUATION = r"[!-/:-@\[-`{-~]+"


def create_index(engine: Engine) -> None:
    """Create the engine's search index if it is missing (idempotent)."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            _create_sqlite_index(connection)
    elif engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            _create_postgres_index(connection)


def _create_sqlite_index(connection: Connection) -> None:
    exists = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages_fts'"
    ).first()
    if exists:
        return
    for statement in _SQLITE_DDL:
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def _create_postgres_index(connection: Connection) -> None:
    connection.execute(sql_text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    if connection.exec_driver_sql("SELECT 1 FROM pg_ts_config WHERE cfgname = 'parley_search'").first() is None:
        connection.exec_driver_sql("CREATE TEXT SEARCH CONFIGURATION parley_search (COPY = simple)")
        if _unaccent_available(connection):
            connection.exec_driver_sql(
                f"ALTER TEXT SEARCH CONFIGURATION parley_search ALTER MAPPING FOR {_PG_WORD_TOKENS}"
                " WITH unaccent, simple"
            )
        else:
            log.warning("PostgreSQL's unaccent extension is missing: search will tell accented letters apart")
    # Immutable, so a generated column can use it. The vector is stored, not just
    # indexed: the index's matches are rechecked against it, and recomputing it for
    # every match of a common word took seconds over 100,000 messages.
    # Named with its schema: a restore (pg_restore runs with an empty search_path)
    # recomputes the generated column and must find the configuration.
    schema = connection.exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one()
    connection.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION parley_search_vector(content text) RETURNS tsvector"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE AS"
        f" $$ SELECT pg_catalog.to_tsvector('{schema}.parley_search'::regconfig,"
        f" pg_catalog.regexp_replace(content, '{_PG_PUNCTUATION}', ' ', 'g')) $$"
    )
    connection.exec_driver_sql(
        "ALTER TABLE messages ADD COLUMN IF NOT EXISTS search_vector tsvector"
        " GENERATED ALWAYS AS (parley_search_vector(content)) STORED"
    )
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_messages_search_vector ON messages USING gin (search_vector)"
    )


def _unaccent_available(connection: Connection) -> bool:
    try:
        with connection.begin_nested():  # a failure must not abort the surrounding transaction
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        return True
    except Exception:  # noqa: BLE001 - not installed, or not allowed: search works without it
        log.debug("CREATE EXTENSION unaccent failed", exc_info=True)
        return False


# --- the query ----------------------------------------------------------------------


def search_messages(session: Session, username: str, text: str, *, limit: int = 50) -> list[SearchHit]:
    """The user's messages in conversations they have not deleted that match `text`,
    newest first; attempts replaced by a regenerated reply or an edited prompt are left out."""
    words = query_words(text)
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = _postgres_rows(session, username, words, limit)
    else:
        rows = _sqlite_rows(session, username, words, limit)
    return [
        SearchHit(
            conversation_id=row.conversation_id,
            conversation_title=row.title or "Untitled",
            message_id=row.id,
            role=row.role,
            snippet=row.snippet,
            created_at=_as_utc(row.created_at),
        )
        for row in rows
    ]


def _sqlite_rows(session: Session, username: str, words: list[str], limit: int):  # type: ignore[no-untyped-def]
    query = " ".join(f'"{word}"' for word in words) + "*"
    return session.execute(
        sql_text(
            "SELECT m.id, m.role, m.created_at, c.id AS conversation_id, c.title,"
            f" snippet(messages_fts, 0, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', {SNIPPET_WORDS}) AS snippet"
            " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE messages_fts MATCH :query AND c.username = :username AND c.deleted_at IS NULL"
            " AND NOT m.superseded"
            " ORDER BY messages_fts.rowid DESC LIMIT :limit"  # FTS5 walks its rowids newest first and stops early
        ),
        {"query": query, "username": username, "limit": limit},
    ).all()


def _postgres_rows(session: Session, username: str, words: list[str], limit: int):  # type: ignore[no-untyped-def]
    # Words are letters and digits only, so quoting them makes a safe tsquery.
    query = " & ".join(f"'{word}'" for word in words) + ":*"
    options = f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, MaxWords={SNIPPET_WORDS}, MinWords=5, ShortWord=0"
    return session.execute(
        sql_text(
            "SELECT hit.id, hit.role, hit.created_at, hit.conversation_id, hit.title,"
            " ts_headline('parley_search', hit.content, to_tsquery('parley_search', :query), :options) AS snippet"
            " FROM (SELECT m.id, m.role, m.created_at, m.content, c.id AS conversation_id, c.title"
            "  FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            "  WHERE m.search_vector @@ to_tsquery('parley_search', :query) AND NOT m.superseded"
            "  AND c.username = :username AND c.deleted_at IS NULL"
            "  ORDER BY m.id DESC LIMIT :limit) AS hit"
            " ORDER BY hit.id DESC"  # snippets only for the rows shown
        ),
        {"query": query, "username": username, "limit": limit, "options": options},
    ).all()


def _as_utc(value: object) -> datetime:
    """A raw-SQL time column as an aware UTC datetime (the ORM's UTCDateTime does this for mapped reads)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
