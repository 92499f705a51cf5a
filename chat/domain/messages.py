"""A message as the page shows it and as the model receives it, and the sentences about it.

The service, the store, the admin's reports and the screens share this record.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat.domain.records import ReplyRecord
from chat.domain.status import ReplyStatus

STATUS_NOTES = {
    ReplyStatus.LENGTH: "The reply was cut at the token limit.",
    ReplyStatus.CONTENT_FILTER: "The model server's content filter stopped the reply.",
    ReplyStatus.STOPPED: "Stopped.",
    ReplyStatus.INTERRUPTED: "The reply was interrupted when Parley stopped.",
}
STILL_STREAMING_NOTE = "This reply is still being written. Reload the page to see more of it."


@dataclass(frozen=True)
class ChatMessage:
    """A message as the page shows it and as the model receives it."""

    role: str
    content: str
    status: str = ReplyStatus.COMPLETE
    note: str | None = None  # why the reply ended early, as a sentence
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    cost: float | None = None  # USD; None: the model has no price (or the request never ran)
    reasoning: str = ""  # the model's reasoning, shown apart and never sent back
    notices: tuple[str, ...] = ()  # how the request was adapted to the model, as sentences
    feedback: int | None = None  # the user's thumbs: 1 up, 0 down
    id: int | None = None  # the log's id, for messages loaded from it
    left_out: int = 0  # earlier messages not sent with the request that produced this reply

    @classmethod
    def of(
        cls, record: ReplyRecord, *, role: str = "assistant", id: int | None = None, feedback: int | None = None
    ) -> ChatMessage:
        """A message of the log as the page shows it: a reply still `streaming` there is
        being written by another tab or process (or was, by one that died)."""
        if record.status == ReplyStatus.STREAMING:
            note: str | None = STILL_STREAMING_NOTE
        else:
            note = record.error_message or STATUS_NOTES.get(record.status)
        return cls(
            role=role,
            content=record.content,
            status=record.status,
            note=note,
            prompt_tokens=record.prompt_tokens,
            completion_tokens=record.completion_tokens,
            usage_estimated=record.usage_estimated,
            cost=record.cost_usd,
            reasoning=record.reasoning or "",
            feedback=feedback,
            id=id,
            left_out=record.context_left_out or 0,
        )

    @property
    def context_note(self) -> str | None:
        return context_note(self.left_out)


def context_note(left_out: int) -> str | None:
    """The chat's notice that a reply was produced from part of the conversation."""
    if left_out <= 0:
        return None
    earliest = "earliest message was" if left_out == 1 else f"{left_out} earliest messages were"
    return f"The {earliest} left out of this request to fit the context budget; the model did not see them."
