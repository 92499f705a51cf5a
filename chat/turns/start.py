"""Beginning a turn: save the prompt and an empty reply, then start the reply's worker.

A new prompt, a reply answered again (regenerate) or a prompt replaced (edit): `Redo`
says which, and its target which message (any of the branch; by default the last). What it
replaces leaves the branch and stays in the log as a version (chat/domain/versions.py).

When the log refuses the prompt, the turn is answered all the same and written to the spool
at its end; a conversation with turns in the spool keeps spooling its new turns, so they
reach the log in order (chat/turns/saving.py).
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import attachments as stored_files
from chat.db import quotas, spool, store, versions
from chat.db.engine import STALE_AFTER
from chat.db.failures import error_detail, in_words
from chat.db.store import as_chat_message
from chat.db.tables import Conversation, Message, new_id, utcnow
from chat.domain.attachments import Attachment
from chat.domain.conversation import ConversationOptions
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan
from chat.domain.status import ReplyStatus
from chat.domain.text import storable
from chat.domain.versions import Place
from chat.errors import BusyError, InputError, StorageError
from chat.turns.conversations import options_of
from chat.turns.planner import Planner
from chat.turns.quota import QuotaGuard
from chat.turns.running import Running
from chat.turns.saving import SPOOLED_NOTICE, conversation_started, new_reply, spooled_messages, spooled_options
from chat.turns.turn import Turn, TurnWriter
from chat.turns.worker import Worker

log = logging.getLogger(__name__)

WAITING_IN_SPOOL = (
    "This conversation has turns waiting to be written to the log; try again once they are "
    "(the log is not taking writes right now)."
)
FILES_NEED_THE_LOG = (
    "Files are kept in the conversation log, which is not taking writes right now ({reason}), "
    "so your message was not sent. It is back in the input box with its files: try again in a moment."
)
NOT_SAVED = (
    "Your message could not be saved to the conversation log ({reason}), "
    "so it was not sent. It is back in the input box: try again in a moment."
)


class Redo(enum.Enum):
    """What a turn does to the end of its conversation."""

    NONE = "none"  # adds a prompt
    REPLY = "reply"  # answers a prompt again: a new version of its reply (chat/domain/versions.py)
    PROMPT = "prompt"  # a new version of a prompt, answered


@dataclass(frozen=True)
class _Asked:
    """What the caller asked for: a prompt (None: the log's, answered again) with its files, the
    page's history (a new conversation's context), and what it does to the branch."""

    prompt: str | None
    attachments: tuple[Attachment, ...] | None  # None: see `Starter.begin`
    history: Sequence[ChatMessage] | None
    redo: Redo
    target: int | None


@dataclass(frozen=True)
class _Saved:
    """What the log holds of a turn once its prompt and empty reply are written."""

    conversation_id: str
    options: ConversationOptions
    prompt: str
    history: list[ChatMessage]
    plan: RequestPlan
    reply_id: int
    place: Place


class Starter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        spool_file: spool.Spool,
        *,
        planner: Planner,
        quota_guard: QuotaGuard,
        running: Running,
        worker: Worker,
        defaults: Callable[[], ConversationOptions],
    ) -> None:
        self._sessions = sessions
        self._spool = spool_file
        self._planner = planner
        self._quota_guard = quota_guard
        self._running = running
        self._worker = worker
        self._defaults = defaults

    def begin(
        self,
        username: str,
        conversation_id: str | None,
        options: ConversationOptions | None,
        *,
        prompt: str | None,
        history: Sequence[ChatMessage] | None,
        redo: Redo,
        target: int | None = None,
        quota: quotas.Quota | None,
        attachments: Sequence[Attachment] | None = None,
    ) -> Turn:
        """The turn, started; see `ChatService.start_turn` for what it raises, with nothing saved or sent.
        `attachments` None: a new prompt has none, an edited one keeps those of the prompt it replaces."""
        new_options = (options or self._defaults()).checked()
        # clean_prompt did this for the page; here for every other caller (chat/domain/text.py)
        prompt = storable(prompt) if prompt is not None else None
        if quota is not None:
            self._quota_guard.check(username, quota)
        waiting = self._spool.pending_for(conversation_id) if conversation_id else []
        if waiting and redo is not Redo.NONE:
            raise StorageError(WAITING_IN_SPOOL)
        if not self._running.take_slot():
            raise BusyError(
                f"Parley is already writing {self._running.max_workers} replies, as many as it may at once. "
                "Your message is back in the input box: send it again in a moment."
            )
        try:
            asked = _Asked(prompt, None if attachments is None else tuple(attachments), history, redo, target)
            if waiting:  # after its turns in the spool, never before them
                reason = "earlier turns of this conversation wait on disk"
                return self._unlogged(username, conversation_id, new_options, asked, reason)
            return self._logged(username, conversation_id, new_options, asked)
        except BaseException:
            self._running.free_slot()
            raise

    def _logged(self, username: str, conversation_id: str | None, options: ConversationOptions, asked: _Asked) -> Turn:
        """A turn whose prompt and empty reply the log takes now (else the spool, for a new prompt)."""
        try:
            with self._sessions.begin() as session:
                saved = self._save_prompt(session, username, conversation_id, options, asked)
        except SQLAlchemyError as error:
            log.error("could not save a prompt: %s", error_detail(error))
            if asked.redo is Redo.NONE:
                # The transaction left nothing in the log, even when only its commit failed:
                # a new conversation is still new (its id from the failed rows was never kept).
                return self._unlogged(username, conversation_id, options, asked, in_words(error))
            raise StorageError(NOT_SAVED.format(reason=in_words(error))) from None
        writer = TurnWriter(
            conversation_id=saved.conversation_id,
            username=username,
            options=saved.options,
            prompt=saved.prompt,
            plan=saved.plan,
            reply_id=saved.reply_id,
            notices=saved.plan.notices(),
        )
        writer.turn.place = saved.place
        return self._launch(writer, saved.history)

    def _save_prompt(
        self, session: Session, username: str, conversation_id: str | None, options: ConversationOptions, asked: _Asked
    ) -> _Saved:
        conversation = (
            store.get_conversation(session, conversation_id, username, for_update=True) if conversation_id else None
        )
        used = options_of(conversation) if conversation is not None else options
        context, prompt, prompt_id, files = _context(session, conversation, username, asked)
        plan = self._planner.plan(context, prompt, used, attachments=files, username=username)  # before any write
        if conversation is None:
            record = conversation_started(new_id(), username, prompt, options, at=utcnow())
            conversation = store.create_conversation(session, record)
        if prompt_id is None:
            prompt_id = store.add_prompt(session, conversation, prompt).id
            stored_files.attach(session, prompt_id, username, files)
        store.mark_abandoned_replies(session, older_than=utcnow() - STALE_AFTER, running=self._running.ids())
        reply_id = new_reply(session, conversation.id, username, used, plan)
        found = versions.versions_of(session, conversation.id, [prompt_id, reply_id])
        place = Place(prompt_id, found.get(prompt_id, ()), found.get(reply_id, ()))
        return _Saved(conversation.id, used, prompt, context, plan, reply_id, place)

    def _unlogged(
        self, username: str, conversation_id: str | None, options: ConversationOptions, asked: _Asked, reason: str
    ) -> Turn:
        """A turn the log cannot take now: answered as usual, written to the spool at its end.

        Its context is the log's current branch plus the conversation's turns waiting in
        the spool. If the log cannot even be read, nothing is sent (StorageError); nor is a
        prompt with files, which are kept in the log only."""
        if asked.attachments:
            raise StorageError(FILES_NEED_THE_LOG.format(reason=reason))
        assert asked.prompt is not None
        prompt, history = asked.prompt, asked.history
        waiting = self._spool.pending_for(conversation_id) if conversation_id else []
        used, logged = self._read_log(username, conversation_id)
        if used is None:
            used = spooled_options(waiting, username)
        if used is None:
            if conversation_id is not None:
                raise InputError("Conversation not found.")
            used = options
        if conversation_id is not None:
            history = logged + [message for record in waiting for message in spooled_messages(record)]
        plan = self._planner.plan(list(history or []), prompt, used, username=username)
        writer = TurnWriter(
            conversation_id=conversation_id or new_id(),
            username=username,
            options=used,
            prompt=prompt,
            plan=plan,
            reply_id=None,
            notices=[SPOOLED_NOTICE.format(reason=reason), *plan.notices()],
        )
        return self._launch(writer, list(history or []))

    def _read_log(
        self, username: str, conversation_id: str | None
    ) -> tuple[ConversationOptions | None, list[ChatMessage]]:
        """The conversation's options and current branch in the log; (None, []) if the log
        has none of it. A log that cannot be read refuses a turn of an existing conversation."""
        try:
            with self._sessions() as session:
                conversation = store.get_conversation(session, conversation_id, username) if conversation_id else None
                if conversation is None:
                    return None, []
                messages = store.conversation_messages(session, conversation.id, username)
                return options_of(conversation), [as_chat_message(m) for m in messages]
        except SQLAlchemyError as error:
            if conversation_id is not None:
                raise StorageError(NOT_SAVED.format(reason=in_words(error))) from None
            return None, []

    def _launch(self, writer: TurnWriter, history: Sequence[ChatMessage]) -> Turn:
        """Start the worker, which keeps the writer; the caller gets the turn to read."""
        self._running.launch(writer.turn, functools.partial(self._worker.run, writer, history))
        return writer.turn


def _context(
    session: Session, conversation: Conversation | None, username: str, asked: _Asked
) -> tuple[list[ChatMessage], str, int | None, tuple[Attachment, ...]]:
    """The history the request carries before the prompt, the prompt to answer, its id if the log
    holds it already (a reply answered again), and its files."""
    if asked.redo is not Redo.NONE:
        if conversation is None:
            raise InputError("Conversation not found.")
        return _branch_back(session, conversation, username, asked)
    assert asked.prompt is not None
    if conversation is not None:
        # The log's current branch, not the page's copy: another tab may have
        # edited, regenerated or added to it meanwhile.
        branch = store.conversation_messages(session, conversation.id, username)
        return [as_chat_message(m) for m in branch], asked.prompt, None, asked.attachments or ()
    return list(asked.history or []), asked.prompt, None, asked.attachments or ()  # a copy: the page changes its own


def _branch_back(
    session: Session, conversation: Conversation, username: str, asked: _Asked
) -> tuple[list[ChatMessage], str, int | None, tuple[Attachment, ...]]:
    """Take off the branch the reply answered again (`Redo.REPLY`) or the prompt replaced
    (`Redo.PROMPT`), `target` (None: the last one), with everything after it; they stay in the
    log as versions. Returns the history before the prompt, the prompt, its id if kept, and its
    files: an edited prompt keeps the files of the one it replaces."""
    messages = list(store.conversation_messages(session, conversation.id, username))
    start = _redo_start(messages, asked.redo, asked.target)
    after = messages[start:]
    if any(m.status == ReplyStatus.STREAMING for m in after):
        raise InputError("A reply after it is still being written: stop it first, or wait for it to end.")
    store.supersede(session, after)
    if asked.redo is Redo.PROMPT:
        assert asked.prompt is not None
        files = as_chat_message(messages[start]).attachments if asked.attachments is None else asked.attachments
        return [as_chat_message(m) for m in messages[:start]], asked.prompt, None, files
    prompt = as_chat_message(messages[start - 1])
    return [as_chat_message(m) for m in messages[: start - 1]], prompt.content, prompt.id, prompt.attachments


def _redo_start(messages: Sequence[Message], redo: Redo, target: int | None) -> int:
    """Where on the branch `messages` a redo begins: the reply answered again, or the prompt replaced."""
    last_prompt = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_prompt is None:
        raise InputError("This conversation has no prompt to answer again.")
    if target is None:
        return last_prompt + 1 if redo is Redo.REPLY else last_prompt
    role = "assistant" if redo is Redo.REPLY else "user"
    found = next((i for i, m in enumerate(messages) if m.id == target and m.role == role), None)
    if found is None or (redo is Redo.REPLY and (found == 0 or messages[found - 1].role != "user")):
        raise InputError(
            "That message is no longer part of the conversation as shown (changed in another tab): reopen it."
        )
    return found
