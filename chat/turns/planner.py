"""The request for a prompt, planned with the model's token counter and the settings' budget; the
stored contents of the files it sends read from the log only for what goes in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from chat.db import attachments as stored_files
from chat.domain.attachments import Attachment, Content
from chat.domain.context import Contents
from chat.domain.conversation import ConversationOptions
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan, plan_request
from chat.domain.tokens import TokenCounting
from chat.settings import Settings


class Planner:
    def __init__(self, settings: Settings, tokens: TokenCounting, sessions: sessionmaker[Session]) -> None:
        self._budget = settings.context_tokens
        self._tokens = tokens
        self._sessions = sessions

    def plan(  # noqa: PLR0913 - the last three say what a re-plan changes
        self,
        history: Sequence[ChatMessage],
        prompt: str,
        options: ConversationOptions,
        budget: int | None = None,
        *,
        attachments: Sequence[Attachment] = (),
        username: str = "",
    ) -> RequestPlan:
        """The request for `prompt`: see `plan_request`; the budget defaults to the setting."""
        counter = self._tokens.counter(options.model)
        return plan_request(
            history,
            prompt,
            options.system_prompt,
            counter,
            budget or self._budget,
            attachments=attachments,
            contents=self._contents(username),
        )

    def _contents(self, username: str) -> Contents:
        def read(attachments: Sequence[Attachment]) -> Mapping[str, Content]:
            with self._sessions() as session:
                return stored_files.contents(session, username, {a.digest for a in attachments})

        return read
