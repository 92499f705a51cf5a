"""Which models a conversation may use: the configured ones, then those the server lists."""

from __future__ import annotations

import time

from chat.domain.conversation import ConversationOptions
from chat.llm.client import DEMO_MODEL, ChatModel
from chat.settings import Settings

LIST_SECONDS = 60  # the server's model list is asked at most this often


class ModelList:
    def __init__(self, settings: Settings, model: ChatModel) -> None:
        self._settings = settings
        self._model = model
        self._cache: tuple[float, list[str]] | None = None

    @property
    def default(self) -> str:
        return DEMO_MODEL if self._settings.demo_mode else self._settings.model

    def default_options(self) -> ConversationOptions:
        return ConversationOptions(model=self.default, system_prompt=self._settings.system_prompt)

    def available(self) -> list[str]:
        """The configured models, then those the server lists (asked at most once a minute)."""
        if self._settings.demo_mode:
            return [DEMO_MODEL]
        cached = self._cache
        if cached is None or time.monotonic() - cached[0] > LIST_SECONDS:
            cached = (time.monotonic(), self._model.list_models())
            self._cache = cached
        return list(dict.fromkeys([*self._settings.models, self._settings.model, *cached[1]]))
