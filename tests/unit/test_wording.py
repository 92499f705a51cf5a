"""chat/ui/wording.py: figures worded for people, and a conversation's totals."""

from __future__ import annotations

from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.ui.wording import conversation_usage, format_cost, running_usage


def test_costs_are_worded_for_people() -> None:
    assert [format_cost(usd) for usd in (1234.5, 0.15, 0.0001, 0, 0.0000069)] == [
        "$1,234.50",
        "$0.1500",
        "$0.0001",
        "$0",
        "$0.0000069",  # two significant digits, never rounded to $0
    ]


def test_the_running_usage_is_each_messages_total_by_then() -> None:
    conversation = [
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello", prompt_tokens=10, completion_tokens=2, cost=0.0001),
        ChatMessage("user", "And?"),
        ChatMessage("assistant", "More", prompt_tokens=20, completion_tokens=5, usage_estimated=True),
        ChatMessage("user", "Last"),
        ChatMessage("assistant", "", status=ReplyStatus.ERROR),  # the request never ran: no usage
    ]
    assert running_usage(conversation) == [
        None,
        "12 tokens · $0.0001",
        "12 tokens · $0.0001",
        "≈ 37 tokens · ≈ $0.0001 + unknown",  # one reply's count is Parley's estimate, one has no price
        "≈ 37 tokens · ≈ $0.0001 + unknown",
        "≈ 37 tokens · ≈ $0.0001 + unknown",
    ]
    assert conversation_usage(conversation) == running_usage(conversation)[-1]
    assert conversation_usage([]) is None and conversation_usage(conversation[:1]) is None
