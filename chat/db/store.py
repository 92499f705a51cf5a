"""Queries over a `Session` the caller gives: the store never opens or commits one.

Keeping transactions in the caller's hands lets the service make each write short:
no transaction stays open while a reply streams.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.orm import Session, selectinload

from chat.db.attachments import as_attachment
from chat.db.tables import Conversation, Message, MessageFile, utcnow
from chat.db.versions import branch_end
from chat.domain.messages import ChatMessage
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord, field_names, values
from chat.domain.status import FINAL, ReplyStatus

log = logging.getLogger(__name__)

TITLE_LENGTH = 80  # a title made from a prompt's first words
TITLE_MAX = 200  # what the column holds (`conversations.title`)


def title_from_prompt(prompt: str) -> str:
    return _shortened(" ".join(prompt.split()), TITLE_LENGTH)


def fitted_title(title: str) -> str:
    """A title as the log can hold it: PostgreSQL refuses a longer one, where SQLite would keep it
    whole (an export file from elsewhere, or edited by hand, may carry one)."""
    return _shortened(title, TITLE_MAX)


def _shortened(line: str, length: int) -> str:
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"


def create_conversation(
    session: Session, conversation: ConversationRecord, *, updated_at: datetime | None = None
) -> Conversation:
    """The conversation's row, last active at `updated_at` (default: when it was created)."""
    row = Conversation(**values(conversation), updated_at=updated_at or conversation.created_at)
    session.add(row)
    session.flush()
    return row


def conversation_record(row: Conversation) -> ConversationRecord:
    return ConversationRecord(**{name: getattr(row, name) for name in field_names(ConversationRecord)})


def _owned(conversation_id: str, username: str) -> ColumnElement[bool]:
    """The one filter every user-facing query goes through: theirs, and not deleted."""
    return and_(
        Conversation.id == conversation_id,
        Conversation.username == username,
        Conversation.deleted_at.is_(None),
    )


def get_conversation(
    session: Session, conversation_id: str, username: str, *, for_update: bool = False
) -> Conversation | None:
    """The conversation if it exists, belongs to `username` and is not deleted; else None.

    Someone else's id and a deleted one look exactly like a missing one. `for_update`
    holds it until the transaction ends (`lock_conversation`), so two tabs changing it at
    once take turns."""
    if for_update:
        lock_conversation(session, conversation_id)
    return session.scalar(select(Conversation).where(_owned(conversation_id, username)))


def lock_conversation(session: Session, conversation_id: str) -> None:
    """Hold the conversation for this transaction, before it reads where its branch ends:
    PostgreSQL locks its row; SQLite, whose writer locks the whole file and which begins a
    transaction only at its first write, takes the writer's lock now with a write that
    changes nothing. Two turns written at once then never take the same parent."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Conversation).where(Conversation.id == conversation_id).values(id=Conversation.id))
    else:
        session.execute(select(Conversation.id).where(Conversation.id == conversation_id).with_for_update())


def list_conversations(session: Session, username: str, *, limit: int = 200) -> Sequence[Conversation]:
    """The user's conversations, most recently active first."""
    return session.scalars(
        select(Conversation)
        .where(Conversation.username == username, Conversation.deleted_at.is_(None))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(limit)
    ).all()


def rename_conversation(session: Session, conversation_id: str, username: str, title: str) -> bool:
    result = session.execute(
        update(Conversation).where(_owned(conversation_id, username)).values(title=title_from_prompt(title))
    )
    return bool(getattr(result, "rowcount", 0))


def name_conversation(
    session: Session, conversation_id: str, username: str, *, unless_changed_from: str, title: str
) -> bool:
    """Give the conversation the title its model chose, unless its title is no longer the one it
    started with (`unless_changed_from`): a rename by its owner meanwhile wins."""
    result = session.execute(
        update(Conversation)
        .where(_owned(conversation_id, username), Conversation.title == unless_changed_from)
        .values(title=fitted_title(title))
    )
    return bool(getattr(result, "rowcount", 0))


