"""A new conversation named by its model: one short request after the first reply, in the reply's
worker thread once the reply is saved, so the chat never waits for it.

The answer is the model's text, made one plain line (`chat/domain/titles.py`). It is written only
over the title the conversation started with (its first words), so a rename made meanwhile wins;
on any failure the first words stay. The request is Parley's own: it is not counted toward the
user's quota and leaves no message in the log (docs/configuration.md, `PARLEY_MODEL_TITLES`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from chat.db import store
from chat.domain.messages import ChatMessage
from chat.domain.reasoning import ThinkSplitter
from chat.domain.status import ReplyStatus
from chat.domain.titles import TITLE_TOKENS, clean_title, title_request
from chat.llm.client import ChatModel
from chat.turns.naming import Naming
from chat.turns.quirks import Quirks
from chat.turns.turn import Turn

log = logging.getLogger(__name__)

ANSWER_CHARACTERS = 400  # read no further into an answer that rambles


class Titler:
    def __init__(self, sessions: sessionmaker[Session], model: ChatModel, quirks: Quirks, timeout: float) -> None:
        self._sessions = sessions
        self._model = model
        self._quirks = quirks
        self._timeout = timeout  # seconds the whole title request may take

    @staticmethod
    def wanted(turn: Turn, history: Sequence[ChatMessage]) -> bool:
        """A conversation's first turn in the log: it is named once its reply has been saved."""
        return not history and not turn.unlogged

    def name(self, turn: Turn, naming: Naming) -> None:
        """Ask the model for a title and write it; `naming` is settled whatever happens. Asked
        only while the conversation still has its first words: a regenerated or edited first
        turn of a named (or renamed) conversation asks nothing."""
        title = None
        try:
            if turn.status == ReplyStatus.COMPLETE and turn.text.strip() and self._unnamed(turn):
                title = self._ask(turn)
            if title is not None and not self._write(turn, title):
                title = None
        except Exception:  # the first words stay: a title is not worth an error on screen
            log.warning("could not name conversation %s", turn.conversation_id, exc_info=True)
            title = None
        finally:
            naming.settle(title)

    def _unnamed(self, turn: Turn) -> bool:
        with self._sessions() as session:
            conversation = store.get_conversation(session, turn.conversation_id, turn.username)
            return conversation is not None and conversation.title == store.title_from_prompt(turn.prompt)

    def _ask(self, turn: Turn) -> str | None:
        messages = title_request(turn.prompt, turn.text)
        stream = self._model.stream(
            messages, model=turn.model, sampling=self._quirks.sampling(turn.model, TITLE_TOKENS)
        )
        # A server that holds the stream open (keep-alive comments, no words) is cut off.
        deadline = threading.Timer(self._timeout, stream.close)
        deadline.daemon = True
        deadline.start()
        answer = ""
        try:
            for chunk in stream:
                answer += chunk.content
                if len(answer) > ANSWER_CHARACTERS:
                    break
        finally:
            deadline.cancel()
            stream.close()
        # A reasoning model's `<think>` block ahead of its answer, in the content (Qwen3 sends one).
        think = ThinkSplitter()
        return clean_title(think.feed(answer)[1] + think.flush()[1])

    def _write(self, turn: Turn, title: str) -> bool:
        """Whether the title changed: written over the first words, and not the same words."""
        first_words = store.title_from_prompt(turn.prompt)
        if title == first_words:
            return False
        with self._sessions.begin() as session:
            return store.name_conversation(
                session, turn.conversation_id, turn.username, unless_changed_from=first_words, title=title
            )
