"""chat/ui/turn_slots.py: which slot draws which turn, and what a prompt reruns."""

from __future__ import annotations

import pytest

from chat.domain.messages import ChatMessage
from chat.ui.state import ChatState
from chat.ui.turn_slots import (
    EARLIER_FRAGMENT,
    TURN_SLOTS,
    drawing,
    drawn,
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


def drawn_chat(history: list[ChatMessage], split: int) -> ChatState:
    """A chat whose fragments have all drawn their part for the line where it is."""
    chat = ChatState(history=history, split=split, layout=3)
    for key in (EARLIER_FRAGMENT, *map(slot_key, range(TURN_SLOTS))):
        drawn(chat, key)
    return chat


def test_a_prompt_reruns_its_slot_and_the_one_before_until_the_slots_are_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = drawn_chat(conversation(3), 2)  # two turns since the line: slots 0 and 1
    assert keyed_rerun(chat, monkeypatch) == [slot_key(1), slot_key(2)] and not chat.fold
    assert keyed_rerun(drawn_chat(conversation(1), 2), monkeypatch) == [slot_key(0)]
    full = drawn_chat(conversation(TURN_SLOTS + 1), 2)
    assert keyed_rerun(full, monkeypatch) == [EARLIER_FRAGMENT, *map(slot_key, ordered(range(TURN_SLOTS), 1))]
    assert full.fold  # the earlier messages' run moves the line: the new turn takes slot 1


def test_a_prompt_also_reruns_what_has_not_drawn_for_the_line_where_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    # A full run cut short by this prompt: the line moved (`layout`), the slots after 1 not drawn again.
    moved = drawn_chat(conversation(3), 2)
    moved.layout += 1
    for key in (EARLIER_FRAGMENT, slot_key(0), slot_key(1)):
        drawn(moved, key)
    assert keyed_rerun(moved, monkeypatch) == [slot_key(i) for i in ordered(range(1, TURN_SLOTS), 2)]
    cut = drawn_chat(conversation(3), 2)
    drawing(cut, slot_key(5))  # a slot's run cut short while it drew
    assert keyed_rerun(cut, monkeypatch) == [slot_key(1), slot_key(5), slot_key(2)]
    behind_earlier = drawn_chat(conversation(3), 2)
    drawing(behind_earlier, EARLIER_FRAGMENT)
    assert keyed_rerun(behind_earlier, monkeypatch) == [EARLIER_FRAGMENT, slot_key(1), slot_key(2)]


def test_an_open_edit_form_closes_wherever_it_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    chat = drawn_chat(conversation(3), 2)
    chat.editing = 1  # a prompt in the earlier messages
    assert keyed_rerun(chat, monkeypatch) == [EARLIER_FRAGMENT, *map(slot_key, ordered(range(TURN_SLOTS), 2))]


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
        turn_slots.rerun_for_prompt(drawn_chat(conversation(2), 2))
    assert asked == [[slot_key(0), slot_key(1)], "app"]