def update_conversation_settings(
    session: Session, conversation_id: str, username: str, *, model: str, system_prompt: str, temperature: float | None
) -> bool:
    result = session.execute(
        update(Conversation)
        .where(_owned(conversation_id, username))
        .values(model=model, system_prompt=system_prompt, temperature=temperature)
    )
    return bool(getattr(result, "rowcount", 0))


def delete_conversation(session: Session, conversation_id: str, username: str) -> bool:
    result = session.execute(update(Conversation).where(_owned(conversation_id, username)).values(deleted_at=utcnow()))
    return bool(getattr(result, "rowcount", 0))


def add_prompt(session: Session, conversation: Conversation, content: str) -> Message:
    """The prompt a user sends now."""
    message = write_prompt(
        session, conversation, PromptRecord(content=content, model=conversation.model, created_at=utcnow())
    )
    conversation.updated_at = utcnow()
    return message


def write_prompt(session: Session, conversation: Conversation, prompt: PromptRecord) -> Message:
    """A prompt at the end of the conversation's branch."""
    message = Message(
        conversation_id=conversation.id,
        username=conversation.username,
        parent_id=branch_end(session, conversation.id),
        role="user",
        status=ReplyStatus.COMPLETE,
        updated_at=prompt.created_at,
        finished_at=prompt.created_at,
        **values(prompt),
    )
    session.add(message)
    session.flush()  # the prompt's id comes before its reply's
    return message


def start_reply(
    session: Session, conversation_id: str, username: str, reply: ReplyRecord, *, owner: str | None = None
) -> Message:
    """The row of a reply about to stream, `streaming` until `finish_reply`; `owner`, the
    process writing it (chat/db/engine.py `process_owner`)."""
    if reply.status != ReplyStatus.STREAMING:
        raise ValueError(f"a reply starts as streaming, not {reply.status!r}")
    return add_reply(session, conversation_id, username, reply, owner=owner)


def add_reply(
    session: Session, conversation_id: str, username: str, reply: ReplyRecord, *, owner: str | None = None
) -> Message:
    """A reply at the end of the conversation's branch: to the prompt written just before."""
    message = Message(
        conversation_id=conversation_id,
        username=username,
        parent_id=branch_end(session, conversation_id),
        role="assistant",
        owner=owner,
        updated_at=reply.finished_at or reply.created_at,
        **values(reply),
    )
    session.add(message)
    session.flush()
    return message


def save_reply_progress(session: Session, reply_id: int, content: str) -> None:
    """Record what has arrived so far; also serves as the reply's heartbeat."""
    session.execute(
        update(Message)
        .where(Message.id == reply_id, Message.status == ReplyStatus.STREAMING)
        .values(content=content, updated_at=utcnow())
    )


def finish_reply(session: Session, reply_id: int, reply: ReplyRecord) -> None:
    """Write how a reply ended over its row (all but when it started): what the record
    says, whatever the row said. Its process no longer owns it."""
    if reply.status not in FINAL:
        raise ValueError(f"{reply.status!r} is not a final reply status")
    ended = values(reply)
    del ended["created_at"]
    ended["finished_at"] = reply.finished_at or utcnow()
    session.execute(update(Message).where(Message.id == reply_id).values(**ended, updated_at=utcnow(), owner=None))


