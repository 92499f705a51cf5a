"""One message on the page, always the same shape: six places, each one element.

Streamlit draws a run's elements over the places of the last run's, one by one; a place the run
does not reach stays up, stale (`chat/ui/skeleton.py`). Every message, prompt or reply, in the
history or streaming, the chat or the admin's reader, has the same six places, each holding
exactly one element (or one empty element): where a search opened it, its reasoning, its text,
how it ended, its notes, its actions. So a message drawn where another was covers all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.ui.markdown import neutralise_images
from chat.ui.verbatim import verbatim_html
from chat.ui.wording import context_note, ending_note, usage_note


@dataclass(frozen=True)
class Places:
    found: DeltaGenerator
    reasoning: DeltaGenerator
    text: DeltaGenerator
    ending: DeltaGenerator
    notes: DeltaGenerator
    actions: DeltaGenerator

    @classmethod
    def make(cls) -> Places:
        """The six places, in the current container (a chat message)."""
        return cls(*(st.empty() for _ in range(6)))


def draw_message(message: ChatMessage, places: Places | None = None) -> Places:
    """A message's text, reasoning, ending and notes; its actions place is left to the caller."""
    places = places or Places.make()
    draw_reasoning(places.reasoning, message.reasoning)
    if message.content and message.role == "user":
        places.text.html(verbatim_html(message.content))  # as typed (chat/ui/verbatim.py)
    elif message.content:
        places.text.markdown(neutralise_images(message.content))
    draw_ending(places, message)
    return places


def draw_reasoning(place: DeltaGenerator, reasoning: str) -> None:
    if reasoning.strip():
        with place.container(), st.expander("Reasoning", icon=":material/psychology:"):
            st.markdown(neutralise_images(reasoning))
    else:
        place.empty()


def draw_ending(places: Places, message: ChatMessage) -> None:
    """How the reply ended (one element) and its notes (one caption of several lines)."""
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
    lines = [f":material/info: {neutralise_images(notice)}" for notice in message.notices]
    if left_out := context_note(message):
        lines.append(f":material/content_cut: {neutralise_images(left_out)}")
    if usage := usage_note(message):
        lines.append(usage)
    if lines:
        places.notes.caption("  \n".join(lines))  # a Markdown line break between them
    else:
        places.notes.empty()
