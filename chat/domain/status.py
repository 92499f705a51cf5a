"""How a reply ended: the statuses every layer speaks (the log stores them as text)."""

from __future__ import annotations

from enum import StrEnum


class ReplyStatus(StrEnum):
    """How a reply ended. A user prompt is always `complete`. A member is its text
    (`ReplyStatus.COMPLETE == "complete"`), so rows and JSON files keep plain words."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    STOPPED = "stopped"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # the process died while it streamed


FINAL = frozenset(ReplyStatus) - {ReplyStatus.STREAMING}
