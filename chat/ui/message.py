"""One message on the page, always the same shape: six places, each one element.

Streamlit draws a run's elements over the places of the last run's, one by one; a place the run
does not reach stays up, stale (`chat/ui/skeleton.py`). Every message, prompt or reply, in the
history or streaming, the chat or the admin's reader, has the same six places, each holding
exactly one element (or one empty element): where a search opened it, its reasoning, its text,
how it ended, its notes, its actions. So a message drawn where another was covers all of it.

A reply being streamed needs its places up front (`Places.make`: six placeholders, written
again as the reply goes); a settled message is drawn in one pass (`Places.in_order`), each
place one element, which sends Streamlit half the messages six placeholders would.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.ui.attachments import Pictures, draw_files
from chat.ui.markdown import neutralise_images, plain
from chat.ui.verbatim import verbatim_html
from chat.ui.wording import context_note, ending_note

PLACES = ("found", "reasoning", "text", "ending", "notes", "actions")


class Places:
    """A message's six places, named in `PLACES`' order.

    Made up front (`make`), each is a placeholder to write into, any number of times. Drawn in
    order (`in_order`), each is the message's own container when it is claimed: claiming a place
    draws an empty element in every place skipped, and each claimed place must then receive
    exactly one element (`close` ends the message with empty ones)."""

    def __init__(self, slots: tuple[DeltaGenerator, ...] | None, container: DeltaGenerator | None) -> None:
        self._slots = slots
        self._container = container
        self._next = 0

    @classmethod
    def make(cls) -> Places:
        """Six placeholders, in the current container (a chat message)."""
        return cls(tuple(st.empty() for _ in PLACES), None)

    @classmethod
    def in_order(cls, container: DeltaGenerator) -> Places:
        """Places drawn one after the other in `container`, the message being drawn."""
        return cls(None, container)

    def _claim(self, name: str) -> DeltaGenerator:
        index = PLACES.index(name)
        if self._slots is not None:
            return self._slots[index]
        assert self._container is not None
        if index < self._next:
            raise RuntimeError(f"the {name} place of a message drawn in order was claimed after a later one")
        for _ in range(self._next, index):
            self._container.empty()
        self._next = index + 1
        return self._container

    def close(self) -> None:
        """Every place not yet drawn (in order) gets its empty element."""
        if self._slots is None and self._next < len(PLACES):
            self._claim(PLACES[-1]).empty()

    @property
    def found(self) -> DeltaGenerator:
        return self._claim("found")

    @property
    def reasoning(self) -> DeltaGenerator:
        return self._claim("reasoning")

    @property
    def text(self) -> DeltaGenerator:
        return self._claim("text")

    @property
    def ending(self) -> DeltaGenerator:
        return self._claim("ending")

    @property
    def notes(self) -> DeltaGenerator:
        return self._claim("notes")

    @property
    def actions(self) -> DeltaGenerator:
        return self._claim("actions")


def draw_message(message: ChatMessage, places: Places, pictures: Pictures) -> None:
    """A message's text, reasoning (a prompt's files in that place, its pictures from `pictures`),
    ending and notes; its actions place is left to the caller."""
    if message.role == "user":
        draw_files(places.reasoning, message, pictures)  # a prompt has no reasoning
    else:
        draw_reasoning(places.reasoning, message.reasoning)
    if message.content and message.role == "user":
        places.text.html(verbatim_html(message.content))  # as typed (chat/ui/verbatim.py)
    elif message.content:
        places.text.markdown(neutralise_images(message.content))
    draw_ending(places, message)


def draw_reasoning(place: DeltaGenerator, reasoning: str) -> None:
    if reasoning.strip():
        with place.container(), st.expander("Reasoning", icon=":material/psychology:"):
            st.markdown(neutralise_images(reasoning))
    else:
        place.empty()


def draw_ending(places: Places, message: ChatMessage) -> None:
    """How the reply ended (one element) and its notes (one caption of several lines); its usage
    is on demand, in its actions (`chat/ui/conversation.py`)."""
    # A note may quote the model server's own words (its error message): no images.
    note = neutralise_images(ending_note(message) or "")
    status = message.status
    if status == ReplyStatus.ERROR and note:
        places.ending.error(note, icon=":material/error:")
    elif status in (ReplyStatus.LENGTH, ReplyStatus.CONTENT_FILTER) and note:
        places.ending.warning(note, icon=":material/warning:")
    elif status in (ReplyStatus.STOPPED, ReplyStatus.INTERRUPTED) and note:
        places.ending.caption(f":material/stop_circle: {note}")
    elif status == ReplyStatus.STREAMING and note:
        places.ending.caption(f":material/hourglass_top: {note}")
    else:
        places.ending.empty()
    # A notice may name a user's file, whose name may hold any character: drawn as text.
    lines = [f":material/info: {plain(notice)}" for notice in message.notices]
    if left_out := context_note(message):
        lines.append(f":material/content_cut: {neutralise_images(left_out)}")
    if lines:
        places.notes.caption("  \n".join(lines))  # a Markdown line break between them
    else:
        places.notes.empty()
