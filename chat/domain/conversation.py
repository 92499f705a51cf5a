"""What a conversation is answered with, and how a list of conversations names one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from chat.domain.text import storable
from chat.errors import InputError


@dataclass(frozen=True)
class ConversationOptions:
    """What a conversation is answered with: chosen per conversation, recorded per reply."""

    model: str
    system_prompt: str
    temperature: float | None = None  # None: the server's own default

    def checked(self) -> ConversationOptions:
        if not self.model.strip():
            raise InputError("Choose a model.")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise InputError("The temperature must be between 0 and 2.")
        return replace(self, model=storable(self.model), system_prompt=storable(self.system_prompt))


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    updated_at: datetime