def write_turn(
    session: Session,
    conversation: ConversationRecord,
    prompt: PromptRecord | None,
    reply: ReplyRecord,
    reply_id: int | None = None,
) -> int:
    """A turn's end written: its conversation if the log lacks it, its prompt, and its
    reply, over the reply's row `reply_id` if that row is still this reply's (the same
    user's assistant message in the same conversation), else as a new row: a restored
    database may have lost the row, or given its id to another message, which is never
    written over. Returns the reply's row id.

    The one write of a turn's end: the chat's final save (chat/turns/saving.py) and the
    spool's replay (chat/db/spool.py) both call it."""
    lock_conversation(session, conversation.id)
    row = session.get(Conversation, conversation.id)
    if row is None:  # started while the log refused writes (or purged since)
        row = create_conversation(session, conversation)
    elif row.username != conversation.username:
        raise ValueError("a turn names another user's conversation")  # never written across users
    if prompt is not None:
        write_prompt(session, row, prompt)
    existing = session.get(Message, reply_id) if reply_id is not None else None
    if existing is not None and (existing.username, existing.conversation_id, existing.role) == (
        row.username,
        row.id,
        "assistant",
    ):
        finish_reply(session, existing.id, reply)
        written = existing.id
    else:
        written = add_reply(session, row.id, row.username, reply).id
    row.updated_at = max(row.updated_at, reply.finished_at or reply.created_at)
    return written


def mark_abandoned_replies(
    session: Session, *, older_than: datetime, dead_owners: Collection[str] = (), running: Collection[int] = ()
) -> int:
    """Mark as `interrupted` the replies still `streaming` whose process is gone: known dead
    (`dead_owners`), or silent since `older_than`; never those this process is still
    writing (`running`). Returns how many."""
    abandoned = Message.updated_at < older_than
    if dead_owners:
        abandoned = or_(abandoned, Message.owner.in_(list(dead_owners)))
    alive = Message.id.not_in(list(running)) if running else true()
    result = session.execute(
        update(Message)
        .where(Message.status == ReplyStatus.STREAMING, abandoned, alive)
        .values(status=ReplyStatus.INTERRUPTED, error_kind="interrupted", finished_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def streaming_owners(session: Session) -> set[str]:
    return {
        owner
        for owner in session.scalars(select(Message.owner).where(Message.status == ReplyStatus.STREAMING).distinct())
        if owner
    }


def conversation_messages(
    session: Session, conversation_id: str, username: str, *, with_superseded: bool = False
) -> Sequence[Message]:
    """The conversation's messages in order: its current branch, or (for the log's
    exports) every attempt too."""
    query = select(Message).join(Conversation).where(_owned(conversation_id, username)).options(WITH_FILES)
    if not with_superseded:
        query = query.where(Message.superseded.is_(False))
    return session.scalars(query.order_by(Message.id)).all()


def supersede(session: Session, messages: Sequence[Message]) -> None:
    for message in messages:
        message.superseded = True
    session.flush()


def set_feedback(session: Session, reply_id: int, username: str, value: int | None) -> bool:
    """Rate one of the user's own replies (1 up, 0 down, None: no rating). False if not theirs."""
    reply = session.scalar(
        select(Message)
        .join(Conversation)
        .where(
            Message.id == reply_id,
            Message.role == "assistant",
            Conversation.username == username,
            Conversation.deleted_at.is_(None),
        )
    )
    if reply is None:
        return False
    reply.feedback = value
    return True


def record_of(row: Message) -> ReplyRecord:
    """A row of the log as a record (a prompt's row has a reply's columns too)."""
    found = {name: getattr(row, name) for name in field_names(ReplyRecord)}
    return ReplyRecord(**{**found, "status": _status(row)})


def _status(row: Message) -> ReplyStatus:
    """The row's status; one Parley does not know (an older import took any word) reads as
    `error`, so the conversation still opens and exports."""
    try:
        return ReplyStatus(row.status)
    except ValueError:
        log.warning("message %s has a status Parley does not know (%r): read as error", row.id, str(row.status)[:40])
        return ReplyStatus.ERROR


def as_chat_message(row: Message) -> ChatMessage:
    message = ChatMessage.of(record_of(row), role=row.role, id=row.id, feedback=row.feedback)
    if row.role != "user":
        return message
    return replace(message, attachments=tuple(as_attachment(file.content, file.name) for file in row.files))


# A prompt's files and their contents' descriptions, in one more query for all the messages read.
WITH_FILES = selectinload(Message.files).joinedload(MessageFile.content)
