"""The export document: a user's conversations as JSON-ready data, and such a document
added back under a user as new conversations.

`python -m chat export` and `import` write and read it as a file (chat/ops/export.py); the
chat's sidebar offers the same document through the service (`ChatService.export`).

A conversation is its record (chat/domain/records.py) without its user, whom the document
names once, plus when it was last active and its messages. A message is its record's
fields (a prompt's row has a reply's columns too), its role, and what only the log knows
of it: its feedback, whether it is off the branch shown, its parent (chat/domain/versions.py)
as its place in the conversation's list of messages, and a prompt's files by name and digest (their
contents once each, in the document's `files`: chat/db/document_files.py). Fields added after version 1 first
shipped are read with their defaults (a file without parents gets them from its order), so
older files still import; keys this Parley does not know (from a later Parley, or a hand)
are ignored, so one added field does not fail the whole file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from chat.db import store
from chat.db.document_files import attach_files, files_document, message_files, take_files
from chat.db.tables import Conversation, Message, new_id
from chat.domain.records import ConversationRecord, ReplyRecord, from_json, parse_time, to_json, values
from chat.domain.versions import parents_from_order
from chat.errors import InputError

FORMAT = "parley.conversations"
VERSION = 1
ROLES = ("user", "assistant")
FEEDBACK = (0, 1)  # a reply's thumbs, down or up (null: not rated)

_Row = TypeVar("_Row", Conversation, Message)


def user_export(sessions: sessionmaker[Session], username: str, conversation_id: str | None = None) -> dict[str, Any]:
    """All of `username`'s conversations (or just one), oldest first, as an export document."""
    with sessions() as session:
        if conversation_id is None:
            conversations = list(reversed(store.list_conversations(session, username, limit=1_000_000)))
        else:
            one = store.get_conversation(session, conversation_id, username)
            conversations = [one] if one is not None else []
        messages = [store.conversation_messages(session, c.id, username, with_superseded=True) for c in conversations]
        records = [conversation_document(c, rows) for c, rows in zip(conversations, messages, strict=True)]
        contents = files_document(session, username, (row for rows in messages for row in rows))
    return {"format": FORMAT, "version": VERSION, "user": username, "conversations": records, "files": contents}


def conversation_document(conversation: Conversation, messages: Sequence[Message]) -> dict[str, Any]:
    fields = to_json(store.conversation_record(conversation))
    del fields["username"]  # the document's `user`
    position = {message.id: index for index, message in enumerate(messages)}
    return {
        **fields,
        "updated_at": _time(conversation.updated_at),
        "messages": [
            {
                "role": message.role,
                **to_json(store.record_of(message)),
                "feedback": message.feedback,
                "superseded": message.superseded,
                # Its parent's place in this list (ids are the log's own, never kept by an import).
                "parent": position.get(message.parent_id) if message.parent_id is not None else None,
                "chosen_at": _time(message.chosen_at),
                "updated_at": _time(message.updated_at),
                "files": message_files(message),  # by digest: the contents are the document's `files`
            }
            for message in messages
        ],
    }


def import_document(sessions: sessionmaker[Session], document: dict[str, Any], username: str) -> list[str]:
    """Add the document's conversations to `username` as new ones. Returns their new ids."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError("This file is not a Parley conversations export.")
    version = document.get("version")
    if type(version) is not int or version != VERSION:  # "1" or true is not version 1 either
        said = "has no version" if version is None else f"is version {version!r}"
        raise InputError(f"This export {said}; this Parley reads version {VERSION}.")
    created: list[str] = []
    try:
        with sessions.begin() as session:
            taken = take_files(session, username, document.get("files"))
            for item in document["conversations"]:
                # A new conversation of `username`: neither the file's id nor its user is kept.
                record = from_json(
                    ConversationRecord, {**item, "id": new_id(), "username": username}, ignore_unknown=True
                )
                record = replace(record, title=store.fitted_title(record.title))
                updated_at = parse_time(item["updated_at"])
                _check(Conversation(**values(record), updated_at=updated_at))
                conversation = store.create_conversation(session, record, updated_at=updated_at)
                rows = [_check(_message(conversation, message)) for message in item["messages"]]
                session.add_all(rows)
                session.flush()  # the rows' ids, for their parents
                for row, parent in zip(rows, _parents(item["messages"]), strict=True):
                    row.parent_id = rows[parent].id if parent is not None else None
                attach_files(session, username, rows, item["messages"], taken)
                created.append(conversation.id)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(
            f"The export file is damaged ({type(error).__name__}: {error}); nothing was imported."
        ) from None
    return created


def _message(conversation: Conversation, item: dict[str, Any]) -> Message:
    """One exported message as a row of `conversation`."""
    reply = from_json(ReplyRecord, item, ignore_unknown=True)  # role, feedback, ...: the log's own, below
    updated_at = item.get("updated_at")
    role, feedback, superseded = item["role"], item.get("feedback"), item.get("superseded", False)
    if role not in ROLES:
        raise ValueError(f"a message's role is one of {', '.join(ROLES)}, not {str(role)[:40]!r}")
    if feedback is not None and (type(feedback) is not int or feedback not in FEEDBACK):
        raise ValueError(f"a reply's feedback is 1, 0 or null, not {str(feedback)[:40]!r}")
    if type(superseded) is not bool:
        raise TypeError(f"superseded is true or false, not {type(superseded).__name__}")
    chosen_at = item.get("chosen_at")
    return Message(
        conversation_id=conversation.id,
        username=conversation.username,
        role=role,
        feedback=feedback,
        superseded=superseded,
        chosen_at=parse_time(chosen_at) if chosen_at is not None else None,
        updated_at=parse_time(updated_at) if updated_at is not None else reply.finished_at or reply.created_at,
        **values(reply),
    )


def _parents(messages: Sequence[dict[str, Any]]) -> list[int | None]:
    """Each message's parent as a place in `messages`: the file's, checked, or for a file written
    before versions (no parents), from the order (chat/domain/versions.py)."""
    if not any("parent" in message for message in messages):
        found = parents_from_order([(i, m["role"], m.get("superseded", False)) for i, m in enumerate(messages)])
        return [found[i] for i in range(len(messages))]
    parents: list[int | None] = []
    branch_end: int | None = None
    for index, message in enumerate(messages):
        parent = message.get("parent")
        if parent is not None and (type(parent) is not int or not 0 <= parent < index):
            raise ValueError(f"a message's parent is the place of an earlier message, not {str(parent)[:40]!r}")
        if message["role"] == "assistant" and (parent is None or messages[parent]["role"] != "user"):
            raise ValueError("a reply's parent is its prompt")
        if message["role"] == "user" and parent is not None and messages[parent]["role"] != "assistant":
            raise ValueError("a prompt's parent is the reply before it")
        if not message.get("superseded", False):
            if parent != branch_end:
                raise ValueError("the messages shown do not follow one another")
            branch_end = index
        parents.append(parent)
    return parents


def _check(row: _Row) -> _Row:
    """A null where the log wants a value refused, not taken in silence: a column's default
    would stand in for it (a reply without a status would read as complete)."""
    for column in row.__table__.columns:
        if getattr(row, column.key) is None and not column.nullable and not column.primary_key:
            raise ValueError(f"{column.key} is null")
    return row


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
