"""chat/ui/turn_slots.py: which slot draws which turn, and what a prompt reruns."""

from __future__ import annotations

import pytest

from chat.domain.messages import ChatMessage
from chat.ui.state import ChatState
from chat.ui.turn_slots import (
    EARLIER_FRAGMENT,
    TURN_SLOTS,
    last_slot,
    next_slot,
    ordered,
    slot_key,
    slot_messages,
    turn_starts,
)


def conversation(turns: int) -> list[ChatMessage]:
    return [m for i in range(turns) for m in (ChatMessage("user", f"q{i}"), ChatMessage("assistant", f"a{i}"))]


def test_turns_begin_at_the_line_and_at_every_prompt_after_it() -> None:
    history = conversation(4)
    assert turn_starts(history, 4) == [4, 6]
    assert turn_starts(history, 0) == [0, 2, 4, 6]
    assert turn_starts(history, 8) == []  # nothing since the line
    # A prompt waiting for its reply is a turn of its own; a reply at the line begins one too.
    assert turn_starts([*history, ChatMessage("user", "q4")], 6) == [6, 8]
    assert turn_starts(history, 5) == [5, 6]


def test_each_slot_draws_its_turn_and_the_last_one_draws_what_is_left() -> None:
    chat = ChatState(history=conversation(3), split=2)
    assert [slot_messages(chat, i) for i in range(3)] == [(2, 4), (4, 6), (6, 6)]
    assert last_slot(chat) == 1
    many = ChatState(history=conversation(TURN_SLOTS + 2), split=0)
    ranges = [slot_messages(many, i) for i in range(TURN_SLOTS)]
    # Every message is drawn once, in order: the last slot takes the turns past the slots.
    assert [i for start, end in ranges for i in range(start, end)] == list(range(len(many.history)))
    assert ranges[-1] == (2 * (TURN_SLOTS - 1), len(many.history))
    assert last_slot(many) == TURN_SLOTS - 1


def test_a_waiting_prompt_takes_the_next_slot() -> None:
    chat = ChatState(history=conversation(2), split=0)
    assert next_slot(chat) == 1 == last_slot(chat)
    chat.pending_prompt = "q2"
    assert next_slot(chat) == 2
    assert next_slot(ChatState(pending_prompt="the first")) == 0  # a new conversation


def test_the_slot_that_may_stream_runs_last() -> None:
    assert ordered(range(4), 1) == [0, 2, 3, 1]
    assert ordered([2, 3], 3) == [2, 3]


class Asked(Exception):
    """What `st.rerun` was asked to rerun (it raises, and so does this)."""


def keyed_rerun(chat: ChatState, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fragments a prompt's callback asks Streamlit to rerun."""
    from chat.ui import turn_slots

    def asked(scope: object) -> None:
        raise Asked(scope)

    monkeypatch.setattr(turn_slots.st, "rerun", asked)
    with pytest.raises(Asked) as rerun:
        turn_slots.rerun_for_prompt(chat)
    (scope,) = rerun.value.args
    assert isinstance(scope, list)
    return scope


def test_a_prompt_reruns_its_slot_and_the_one_before_until_the_slots_are_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = ChatState(history=conversation(3), split=2)  # two turns since the line: slots 0 and 1
    assert keyed_rerun(chat, monkeypatch) == [slot_key(1), slot_key(2)] and not chat.fold
    assert keyed_rerun(ChatState(history=conversation(1), split=2), monkeypatch) == [slot_key(0)]
    full = ChatState(history=conversation(TURN_SLOTS + 1), split=2)
    assert keyed_rerun(full, monkeypatch) == [EARLIER_FRAGMENT, *map(slot_key, ordered(range(TURN_SLOTS), 1))]
    assert full.fold  # the earlier messages' run moves the line: the new turn takes slot 1


def test_a_fragment_never_drawn_makes_it_a_run_of_the_whole_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.errors import StreamlitAPIException

    from chat.ui import turn_slots

    asked: list[object] = []

    def rerun(scope: object = "app") -> None:
        asked.append(scope)
        if scope != "app":  # what Streamlit does for a key no run has drawn
            raise StreamlitAPIException("No fragment found for target")
        raise Asked(scope)

    monkeypatch.setattr(turn_slots.st, "rerun", rerun)
    with pytest.raises(Asked):
        turn_slots.rerun_for_prompt(ChatState(history=conversation(2), split=2))
    assert asked == [[slot_key(0), slot_key(1)], "app"]
