"""What a model's server refused, learnt once and remembered: the request adapted to it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chat.domain.messages import ChatMessage
from chat.domain.planning import RequestPlan, smaller_budget
from chat.errors import InputError, UpstreamError
from chat.llm.client import ChatModel, ChunkStream, Sampling
from chat.settings import Settings
from chat.turns.planner import Planner
from chat.turns.turn import Turn, TurnWriter

log = logging.getLogger(__name__)

NO_TEMPERATURE_NOTICE = "This model takes no temperature setting; it answered with its own default."


class Quirks:
    def __init__(self, settings: Settings, model: ChatModel, planner: Planner) -> None:
        self._max_tokens = settings.max_tokens
        self._model = model
        self._planner = planner
        self._known: dict[str, dict[str, object]] = {}  # per model: what its server refused

    def send_request(self, writer: TurnWriter, history: Sequence[ChatMessage]) -> ChunkStream:
        """Send the turn's request, adapting it once to each refusal a server may answer with
        before the reply starts (never after: nothing is sent twice once a token came):

        - too long for the model: trim further (to its stated limit, else to half);
        - a model that takes no `temperature`: send none (it answers with its default);
        - a model that wants `max_completion_tokens` instead of `max_tokens`: use that.

        What was learnt about a model is remembered, so later requests are right at once.
        Returns the reply's stream, attached to the turn (so that `stop` closes it)."""
        turn = writer.turn
        quirks = self._known.setdefault(turn.model, {})
        trimmed = False
        while True:
            if quirks.get("no_temperature"):
                writer.drop_temperature(NO_TEMPERATURE_NOTICE)
            try:
                sampling = Sampling(
                    temperature=turn.sent_temperature,
                    max_tokens=self._max_tokens,
                    max_tokens_field=str(quirks.get("max_tokens_field", "max_tokens")),
                )
                stream = self._model.stream(turn.plan.messages, model=turn.model, sampling=sampling)
                break
            except UpstreamError as error:
                if turn.stop_requested:
                    raise
                trimmed = self._learn(writer, history, error, quirks, trimmed=trimmed)
        writer.attach_stream(stream)
        return stream

    def sampling(self, model: str, max_tokens: int) -> Sampling:
        """Parley's own short request to `model` (its title), as what its server refused taught."""
        quirks = self._known.get(model, {})
        return Sampling(max_tokens=max_tokens, max_tokens_field=str(quirks.get("max_tokens_field", "max_tokens")))

    def _learn(
        self,
        writer: TurnWriter,
        history: Sequence[ChatMessage],
        error: UpstreamError,
        quirks: dict[str, object],
        *,
        trimmed: bool,
    ) -> bool:
        """Learn from `error` what to send instead, or raise it if nothing would help.
        Returns whether the request has been trimmed."""
        if error.kind == "unsupported_temperature" and writer.turn.sent_temperature is not None:
            quirks["no_temperature"] = True
        elif error.kind == "unsupported_max_tokens" and "max_tokens_field" not in quirks:
            quirks["max_tokens_field"] = "max_completion_tokens"
        elif error.kind == "context_length" and not trimmed:
            writer.trim(self._trimmed_further(writer.turn, history, error))
            return True
        else:
            raise error
        return trimmed

    def _trimmed_further(self, turn: Turn, history: Sequence[ChatMessage], error: UpstreamError) -> RequestPlan:
        budget = smaller_budget(turn.plan.tokens, error.message)
        try:
            smaller: RequestPlan | None = self._planner.plan(
                history, turn.prompt, turn.options, budget, attachments=turn.plan.attachments, username=turn.username
            )
        except InputError:
            smaller = None
        if smaller is None or smaller.left_out <= turn.plan.left_out:
            raise UpstreamError(
                f"{error.message} Leaving out earlier messages did not make it fit: shorten your message, "
                "or start a new chat.",
                kind="context_length",
            ) from None
        log.info("context too long for %s: retrying with %d tokens", turn.model, smaller.tokens)
        return smaller
