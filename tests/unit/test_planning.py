"""chat/domain/planning.py: which turns go with a request when they do not all fit the budget."""

from __future__ import annotations

from chat.domain.messages import ChatMessage
from chat.domain.planning import plan_request
from chat.domain.tokens import TokenCounting


def history_of(turns: int, words: int = 40) -> list[ChatMessage]:
    history: list[ChatMessage] = []
    for n in range(turns):
        history.append(ChatMessage("user", f"Question {n}: " + "tell me more " * (words // 3)))
        history.append(ChatMessage("assistant", f"Answer {n}: " + "here is more " * (words // 3)))
    return history


def test_trimming_keeps_the_system_prompt_the_newest_prompt_and_whole_recent_turns() -> None:
    counter = TokenCounting().counter("gpt-4o-mini")
    history = history_of(10)
    full = plan_request(history, "Newest?", "Be brief.", counter, 100_000)
    assert full.left_out == 0 and len(full.messages) == 22 and full.tokens == counter.messages(full.messages)

    plan = plan_request(history, "Newest?", "Be brief.", counter, full.tokens // 2)

    assert plan.messages[0] == {"role": "system", "content": "Be brief."}
    assert plan.messages[-1] == {"role": "user", "content": "Newest?"}
    kept = plan.messages[1:-1]
    assert kept and len(kept) % 2 == 0 and kept[0]["role"] == "user"  # whole turns, never an orphan reply
    assert [m["content"] for m in kept] == [m.content for m in history[-len(kept) :]]  # the newest, no gap
    assert plan.left_out == 20 - len(kept)
    assert plan.tokens == counter.messages(plan.messages) <= full.tokens // 2
    # One more turn would not have fitted.
    one_more = history[-len(kept) - 2 : -len(kept)]
    assert plan.tokens + sum(counter.message({"role": m.role, "content": m.content}) for m in one_more) > (
        full.tokens // 2
    )
