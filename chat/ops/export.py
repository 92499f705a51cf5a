"""Take conversations out of Parley and back in.

`export` writes one user's conversations as JSON (every field of every message, so
an import loses nothing) or one conversation as Markdown (for reading). `import`
reads such a JSON file back under a user, as new conversations:

    python -m chat export --user alice [--out alice.json]
    python -m chat import alice.json --user alice
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat.accounts.authfile import normalise_username
from chat.db import store
from chat.db.tables import Conversation, Message
from chat.domain.records import ReplyRecord, from_json, parse_time, to_json, values
from chat.domain.text import storable
from chat.errors import InputError

FORMAT = "parley.conversations"
VERSION = 1
# A message is its record's fields (chat/domain/records.py; a prompt's row has a reply's
# columns too), its role, and what only the log knows of it. Fields added to the record
# after version 1 first shipped are read with their defaults, so older files still import.
_LOG_FIELDS = ("role", "feedback", "superseded", "updated_at")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def conversation_record(conversation: Conversation, messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "temperature": conversation.temperature,
        "created_at": _time(conversation.created_at),
        "updated_at": _time(conversation.updated_at),
        "messages": [
            {
                "role": message.role,
                **to_json(store.record_of(message)),
                "feedback": message.feedback,
                "superseded": message.superseded,
                "updated_at": _time(message.updated_at),
            }
            for message in messages
        ],
    }


def export_document(records: list[dict[str, Any]], username: str) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "user": username, "conversations": records}


def user_export(sessions: sessionmaker[Session], username: str, conversation_id: str | None = None) -> dict[str, Any]:
    """All of `username`'s conversations (or just one), oldest first, as an export document."""
    with sessions() as session:
        if conversation_id is None:
            conversations = list(reversed(store.list_conversations(session, username, limit=1_000_000)))
        else:
            one = store.get_conversation(session, conversation_id, username)
            conversations = [one] if one is not None else []
        records = [
            conversation_record(c, store.conversation_messages(session, c.id, username, with_superseded=True))
            for c in conversations
        ]
    return export_document(records, username)


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
        if message["role"] == "assistant" and message["status"] != "complete":
            ending = message["error_message"] or message["status"]
            lines += ["", f"*Ended early: {ending}*"]
    return "\n".join(lines) + "\n"


def import_document(sessions: sessionmaker[Session], document: dict[str, Any], username: str) -> list[str]:
    """Add the document's conversations to `username` as new ones. Returns their new ids."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError("This file is not a Parley conversations export.")
    if document.get("version") != VERSION:
        raise InputError(f"This export is version {document.get('version')}; this Parley reads version {VERSION}.")
    created: list[str] = []
    try:
        with sessions.begin() as session:
            for record in document["conversations"]:
                conversation = Conversation(
                    username=username,
                    title=_text(record["title"]),
                    model=_text(record["model"]),
                    system_prompt=_text(record["system_prompt"]),
                    temperature=record["temperature"],
                    created_at=parse_time(record["created_at"]),
                    updated_at=parse_time(record["updated_at"]),
                )
                session.add(conversation)
                session.flush()
                for item in record["messages"]:
                    session.add(_message(conversation, item))
                created.append(conversation.id)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"The export file is damaged ({type(error).__name__}: {error}); nothing was imported."
        ) from None
    return created


def _message(conversation: Conversation, item: dict[str, Any]) -> Message:
    """One exported message as a row of `conversation`."""
    reply = from_json(ReplyRecord, {name: value for name, value in item.items() if name not in _LOG_FIELDS})
    updated_at = item.get("updated_at")
    return Message(
        conversation_id=conversation.id,
        username=conversation.username,
        role=_text(item["role"]),
        feedback=item.get("feedback"),
        superseded=bool(item.get("superseded", False)),
        updated_at=parse_time(updated_at) if updated_at is not None else reply.finished_at or reply.created_at,
        **values(reply),
    )


def _text(value: Any) -> Any:
    """A JSON file may spell a NUL or a lone surrogate (`"\\u0000"`, `"\\ud800"`): stored as
    U+FFFD on every engine, like any other text entering Parley (chat/domain/text.py)."""
    return storable(value) if isinstance(value, str) else value


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
