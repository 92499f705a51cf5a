"""How the screens word a reply's usage: its tokens and cost, and a conversation's totals."""

from __future__ import annotations

from collections.abc import Sequence

from chat.domain.messages import ChatMessage


def format_cost(usd: float) -> str:
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd >= 0.0001 or usd == 0:
        return f"${usd:.4f}".rstrip("0").rstrip(".") if usd == 0 else f"${usd:.4f}"
    return f"${float(f'{usd:.2g}'):.10f}".rstrip("0")  # two significant digits: $0.0000069


def usage_note(message: ChatMessage) -> str | None:
    """Small print under a reply: its tokens and cost."""
    if message.role != "assistant" or message.prompt_tokens is None or message.completion_tokens is None:
        return None
    about = "≈ " if message.usage_estimated else ""
    tokens = f"{about}{message.prompt_tokens:,} prompt + {message.completion_tokens:,} reply tokens"
    if message.usage_estimated:
        tokens += " (estimated)"
    cost = "cost unknown" if message.cost is None else about + format_cost(message.cost)
    return f"{tokens} · {cost}"


def conversation_usage(messages: Sequence[ChatMessage]) -> str | None:
    """The conversation's total tokens and cost, for the sidebar."""
    replies = [m for m in messages if m.role == "assistant" and m.prompt_tokens is not None]
    if not replies:
        return None
    tokens = sum((m.prompt_tokens or 0) + (m.completion_tokens or 0) for m in replies)
    known = [m.cost for m in replies if m.cost is not None]
    about = "≈ " if any(m.usage_estimated for m in replies) else ""
    if not known:
        cost = "cost unknown"
    elif len(known) < len(replies):
        cost = f"{about}{format_cost(sum(known))} + unknown"
    else:
        cost = about + format_cost(sum(known))
    return f"{about}{tokens:,} tokens · {cost}"
