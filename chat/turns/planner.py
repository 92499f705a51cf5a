"""The request for a prompt, planned with the model's token counter and the settings' budget."""

from __future__ import annotations

from collections.abc import Sequence

from chat.domain.conversation import ConversationOptions
from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan, plan_request
from chat.domain.tokens import TokenCounting
from chat.settings import Settings


class Planner:
    def __init__(self, settings: Settings, tokens: TokenCounting) -> None:
        self._budget = settings.context_tokens
        self._tokens = tokens

    def plan(
        self, history: Sequence[ChatMessage], prompt: str, options: ConversationOptions, budget: int | None = None
    ) -> RequestPlan:
        """The request for `prompt`: see `plan_request`; the budget defaults to the setting."""
        counter = self._tokens.counter(options.model)
        return plan_request(history, prompt, options.system_prompt, counter, budget or self._budget)
