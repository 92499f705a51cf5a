"""How the screens word a reply: why it ended, what its request left out, its tokens and cost,
and the conversation's totals up to it. The page, the admin's reader and the history share these sentences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.domain.times import as_utc

STATUS_NOTES = {
    ReplyStatus.LENGTH: "The reply was cut at the token limit.",
    ReplyStatus.CONTENT_FILTER: "The model server's content filter stopped the reply.",
    ReplyStatus.STOPPED: "Stopped.",
    ReplyStatus.INTERRUPTED: "The reply was interrupted when Parley stopped.",
}
STILL_STREAMING_NOTE = "This reply is still being written. Reload the page to see more of it."


def ending_note(message: ChatMessage) -> str | None:
    """Why a reply ended as it did, as a sentence: its error's, or its status's. A reply drawn
    from the log while still `streaming` is being written by another tab or process (or was,
    by one that died); the page draws its own live reply only once it has ended."""
    if message.status == ReplyStatus.STREAMING:
        return STILL_STREAMING_NOTE
    return message.error_message or STATUS_NOTES.get(message.status)


def context_note(message: ChatMessage) -> str | None:
    """The chat's notice that a reply was produced from part of the conversation."""
    if message.left_out <= 0:
        return None
    earliest = "earliest message was" if message.left_out == 1 else f"{message.left_out} earliest messages were"
    return f"The {earliest} left out of this request to fit the context budget; the model did not see them."


def format_cost(usd: float) -> str:
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd >= 0.0001 or usd == 0:
        return f"${usd:.4f}".rstrip("0").rstrip(".") if usd == 0 else f"${usd:.4f}"
    return f"${float(f'{usd:.2g}'):.10f}".rstrip("0")  # two significant digits: $0.0000069


def usage_note(message: ChatMessage) -> str | None:
    """A reply's tokens, and its cost when its model has a price (no cost line without one)."""
    if message.role != "assistant" or message.prompt_tokens is None or message.completion_tokens is None:
        return None
    about = "≈ " if message.usage_estimated else ""
    tokens = f"{about}{message.prompt_tokens:,} prompt + {message.completion_tokens:,} reply tokens"
    if message.usage_estimated:
        tokens += " (estimated)"
    return tokens if message.cost is None else f"{tokens} · {about}{format_cost(message.cost)}"


def usage_label(message: ChatMessage) -> str | None:
    """A reply's usage in two words, on the button that shows the rest (`usage_note`)."""
    if message.role != "assistant" or message.prompt_tokens is None or message.completion_tokens is None:
        return None
    about = "≈ " if message.usage_estimated else ""
    return f"{about}{message.prompt_tokens + message.completion_tokens:,} tokens"


def conversation_usage(messages: Sequence[ChatMessage]) -> str | None:
    """The conversation's total tokens and cost."""
    return running_usage(messages, start=len(messages) - 1)[-1] if messages else None


def running_usage(messages: Sequence[ChatMessage], *, start: int = 0, least: int = 1) -> list[str | None]:
    """`conversation_usage` of the messages up to each one from `start` on, in one pass: what each
    reply's usage says the conversation had cost by then (None until `least` replies have a
    usage). Only those from `start` are worded: a page draws its last messages of a long one."""
    tokens, replies, known, cost, estimated = 0, 0, 0, 0.0, False
    totals: list[str | None] = []
    for index, m in enumerate(messages):
        if m.role == "assistant" and m.prompt_tokens is not None:
            replies += 1
            tokens += m.prompt_tokens + (m.completion_tokens or 0)
            estimated = estimated or m.usage_estimated
            if m.cost is not None:
                known, cost = known + 1, cost + m.cost
        if index >= start:
            totals.append(_total(tokens, replies, known, cost, estimated) if replies >= least else None)
    return totals


def _total(tokens: int, replies: int, known: int, cost: float, estimated: bool) -> str:
    about = "≈ " if estimated else ""
    if not known:
        return f"{about}{tokens:,} tokens"  # no price configured: no cost line (never "$0")
    priced = about + format_cost(cost) + (" + unknown" if known < replies else "")
    return f"{about}{tokens:,} tokens · {priced}"


def when(moment: datetime) -> str:
    """A moment as every screen writes it: UTC to the minute."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def local_time(moment: datetime, where: tzinfo) -> str:
    """A moment in the reader's time zone, to the minute: "30 Nov 2026, 09:34"."""
    return f"{as_utc(moment).astimezone(where):%-d %b %Y, %H:%M}"
