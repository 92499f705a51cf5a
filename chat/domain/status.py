"""How a reply ended: the statuses every layer speaks (the log stores them as text)."""

from __future__ import annotations


class ReplyStatus:
    """How a reply ended. A user prompt is always `complete`."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    STOPPED = "stopped"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # the process died while it streamed

    FINAL = frozenset({COMPLETE, LENGTH, CONTENT_FILTER, STOPPED, ERROR, INTERRUPTED})
