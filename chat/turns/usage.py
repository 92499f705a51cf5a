"""A reply's tokens and cost, once it has ended."""

from __future__ import annotations

from chat.domain.tokens import TokenCounting
from chat.settings import Settings
from chat.turns.turn import Turn, TurnWriter


class Usage:
    def __init__(self, settings: Settings, tokens: TokenCounting) -> None:
        self._settings = settings
        self._tokens = tokens

    def observe(self, turn: Turn) -> None:
        """Let the server's count of the prompt correct Parley's estimates (chat/domain/tokens.py)."""
        # Not from a request with pictures: their share of the server's count is not known (the estimate
        # is OpenAI's rule), and an error in it would stay in the ratio, a running maximum, for good.
        if turn.prompt_tokens is not None and turn.plan.image_tokens == 0:
            self._tokens.observe(turn.plan.counter, list(turn.plan.messages), turn.prompt_tokens)

    def settle(self, writer: TurnWriter) -> None:
        """Usage as the server reported it, or Parley's estimate when it sent none
        (many servers do not; nor does a stream that was stopped or broke), and its cost."""
        turn = writer.turn
        prompt_tokens, completion_tokens = turn.prompt_tokens, turn.completion_tokens
        if prompt_tokens is None or completion_tokens is None:
            prompt_tokens, completion_tokens = turn.plan.tokens, turn.plan.counter.text(turn.text)
            writer.record_usage(prompt_tokens, completion_tokens, estimated=True)
        price = self._settings.price(turn.model)
        if price is not None:
            writer.record_cost((prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000)
