"""One chat turn: save the prompt, stream the reply, save the reply; and the user's conversations.

`ChatService` is what the screens hold: a thin front over small objects, each with one job.

- chat/turns/start.py: beginning a turn (a new prompt, regenerate, edit), the prompt saved first;
- chat/turns/turn.py: the reply being written, which the page follows from any thread;
- chat/turns/worker.py: the worker thread reading the model's stream into the turn, beside the
  watchdog (chat/turns/watchdog.py: progress saves, heartbeat, deadline);
- chat/turns/quirks.py: what a model's server refused, and the request adapted to it;
- chat/turns/usage.py: tokens and cost; chat/turns/saving.py: the final save, and the spool
  when the log refuses a write (the chat goes on; the spool reaches the log later);
- chat/turns/running.py: the replies being written and the worker slots;
- chat/turns/conversations.py, models.py, quota.py, planner.py: conversations scoped to
  their owner, the model list, the quota, the request's token budget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chat.db import documents, quotas, search, spool
from chat.domain.attachments import Attachment
from chat.domain.conversation import ConversationOptions, ConversationSummary
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan, clean_prompt
from chat.domain.tokens import TokenCounting
from chat.errors import SignedOutError, StorageError
from chat.llm.client import ChatModel
from chat.settings import Settings
from chat.turns.conversations import Conversations
from chat.turns.files import Files
from chat.turns.models import ModelList
from chat.turns.planner import Planner
from chat.turns.quirks import Quirks
from chat.turns.quota import QuotaGuard
from chat.turns.running import Running
from chat.turns.saving import Saver
from chat.turns.start import WAITING_IN_SPOOL, Redo, Starter
from chat.turns.titles import Titler
from chat.turns.turn import Turn
from chat.turns.usage import Usage
from chat.turns.watchdog import Watchdog
from chat.turns.worker import Worker

SIGNED_OUT = "Your sign-in has ended (expired, signed out elsewhere, or the account changed). Please sign in again."

__all__ = ["ChatService", "ConversationOptions", "ConversationSummary", "RequestPlan", "Turn", "clean_prompt"]


class ChatService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], model: ChatModel) -> None:
        self.settings = settings
        self.sessions = sessions
        self.chat_model = model
        # Whether a sign-in session (by its hash) is live; set by `wiring.shared`, which has the accounts.
        self.session_check: Callable[[str], bool] | None = None
        self.tokens = TokenCounting()
        self.spool = spool.Spool(settings.spool_file)
        if self.spool.has_pending():  # left by the last run: write it as soon as the log takes it
            self.spool.start_replaying(sessions)
        self.models = ModelList(settings, model)
        self.chats = Conversations(sessions)
        self.planner = Planner(settings, self.tokens, sessions)
        self.files = Files(settings, sessions)  # attachments taken before a prompt is sent
        self.running = Running(settings.max_workers)
        self.quota_guard = QuotaGuard(sessions, self.spool, self.running)
        quirks = Quirks(settings, model, self.planner)
        worker = Worker(
            quirks,
            Usage(settings, self.tokens),
            Saver(sessions, self.spool),
            Watchdog(sessions, settings.reply_deadline),
            self.running,
            Titler(sessions, model, quirks, settings.request_timeout) if settings.model_titles else None,
        )
        self._starter = Starter(
            sessions,
            self.spool,
            planner=self.planner,
            quota_guard=self.quota_guard,
            running=self.running,
            worker=worker,
            defaults=self.models.default_options,
        )
        # Loading a token table takes most of a second: do it before the first prompt needs it.
        threading.Thread(target=self.tokens.counter, args=(self.model_name,), name="parley-tokens", daemon=True).start()

    # --- models and options --------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self.models.default

    def default_options(self) -> ConversationOptions:
        return self.models.default_options()

    def available_models(self) -> list[str]:
        """The configured models, then those the server lists (asked at most once a minute)."""
        return self.models.available()

    def plan_request(
        self, history: Sequence[ChatMessage], prompt: str, options: ConversationOptions, budget: int | None = None
    ) -> RequestPlan:
        """The request for `prompt`, trimmed to the token budget (chat/domain/planning.py
        `plan_request`); the budget defaults to the setting."""
        return self.planner.plan(history, prompt, options, budget)

    # --- conversations (every one scoped to its owner) -----------------------------------
    def conversations(self, username: str) -> list[ConversationSummary]:
        return self.chats.summaries(username)

    def open_conversation(self, username: str, conversation_id: str) -> list[ChatMessage] | None:
        """The conversation's messages, or None if it is not this user's to see."""
        return self.chats.messages(username, conversation_id)

    def conversation_options(self, username: str, conversation_id: str) -> ConversationOptions | None:
        return self.chats.options(username, conversation_id)

    def set_conversation_options(self, username: str, conversation_id: str, options: ConversationOptions) -> bool:
        return self.chats.set_options(username, conversation_id, options)

    def rename_conversation(self, username: str, conversation_id: str, title: str) -> bool:
        return self.chats.rename(username, conversation_id, title)

    def delete_conversation(self, username: str, conversation_id: str) -> bool:
        return self.chats.delete(username, conversation_id)

    def search(self, username: str, text: str) -> list[search.SearchHit]:
        """The user's own messages matching every word of `text` (the last as a prefix), newest first."""
        return self.chats.search(username, text)

    def set_feedback(self, username: str, reply_id: int, value: int | None) -> bool:
        """Thumbs up (1) or down (0) on one of the user's replies; None clears it."""
        return self.chats.set_feedback(username, reply_id, value)

    def export(self, username: str, conversation_id: str | None = None) -> dict[str, Any]:
        """The user's conversations (or the one, if it is theirs) as the export document that
        `python -m chat import` reads back (chat/db/documents.py)."""
        return documents.user_export(self.sessions, username, conversation_id)

    # --- turns ---------------------------------------------------------------------
    def start_turn(
        self,
        *,
        username: str,
        conversation_id: str | None,
        history: Sequence[ChatMessage],
        prompt: str,
        options: ConversationOptions | None = None,
        quota: quotas.Quota | None = None,
        session: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Turn:
        """Save the prompt and an empty reply, then start the reply's worker.

        Raises, with nothing saved or sent: `StorageError` if the database refuses
        the prompt, `InputError` if the prompt and system prompt alone exceed the
        token budget, `BusyError` if Parley is writing as many replies as it may,
        `QuotaError` if the request would break the user's `quota`, `SignedOutError` if the
        sign-in session `session` (its hash) has ended meanwhile.
        A new conversation takes `options` (default: the settings') and `history` as
        the context before `prompt` (usually none); an existing one is answered with its
        own stored options and its current branch from the log. `attachments` are files the
        user's `take_files` kept; they are tied to the prompt."""
        self._admit(session)
        return self._starter.begin(
            username,
            conversation_id,
            options,
            prompt=prompt,
            history=history,
            redo=Redo.NONE,
            quota=quota,
            attachments=attachments,
        )

    def regenerate(
        self,
        *,
        username: str,
        conversation_id: str,
        reply_id: int | None = None,
        quota: quotas.Quota | None = None,
        session: str | None = None,
    ) -> Turn:
        """Answer the prompt of the reply `reply_id` (None: the last) again. The reply and what
        followed it leave the branch and stay in the log as versions (`choose_version`); the
        request carries the branch up to that prompt."""
        self._admit(session)
        return self._starter.begin(
            username, conversation_id, None, prompt=None, history=None, redo=Redo.REPLY, target=reply_id, quota=quota
        )

    def edit_prompt(
        self,
        *,
        username: str,
        conversation_id: str,
        prompt: str,
        message_id: int | None = None,
        quota: quotas.Quota | None = None,
        session: str | None = None,
        attachments: Sequence[Attachment] | None = None,
    ) -> Turn:
        """A new version of the prompt `message_id` (None: the last), answered: the old one and
        what followed it leave the branch and stay in the log as versions. It keeps the old one's
        files, or carries `attachments` instead. Raises InputError if that prompt is no longer on
        the branch, or a reply after it is still being written."""
        self._admit(session)
        return self._starter.begin(
            username,
            conversation_id,
            None,
            prompt=prompt,
            history=None,
            redo=Redo.PROMPT,
            target=message_id,
            quota=quota,
            attachments=attachments,
        )

    def choose_version(
        self, username: str, conversation_id: str, message_id: int, *, session: str | None = None
    ) -> list[ChatMessage] | None:
        """Show another version of a message, with the rest of the conversation it had; the
        next request carries that branch. The conversation's messages then (None: not found).
        Refused (StorageError) while turns of the conversation wait in the spool: they were
        answered after the branch shown, and reach the log at its end."""
        self._admit(session)
        if self.spool.pending_for(conversation_id):
            raise StorageError(WAITING_IN_SPOOL)
        return self.chats.choose_version(username, conversation_id, message_id)

    def _admit(self, session: str | None) -> None:
        """A turn asked for under a sign-in session starts only while that session is live: the
        page checked it when its run began, but it may have ended since (signed out elsewhere)."""
        if session is not None and self.session_check is not None and not self.session_check(session):
            raise SignedOutError(SIGNED_OUT)

    # --- replies being written (by reply id, never handed to another user) -------------
    def running_turn(self, username: str, reply_id: int | None) -> Turn | None:
        """The reply still being written in this process, if it is this user's."""
        return self.running.find(username, reply_id)

    @property
    def running_count(self) -> int:
        return self.running.count

    def shutdown(self, timeout: float = 10.0) -> None:
        """Parley is stopping: end every reply, saved as `interrupted` with what arrived."""
        self.running.shutdown(timeout)

    # --- quotas --------------------------------------------------------------------
    def quota_usage(self, username: str) -> quotas.QuotaUsage:
        return self.quota_guard.usage(username)

    def waiting_turns(self, username: str) -> list[quotas.Waiting]:
        """The user's turns the log does not hold: in the spool, and spooled ones still
        being answered (they reach the spool when they end)."""
        return self.quota_guard.waiting(username)
