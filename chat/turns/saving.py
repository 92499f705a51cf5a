"""The reply's final save, and the spool when the log refuses it.

When the log refuses a write (locked, read-only, down), the chat goes on: a new
turn, or a reply's ending, goes to the spool file (chat/db/spool.py) and reaches the
log when it takes writes again. A conversation with turns in the spool keeps
spooling its new turns, so they reach the log in order (chat/turns/start.py).

Every reading and writing of a spool record by the turns is here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import spool, store
from chat.db.engine import process_owner
from chat.db.failures import error_detail, in_words
from chat.db.tables import utcnow
from chat.domain.conversation import ConversationOptions
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord
from chat.domain.status import ReplyStatus
from chat.errors import StorageError
from chat.turns.turn import Turn, TurnWriter

log = logging.getLogger(__name__)

SPOOLED_NOTICE = (
    "The conversation log is not taking writes right now ({reason}). This turn is kept on disk "
    "and will be written to the log as soon as it takes writes again."
)


class Saver:
    def __init__(self, sessions: sessionmaker[Session], spool_file: spool.Spool) -> None:
        self.sessions = sessions
        self.spool = spool_file

    def save_final(self, writer: TurnWriter, duration_ms: int) -> None:
        """Write how the reply ended; what the log refuses goes to the spool."""
        turn = writer.turn
        record = _turn_record(turn, duration_ms, whole=turn.unlogged)
        if turn.unlogged:
            self._spool(writer, record, reason=None)  # noted at its start
            return
        try:
            with self.sessions.begin() as session:
                # The spool's replay writes the same way: over the reply's row if it is still
                # this reply's, else anew (a database restored meanwhile may have lost it, or
                # given its id to another message, which stays as it is).
                reply_id = store.write_turn(session, record.conversation, None, record.reply, record.reply_id)
            writer.saved_as(reply_id)
        except SQLAlchemyError as failure:
            log.warning("could not save a reply: %s", error_detail(failure))
            self._spool(writer, record, reason=in_words(failure))

    def _spool(self, writer: TurnWriter, record: spool.Record, *, reason: str | None) -> None:
        """Append `record` to the spool file; the background replayer writes it to the log.

        Never a direct write here: against a locked log each attempt waits out the busy
        timeout, and the user would wait with it."""
        try:
            self.spool.add(record)
        except OSError as failure:
            log.error("could not write the spool file %s: %s", self.spool.path, failure)
            writer.not_saved(
                StorageError(
                    "This reply could not be saved: the conversation log refused it and so did the disk. "
                    "It is still shown here; copy it if you need it."
                )
            )
            return
        self.spool.start_replaying(self.sessions)
        if not writer.turn.unlogged:  # an unlogged turn said so when it started
            writer.not_saved(StorageError(SPOOLED_NOTICE.format(reason=reason), kind="spooled"))


def conversation_started(
    conversation_id: str, username: str, prompt: str, options: ConversationOptions, *, at: datetime
) -> ConversationRecord:
    """A conversation as its first prompt starts it (written at once, or spooled with the turn)."""
    return ConversationRecord(
        id=conversation_id,
        username=username,
        title=store.title_from_prompt(prompt),
        model=options.model,
        system_prompt=options.system_prompt,
        temperature=options.temperature,
        created_at=at,
    )


def _turn_record(turn: Turn, duration_ms: int, *, whole: bool) -> spool.Record:
    """The turn as a spool record: the whole turn, or (`whole=False`) its reply's ending."""
    return spool.Record(
        conversation=conversation_started(
            turn.conversation_id, turn.username, turn.prompt, turn.options, at=turn.started_at
        ),
        prompt=PromptRecord(content=turn.prompt, model=turn.model, created_at=turn.started_at) if whole else None,
        reply=turn.reply_record(duration_ms),
        reply_id=None if whole else turn.reply_id,
    )


def new_reply(
    session: Session, conversation_id: str, username: str, options: ConversationOptions, plan: RequestPlan
) -> int:
    """The reply's row, `streaming` and empty until the first token: another tab
    (or a reload) opening the conversation finds it and follows it."""
    reply = ReplyRecord(
        content="",
        status=ReplyStatus.STREAMING,
        created_at=utcnow(),
        model=options.model,
        system_prompt=options.system_prompt,
        temperature=options.temperature,
        context_tokens=plan.tokens,
        context_left_out=plan.left_out,
        notices="\n".join(plan.notices()) or None,
    )
    return store.start_reply(session, conversation_id, username, reply, owner=process_owner()).id


def spooled_messages(record: spool.Record) -> list[ChatMessage]:
    """A whole turn waiting in the spool, as context (a spooled reply ending has its prompt in the log)."""
    if record.reply_id is None and record.prompt is not None:
        return [ChatMessage(role="user", content=record.prompt.content), ChatMessage.of(record.reply)]
    return []


def spooled_options(waiting: list[spool.Record], username: str) -> ConversationOptions | None:
    """The options of a conversation known only from its turns waiting in the spool, if it is `username`'s."""
    if waiting and waiting[0].conversation.username == username:
        meta = waiting[0].conversation
        return ConversationOptions(meta.model, meta.system_prompt, meta.temperature)
    return None
