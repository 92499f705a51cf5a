"""Where the conversation's messages are drawn: the earlier ones in one fragment, each turn since
the line between them (`chat.split`) in a fragment of its own, a "slot".

A prompt reruns only its own slot and the last reply's Regenerate, a fragment of its own
(`regenerate_key`), which it takes away; the slot before too when it shows a notice, which goes.
So a turn costs the same whatever the conversation's length. Once the slots are full,
the next prompt reruns them all with the earlier messages', which moves the line to the last
prompt (`chat/ui/conversation.py`): a full redraw every `TURN_SLOTS - 1` turns, not every few.

A run that streams a reply lasts as long as the reply, and a slot the run has not reached yet
would stay on screen stale all that time: the slot that streams always runs last (`ordered`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NoReturn

import streamlit as st
from streamlit.errors import StreamlitAPIException

from chat.domain.messages import ChatMessage
from chat.ui.state import ChatState

EARLIER_FRAGMENT = "parley_earlier"
# Turns drawn apart from the earlier messages before a prompt folds them in. More slots: fewer
# full redraws, but a longer page between them (the browser's work per update grows with it).
TURN_SLOTS = 8


def slot_key(index: int) -> str:
    return f"parley_turn_{index}"


def regenerate_key(reply_id: int) -> str:
    """The fragment that holds a reply's Regenerate, in the last reply's row
    (`chat/ui/actions.py`). A fragment of its own, so that the next prompt takes Regenerate away
    without drawing that reply's turn again: that rerun cost 20-50 ms of the server's time, and
    the page's redraw of two messages, before the new prompt was drawn. Keyed by the reply, so
    that a prompt reruns the last reply's and no other."""
    return f"parley_regenerate_{reply_id}"


def turn_starts(history: Sequence[ChatMessage], split: int) -> list[int]:
    """Where each turn since the line begins: the line itself, then every prompt after it."""
    if split >= len(history):
        return []
    return [split, *(i for i in range(split + 1, len(history)) if history[i].role == "user")]


def _starts(chat: ChatState) -> list[int]:
    return turn_starts(chat.history, min(chat.split, len(chat.history)))


def slot_messages(chat: ChatState, index: int) -> tuple[int, int]:
    """The history's range the slot draws: its turn's messages; the last slot takes any turns
    past it too, so nothing goes undrawn however many turns there are."""
    end, starts = len(chat.history), _starts(chat)
    if index >= len(starts):
        return end, end
    stop = starts[index + 1] if index + 1 < len(starts) and index < TURN_SLOTS - 1 else end
    return starts[index], stop


def last_slot(chat: ChatState) -> int:
    """The newest turn's slot: it draws the notices, the reply being written and Regenerate."""
    return min(max(len(_starts(chat)) - 1, 0), TURN_SLOTS - 1)


def next_slot(chat: ChatState) -> int:
    """The slot a prompt waiting to be sent will take (the newest turn's, if none waits)."""
    return min(len(_starts(chat)), TURN_SLOTS - 1) if chat.pending_prompt is not None else last_slot(chat)


def ordered(slots: Iterable[int], live: int) -> list[int]:
    """The slots to run, `live` (the one that may stream) last."""
    return [*sorted(set(slots) - {live}), live]


def drawing(chat: ChatState, key: str) -> None:
    """A fragment of the conversation starts drawing its part: until `drawn`, it is behind."""
    chat.drawn.pop(key, None)


def drawn(chat: ChatState, key: str) -> None:
    """... and has drawn it for the line where it is now."""
    chat.drawn[key] = chat.layout


def rerun_for_prompt(chat: ChatState) -> NoReturn:
    """From the prompt's callback: its slot, and the last reply's Regenerate (it goes); the slot
    before instead when that shows a notice (it goes too), or when the Regenerate is not where
    Streamlit can rerun it. Once the slots are full, all of them and the earlier messages, with
    `chat.fold` set (the line moves to the last prompt, so the new turn takes the second slot).
    Also any fragment that has not drawn its part for the line where it is (a full run cut short
    by this prompt: the line moved, the slots were not all drawn again), and every one while an
    edit form is open (it closes)."""
    taken = len(_starts(chat))
    if taken >= TURN_SLOTS:
        chat.fold = True
        _rerun([EARLIER_FRAGMENT, *map(slot_key, ordered(range(TURN_SLOTS), 1))])
    if chat.editing is not None:
        _rerun([EARLIER_FRAGMENT, *map(slot_key, ordered(range(TURN_SLOTS), taken))])
    behind = [i for i in range(TURN_SLOTS) if chat.drawn.get(slot_key(i)) != chat.layout]
    earlier = [EARLIER_FRAGMENT] if chat.drawn.get(EARLIER_FRAGMENT) != chat.layout else []
    previous = max(taken - 1, 0)
    slots = [*behind, taken, *([previous] if chat.noticed else [])]
    with_previous = [*earlier, *(slot_key(i) for i in ordered([*slots, previous], taken))]
    last = chat.history[-1] if chat.history else None
    if previous in slots or last is None or last.role != "assistant" or last.id is None:
        _rerun(with_previous)
    regenerate = regenerate_key(last.id)
    _rerun([*earlier, regenerate, *(slot_key(i) for i in ordered(slots, taken))], instead=with_previous)


def rerun_newest(chat: ChatState) -> NoReturn:
    """From a callback outside the newest turn's slot (Regenerate's own fragment): that slot,
    which streams the reply and shows the notices."""
    _rerun([slot_key(last_slot(chat))])


def rerun_conversation(chat: ChatState, *, fold: bool) -> NoReturn:
    """From a callback that may change messages anywhere (a version chosen, an edit sent, a
    sentence to show): the earlier messages and every slot; `fold` moves the line to the last prompt."""
    chat.fold = chat.fold or fold
    live = 0 if fold else last_slot(chat)
    _rerun([EARLIER_FRAGMENT, *map(slot_key, ordered(range(TURN_SLOTS), live))])


def _rerun(keys: list[str], *, instead: list[str] | None = None) -> NoReturn:
    """Those fragments, in that order. If Streamlit does not know one of them by its key (never
    drawn: the page's last full run ended before it; or gone: Regenerate's fragment, when its
    slot last drew no Regenerate), the fragments `instead`; else the whole page."""
    try:
        st.rerun(keys)
    except StreamlitAPIException:
        if instead is not None:
            _rerun(instead)
        st.rerun()
