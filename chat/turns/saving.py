"""The reply's final save, and the spool when the log refuses it.

When the log refuses a write (locked, read-only, down), the chat goes on: a new
turn, or a reply's ending, goes to the spool file (chat/db/spool.py) and reaches the
log when it takes writes again. A conversation with turns in the spool keeps
spooling its new turns, so they reach the log in order (chat/turns/start.py).

Every reading and writing of a spool record by the turns is here.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import spool, store
from chat.db.engine import process_owner
from chat.db.failures import error_detail, in_words
from chat.domain.conversation import ConversationOptions
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan
from chat.domain.records import ConversationRecord, PromptRecord
from chat.errors import StorageError
from chat.turns.turn import Turn

log = logging.getLogger(__name__)

SPOOLED_NOTICE = (
    "The conversation log is not taking writes right now ({reason}). This turn is kept on disk "
    "and will be written to the log as soon as it takes writes again."
)


class Saver:
    def __init__(self, sessions: sessionmaker[Session], spooled: spool.Spool) -> None:
        self.sessions = sessions
        self.spool = spooled

    def save_final(self, turn: Turn, duration_ms: int) -> None:
        """Write how the reply ended; what the log refuses goes to the spool."""
        record = self._turn_record(turn, duration_ms, whole=turn.spooled)
        if turn.spooled:
            self._spool(turn, record, reason=None)  # noted at its start
            return
        try:
            with self.sessions.begin() as session:
                reply_id = turn.reply_id
                if reply_id is None or not store.reply_exists(session, reply_id):
                    # Its row is gone (a database restored meanwhile): write the reply anew.
                    reply_id = new_reply(session, turn.conversation_id, turn.username, turn.options, turn.plan)
                store.finish_reply(session, reply_id, record.reply)
            turn.reply_id = reply_id
        except SQLAlchemyError as failure:
            log.warning("could not save a reply: %s", error_detail(failure))
            self._spool(turn, record, reason=in_words(failure))

    def _spool(self, turn: Turn, record: spool.Record, *, reason: str | None) -> None:
        """Append `record` to the spool file; the background replayer writes it to the log.

        Never a direct write here: against a locked log each attempt waits out the busy
        timeout, and the user would wait with it."""
        try:
            self.spool.add(record)
        except OSError as failure:
            log.error("could not write the spool file %s: %s", self.spool.path, failure)
            turn.save_error = StorageError(
                "This reply could not be saved: the conversation log refused it and so did the disk. "
                "It is still shown here; copy it if you need it."
            )
            return
        self.spool.start_replaying(self.sessions)
        if not turn.spooled:
            turn.save_error = StorageError(SPOOLED_NOTICE.format(reason=reason), kind="spooled")

    def _turn_record(self, turn: Turn, duration_ms: int, *, whole: bool) -> spool.Record:
        """The turn as a spool record: the whole turn, or (`whole=False`) its reply's ending."""
        options = turn.options
        return spool.Record(
            conversation=ConversationRecord(
                id=turn.conversation_id,
                username=turn.username,
                title=store.title_from_prompt(turn.prompt),
                model=options.model,
                system_prompt=options.system_prompt,
                temperature=options.temperature,
                created_at=turn.started_at,
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
    return store.start_reply(
        session,
        conversation_id=conversation_id,
        username=username,
        model=options.model,
        owner=process_owner(),
        system_prompt=options.system_prompt,
        temperature=options.temperature,
        context_tokens=plan.tokens,
        context_left_out=plan.left_out,
    ).id


def spooled_messages(record: spool.Record) -> list[ChatMessage]:
    """A whole turn waiting in the spool, as context (a spooled reply ending has its prompt in the log)."""
    if record.reply_id is not None or record.prompt is None:
        return []
    return [
        ChatMessage(role="user", content=record.prompt.content),
        ChatMessage(role="assistant", content=record.reply.content, status=record.reply.status),
    ]


def spooled_options(waiting: list[spool.Record], username: str) -> ConversationOptions | None:
    """The options of a conversation known only from its turns waiting in the spool, if it is `username`'s."""
    if waiting and waiting[0].conversation.username == username:
        meta = waiting[0].conversation
        return ConversationOptions(meta.model, meta.system_prompt, meta.temperature)
    return None
