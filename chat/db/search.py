"""Full-text search over a user's messages, with one meaning on both engines.

Every word of the query must match a word of the message, case- and
accent-insensitively, the last one as a prefix; results come newest first with a
snippet that marks the matching words. The index is made by the first migration
(chat/db/migrations/versions/0001_initial.py):

- SQLite: an FTS5 table (external content, kept in step by triggers) with the
  `unicode61 remove_diacritics 2` tokenizer.
- PostgreSQL: a stored, GIN-indexed `tsvector` column made with a text search configuration
  that unaccents, then lowercases without stemming or stop words (`simple`). ASCII
  punctuation is turned into spaces first, so that PostgreSQL's parser splits
  text into words as FTS5 does (it would otherwise keep `example.com`, `a@b.org`
  or `1.2.3` as one token, and a search for `example` would miss them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from chat.domain.times import as_utc

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


# --- the query ----------------------------------------------------------------------


def search_messages(session: Session, username: str, text: str, *, limit: int = 50) -> list[SearchHit]:
    """The user's messages in conversations they have not deleted that match `text`,
    newest first; attempts replaced by a regenerated reply or an edited prompt are left out."""
    words = query_words(text)
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = [*_postgres_rows(session, username, words, limit), *_postgres_file_rows(session, username, words, limit)]
    else:
        rows = [*_sqlite_rows(session, username, words, limit), *_sqlite_file_rows(session, username, words, limit)]
    # A prompt found by its text and by a file's, or by two files: once, by its own words if it has them.
    best: dict[int, Row[Any]] = {}
    for row in sorted(rows, key=lambda row: (-row.id, getattr(row, "name", None) is not None)):
        best.setdefault(row.id, row)
    rows = list(best.values())[:limit]
    return [
        SearchHit(
            conversation_id=row.conversation_id,
            conversation_title=row.title or "Untitled",
            message_id=row.id,
            role=row.role,
            snippet=f"{row.name}: {row.snippet}" if getattr(row, "name", None) else row.snippet,
            created_at=as_utc(row.created_at),  # raw SQL: no UTCDateTime to do it
        )
        for row in rows
    ]


def _fts5_query(words: list[str]) -> str:
    return " ".join(f'"{word}"' for word in words) + "*"


def _tsquery(words: list[str]) -> str:
    # Words are letters and digits only, so quoting them makes a safe tsquery.
    return " & ".join(f"'{word}'" for word in words) + ":*"


_HEADLINE = f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_END}, MaxWords={SNIPPET_WORDS}, MinWords=5, ShortWord=0"


def _sqlite_rows(session: Session, username: str, words: list[str], limit: int) -> Sequence[Row[Any]]:
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
        {"query": _fts5_query(words), "username": username, "limit": limit},
    ).all()


def _postgres_rows(session: Session, username: str, words: list[str], limit: int) -> Sequence[Row[Any]]:
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
        {"query": _tsquery(words), "username": username, "limit": limit, "options": _HEADLINE},
    ).all()


# --- a prompt's files: found by the text of an attached document ---------------------------


def _sqlite_file_rows(session: Session, username: str, words: list[str], limit: int) -> Sequence[Row[Any]]:
    return session.execute(
        sql_text(
            "SELECT m.id, m.role, m.created_at, c.id AS conversation_id, c.title, mf.name,"
            f" snippet(file_contents_fts, 0, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', {SNIPPET_WORDS}) AS snippet"
            " FROM file_contents_fts JOIN file_contents f ON f.id = file_contents_fts.rowid"
            " JOIN message_files mf ON mf.content_id = f.id JOIN messages m ON m.id = mf.message_id"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE file_contents_fts MATCH :query AND f.username = :username AND c.username = :username"
            " AND c.deleted_at IS NULL AND NOT m.superseded"
            " ORDER BY m.id DESC LIMIT :limit"
        ),
        {"query": _fts5_query(words), "username": username, "limit": limit},
    ).all()


def _postgres_file_rows(session: Session, username: str, words: list[str], limit: int) -> Sequence[Row[Any]]:
    return session.execute(
        sql_text(
            "SELECT hit.id, hit.role, hit.created_at, hit.conversation_id, hit.title, hit.name,"
            " ts_headline('parley_search', hit.text, to_tsquery('parley_search', :query), :options) AS snippet"
            " FROM (SELECT m.id, m.role, m.created_at, f.text, mf.name, c.id AS conversation_id, c.title"
            "  FROM file_contents f JOIN message_files mf ON mf.content_id = f.id"
            "  JOIN messages m ON m.id = mf.message_id JOIN conversations c ON c.id = m.conversation_id"
            "  WHERE f.search_vector @@ to_tsquery('parley_search', :query) AND f.username = :username"
            "  AND NOT m.superseded AND c.username = :username AND c.deleted_at IS NULL"
            "  ORDER BY m.id DESC LIMIT :limit) AS hit"
            " ORDER BY hit.id DESC"
        ),
        {"query": _tsquery(words), "username": username, "limit": limit, "options": _HEADLINE},
    ).all()
