"""Take conversations out of Parley and back in.

`export` writes one user's conversations as JSON (every field of every message, so
an import loses nothing) or one conversation as Markdown (for reading). `import`
reads such a JSON file back under a user, as new conversations. The document itself, both
ways, is chat/db/documents.py; here are its file and its Markdown:

    python -m chat export --user alice [--out alice.json]
    python -m chat import alice.json --user alice
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat.accounts.authfile import normalise_username
from chat.db.documents import import_document, user_export
from chat.errors import InputError


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


def as_markdown(record: dict[str, Any]) -> str:
    """One conversation for reading: a title, its settings, then each message of its
    current branch (earlier attempts are in the JSON export)."""
    lines = [f"# {record['title'] or 'Untitled'}", ""]
    lines.append(f"*Model: {record['model']} · started {record['created_at']}*")
    if record["system_prompt"]:
        lines += ["", f"> System prompt: {record['system_prompt']}"]
    for message in record["messages"]:
        if message.get("superseded"):
            continue
        who = "You" if message["role"] == "user" else "Assistant"
        lines += ["", f"## {who}", "", message["content"] or "*(no text)*"]
        if message.get("files"):
            lines += ["", "*Attached: " + ", ".join(str(file["name"]) for file in message["files"]) + "*"]
        if message["role"] == "assistant" and message["status"] != "complete":
            ending = message["error_message"] or message["status"]
            lines += ["", f"*Ended early: {ending}*"]
    return "\n".join(lines) + "\n"


# --- what `python -m chat export` and `import` do -----------------------------------------


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on the database DATABASE_URL names, migrated first as at start."""
    from chat.db.engine import init_db, make_engine, session_factory
    from chat.settings import Settings

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        init_db(engine, apply_migrations=settings.auto_migrate)
        yield session_factory(engine)
    finally:
        engine.dispose()


def export_user(username: str) -> str:
    """All of a user's conversations, as the JSON an import reads back."""
    username = normalise_username(username)
    with _sessions() as sessions:
        return as_json(user_export(sessions, username))


def import_file(path: Path, username: str) -> str:
    """Read an export back in as new conversations of `username`; the line to print."""
    username = normalise_username(username)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"Cannot read {path}: {error}") from None
    with _sessions() as sessions:
        ids = import_document(sessions, document, username)
    return f"Imported {len(ids)} conversation(s) for {username}."
