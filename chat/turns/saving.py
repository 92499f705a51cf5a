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
from chat.db.engine import error_detail, process_owner
from chat.db.tables import utcnow
from chat.domain.conversation import ConversationOptions
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan
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
        if turn.spooled:
            self._spool(turn, self._turn_record(turn, duration_ms, whole=True), reason=None)  # noted at its start
            return
        error = turn.error
        try:
            with self.sessions.begin() as session:
                reply_id = turn.reply_id
                if reply_id is None or not store.reply_exists(session, reply_id):
                    # Its row is gone (a database restored meanwhile): write the reply anew.
                    reply_id = new_reply(session, turn.conversation_id, turn.username, turn.options, turn.plan)
                store.finish_reply(
                    session,
                    reply_id,
                    content=turn.text,
                    status=turn.status,
                    error_kind=error.kind if error else None,
                    error_message=error.message if error else None,
                    prompt_tokens=turn.prompt_tokens,
                    completion_tokens=turn.completion_tokens,
                    usage_estimated=turn.usage_estimated,
                    cost_usd=turn.cost,
                    temperature=turn.sent_temperature,
                    reasoning=turn.reasoning or None,
                    duration_ms=duration_ms,
                )
            turn.reply_id = reply_id
        except SQLAlchemyError as failure:
            log.warning("could not save a reply: %s", error_detail(failure))
            self._spool(turn, self._turn_record(turn, duration_ms, whole=False), reason=db_reason(failure))

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
        error = turn.error
        options = turn.options
        return spool.turn_record(
            conversation={
                "id": turn.conversation_id,
                "username": turn.username,
                "title": store.title_from_prompt(turn.prompt),
                "model": options.model,
                "system_prompt": options.system_prompt,
                "temperature": options.temperature,
                "created_at": turn.started_at,
            },
            prompt={"content": turn.prompt, "model": turn.model, "created_at": turn.started_at} if whole else {},
            reply={
                "content": turn.text,
                "status": turn.status,
                "model": turn.model,
                "system_prompt": options.system_prompt,
                "temperature": turn.sent_temperature,
                "error_kind": error.kind if error else None,
                "error_message": error.message if error else None,
                "prompt_tokens": turn.prompt_tokens,
                "completion_tokens": turn.completion_tokens,
                "usage_estimated": turn.usage_estimated,
                "cost_usd": turn.cost,
                "reasoning": turn.reasoning or None,
                "context_tokens": turn.plan.tokens,
                "context_left_out": turn.plan.left_out,
                "duration_ms": duration_ms,
                "created_at": turn.started_at,
                "finished_at": utcnow(),
            },
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
    if record["reply_id"] is not None:
        return []
    reply = record["reply"]
    return [
        ChatMessage(role="user", content=record["prompt"]["content"]),
        ChatMessage(role="assistant", content=reply["content"], status=reply["status"]),
    ]


def spooled_options(waiting: list[spool.Record], username: str) -> ConversationOptions | None:
    """The options of a conversation known only from its turns waiting in the spool, if it is `username`'s."""
    if waiting and waiting[0]["conversation"]["username"] == username:
        meta = waiting[0]["conversation"]
        return ConversationOptions(meta["model"], meta["system_prompt"], meta["temperature"])
    return None


def db_reason(error: SQLAlchemyError) -> str:
    text = str(getattr(error, "orig", error)).lower()
    if "locked" in text or "busy" in text:
        return "the database is busy"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only"
    if "disk" in text and "full" in text:
        return "the disk is full"
    return "the database did not accept the write"
