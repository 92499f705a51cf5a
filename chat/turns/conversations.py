"""A user's conversations in the log: list, open, versions, rename, delete, search, options, feedback.

Every query is scoped to its owner: another user's conversation is as good as missing.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import search, store, versions
from chat.db.failures import error_detail
from chat.db.store import as_chat_message
from chat.db.tables import Conversation
from chat.domain.conversation import ConversationOptions, ConversationSummary
from chat.domain.messages import ChatMessage
from chat.domain.text import storable
from chat.errors import InputError, StorageError

_CONVERSATION_ID = re.compile(r"^[0-9a-f]{32}$")


def _branch(session: Session, conversation_id: str, username: str) -> list[ChatMessage]:
    """The branch shown, each message with its versions."""
    found = versions.version_ids(session, conversation_id)
    return [
        replace(as_chat_message(row), versions=found.get(row.id, ()))
        for row in store.conversation_messages(session, conversation_id, username)
    ]


def options_of(conversation: Conversation) -> ConversationOptions:
    """The options a conversation in the log is answered with."""
    return ConversationOptions(conversation.model, conversation.system_prompt, conversation.temperature)


class Conversations:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def summaries(self, username: str) -> list[ConversationSummary]:
        with self._sessions() as session:
            return [
                ConversationSummary(c.id, c.title or "Untitled", c.updated_at)
                for c in store.list_conversations(session, username)
            ]

    def messages(self, username: str, conversation_id: str) -> list[ChatMessage] | None:
        """The conversation's messages, or None if it is not this user's to see."""
        if not _CONVERSATION_ID.match(conversation_id):
            return None
        with self._sessions() as session:
            if store.get_conversation(session, conversation_id, username) is None:
                return None
            return _branch(session, conversation_id, username)

    def choose_version(self, username: str, conversation_id: str, message_id: int) -> list[ChatMessage] | None:
        """Show the version `message_id` of a message (chat/domain/versions.py), and the branch
        under it that was shown last. The conversation's messages then, or None if it is not
        this user's. InputError when the choice cannot be made (another tab moved the branch,
        a reply below is still being written); StorageError when the log refuses it."""
        if not _CONVERSATION_ID.match(conversation_id):
            return None
        try:
            with self._sessions.begin() as session:
                if store.get_conversation(session, conversation_id, username, for_update=True) is None:
                    return None
                versions.choose(session, conversation_id, message_id)
                return _branch(session, conversation_id, username)
        except SQLAlchemyError as error:
            raise StorageError(f"That version could not be shown: {error_detail(error)}.") from error

    def options(self, username: str, conversation_id: str) -> ConversationOptions | None:
        with self._sessions() as session:
            conversation = store.get_conversation(session, conversation_id, username)
            return options_of(conversation) if conversation is not None else None

    def set_options(self, username: str, conversation_id: str, options: ConversationOptions) -> bool:
        options = options.checked()
        with self._sessions.begin() as session:
            return store.update_conversation_settings(
                session,
                conversation_id,
                username,
                model=options.model,
                system_prompt=options.system_prompt,
                temperature=options.temperature,
            )

    def rename(self, username: str, conversation_id: str, title: str) -> bool:
        if not title.strip():
            raise InputError("A conversation needs a title.")
        with self._sessions.begin() as session:
            return store.rename_conversation(session, conversation_id, username, storable(title))

    def delete(self, username: str, conversation_id: str) -> bool:
        with self._sessions.begin() as session:
            return store.delete_conversation(session, conversation_id, username)

    def search(self, username: str, text: str) -> list[search.SearchHit]:
        """The user's own messages matching every word of `text` (the last as a prefix), newest first."""
        with self._sessions() as session:
            return search.search_messages(session, username, storable(text))  # PostgreSQL refuses a NUL

    def set_feedback(self, username: str, reply_id: int, value: int | None) -> bool:
        """Thumbs up (1) or down (0) on one of the user's replies; None clears it."""
        if value not in (None, 0, 1):
            raise InputError("Feedback is a thumbs up or down.")
        try:
            with self._sessions.begin() as session:
                return store.set_feedback(session, reply_id, username, value)
        except SQLAlchemyError as error:  # translated here, where the database is used
            raise StorageError(f"Feedback could not be saved: {error_detail(error)}.") from error
