"""A message as the page shows it and as the model receives it.

The service, the store, the admin's reports and the screens share this record. The
sentences the page shows about it (why a reply ended, what was left out of its request,
its usage) are the screens' (chat/ui/wording.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from chat.domain.attachments import Attachment
from chat.domain.records import ReplyRecord
from chat.domain.status import ReplyStatus


@dataclass(frozen=True)
class ChatMessage:
    """A message as the page shows it and as the model receives it."""

    role: str
    content: str
    status: ReplyStatus = ReplyStatus.COMPLETE
    error_message: str | None = None  # why the reply failed, as the sentence the user saw
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    cost: float | None = None  # USD; None: the model has no price (or the request never ran)
    reasoning: str = ""  # the model's reasoning, shown apart and never sent back
    notices: tuple[str, ...] = ()  # how the request was adapted to the model, as sentences
    feedback: int | None = None  # the user's thumbs: 1 up, 0 down
    id: int | None = None  # the log's id, for messages loaded from it
    left_out: int = 0  # earlier messages not sent with the request that produced this reply
    versions: tuple[int, ...] = ()  # the ids of its versions, its own among them (chat/domain/versions.py)
    attachments: tuple[Attachment, ...] = ()  # a prompt's files (chat/domain/attachments.py)

    @classmethod
    def of(
        cls, record: ReplyRecord, *, role: str = "assistant", id: int | None = None, feedback: int | None = None
    ) -> ChatMessage:
        """A reply (or, with `role="user"`, a prompt) of the log as the page shows it."""
        return cls(
            role=role,
            content=record.content,
            status=record.status,
            error_message=record.error_message,
            prompt_tokens=record.prompt_tokens,
            completion_tokens=record.completion_tokens,
            usage_estimated=record.usage_estimated,
            cost=record.cost_usd,
            reasoning=record.reasoning or "",
            feedback=feedback,
            id=id,
            left_out=record.context_left_out or 0,
            notices=tuple(record.notices.split("\n")) if record.notices else (),
        )
