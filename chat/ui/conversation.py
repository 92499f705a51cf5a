"""The conversation: its last messages with their actions (`draw_earlier`, `draw_turns`), and the reply being streamed.

A run that streams a reply lasts as long as the reply, and Streamlit keeps every element of the
last run it has not drawn over yet on screen, stale and fading, all that time. So every message
has the same six places (`chat/ui/message.py`), prompt or reply, in the history or streaming;
the notices have three fixed places; and before the stream starts, the places a longer
conversation drew past this one's end are covered (`chat/ui/skeleton.py`). Nothing is drawn
after the stream but into places made before it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime import Runtime
from streamlit.runtime.runtime import RuntimeState
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from chat.accounts.auth import SignedIn
from chat.settings import Settings
from chat.turns.service import ChatService, Turn
from chat.ui.actions import edit_form, prompt_actions, reply_actions
from chat.ui.attachments import pictures_of
from chat.ui.components import bring_into_view
from chat.ui.markdown import GuardedStream, neutralise_images
from chat.ui.message import Places, draw_ending, draw_message, draw_reasoning
from chat.ui.pacing import pace
from chat.ui.reruns import check_for_interrupts, give_way, in_fragment_rerun, rerun_here, rerun_page
from chat.ui.skeleton import cover_leftovers
from chat.ui.state import ChatState
from chat.ui.turn_slots import EARLIER_FRAGMENT, drawing, drawn, last_slot, slot_key, slot_messages
from chat.ui.wording import running_usage

log = logging.getLogger(__name__)

NOT_FOUND = "Conversation not found. It may have been deleted, or the link is wrong."
# How many messages a conversation shows before "Show earlier": a long one opens, and a page's
# run draws, in the same time whatever its length. Twelve, not twenty: the page a late turn
# redraws is that much shorter (docs/benchmarks.md, "Twelve messages shown").
SHOWN = 12
# How many places each turn's slot and the earlier messages drew in their last runs (`cover_leftovers`).
DRAWN = "parley_conversation_places"
DRAWN_EARLIER = "parley_earlier_places"


def demo_banner(settings: Settings) -> None:
    """One line: the replies are canned, and what connects a real model."""
    if settings.demo_mode:
        st.caption(
            ":material/science: **Offline demo mode**: canned replies. Set `OPENAI_API_KEY` in `.env` for a model."
        )


def draw_conversation(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """The whole conversation in one run (a test's or a benchmark's script): what the chat's
    fragments draw (`chat/ui/chat_area.py`), one after the other."""
    draw_earlier(chat, user, service)
    draw_turns(chat, user, service)


def draw_earlier(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """The messages before the last turns ("Show earlier" above them). A full run of the page,
    or a prompt once the turns' slots are full (`chat.fold`, `chat/ui/turn_slots.py`), moves the
    line between them and the last turns (`chat.split`) to the last prompt; their own fragment's
    other reruns (a rating, "Show earlier") keep it, and a turn does not draw them at all."""
    drawing(chat, EARLIER_FRAGMENT)
    if chat.fold or not in_fragment_rerun():
        chat.fold = False
        chat.settle()
        _prompt_back(chat)
        chat.split = max((i for i, m in enumerate(chat.history) if m.role == "user"), default=len(chat.history))
        chat.layout += 1  # every slot is behind until it draws again
    split = min(chat.split, len(chat.history))
    with st.container():
        start = min(first_drawn(chat), split)
        _show_earlier(chat, start)
        _draw_history(chat, user, service, start, split)
        cover_leftovers(DRAWN_EARLIER, 1 + split - start)
    drawn(chat, EARLIER_FRAGMENT)


def draw_turns(
    chat: ChatState,
    user: SignedIn,
    service: ChatService,
    *,
    slot: int | None = None,
) -> None:
    """A turn since the line (`draw_earlier`), its slot's (`chat/ui/turn_slots.py`), or all of
    them (`slot` None) with their actions; the newest turn's slot then draws the notices and the
    reply that is still streaming, if any."""
    try:
        chat.settle()
        _prompt_back(chat)
        if slot is None:
            start, end, newest = min(chat.split, len(chat.history)), len(chat.history), True
        else:
            drawing(chat, slot_key(slot))
            (start, end), newest = slot_messages(chat, slot), slot == last_slot(chat)
        with st.container():
            _draw_history(chat, user, service, start, end)
            live = None
            if newest:
                chat.noticed = _draw_notices(chat)
                live = st.chat_message("assistant") if chat.turn is not None else None
            places = end - start + (len(NOTICE_PLACES) + (live is not None) if newest else 0)
            cover_leftovers(f"{DRAWN}_{slot}", places)
        if slot is not None:
            drawn(chat, slot_key(slot))
        if chat.turn is not None and live is not None:
            _stream(chat, chat.turn, user, service, live)
    except StopException:
        # Streamlit's own Stop (a reload, a closed tab, the server stopping), wherever the run
        # was: a stop by the user ends the reply and keeps what arrived; the others leave the
        # reply to its worker. A rerun (RerunException) is not caught: the next run picks the
        # same turn up.
        if chat.turn is not None and _stopped_by_the_user():
            chat.turn.stop()
        raise


def _prompt_back(chat: ChatState) -> None:
    """A reply just settled gave its prompt back (a model that sees no pictures): the page's own run
    puts it in the box and its files above it (`prompt_input`, drawn first, takes it)."""
    if chat.restore_prompt is not None:
        rerun_page()


def first_drawn(chat: ChatState) -> int:
    """The index of the first message drawn: the last `SHOWN` messages, from a prompt; further
    back if "Show earlier" was clicked, or to the message a search opened."""
    history = chat.history
    start = max(0, len(history) - SHOWN)
    if chat.first_shown is not None:
        start = min(start, chat.first_shown)
    if chat.focus is not None:
        found = next((i for i, m in enumerate(history) if m.id == chat.focus), None)
        if found is not None and found < start:
            start = chat.first_shown = found
    while 0 < start < len(history) and history[start].role != "user":
        start -= 1  # a reply is drawn under its prompt
    return start


def _show_earlier(chat: ChatState, start: int) -> None:
    """Above a conversation drawn from its middle: a button for the `SHOWN` messages before."""
    if start == 0:
        st.empty()
        return
    st.button(
        f"Show earlier messages ({start})",
        key="parley_show_earlier",
        icon=":material/expand_less:",
        type="tertiary",
        on_click=_reveal_earlier,
        args=(chat, start),
    )


def _reveal_earlier(chat: ChatState, start: int) -> None:
    chat.first_shown = max(0, start - SHOWN)


def _draw_history(chat: ChatState, user: SignedIn, service: ChatService, start: int, end: int) -> None:
    """The messages from `start` to `end` with their actions."""
    last_reply = len(chat.history) - 1 if chat.history and chat.history[-1].role == "assistant" else -1
    idle = chat.turn is None and chat.conversation_id is not None
    pictures = pictures_of(service, user.username)
    # The conversation's total by each reply, from its second reply with a usage on (by the first,
    # it is that reply's own).
    totals = running_usage(chat.history[:end], start=start, least=2)
    for index in range(start, end):
        message = chat.history[index]
        box = st.chat_message(message.role)
        with box:
            places = Places.in_order(box)  # settled: drawn in one pass, one element a place
            if message.id is not None and message.id == chat.focus:
                with places.found.container(gap=None):
                    st.caption(":material/search: The message you found")
                    bring_into_view(message.id)
            if message.role == "user" and idle and message.id is not None and message.id == chat.editing:
                with places.text.container():
                    edit_form(chat, user, service, message)
                places.actions.empty()
            else:
                draw_message(message, places, pictures)
                if message.role == "assistant":
                    last = idle and index == last_reply
                    reply_actions(chat, user, service, message, places.actions, last=last, so_far=totals[index - start])
                else:
                    prompt_actions(chat, user, service, message, places.actions)
            places.close()


NOTICE_PLACES = ("not found", "notice", "warning")


def _draw_notices(chat: ChatState) -> bool:
    """What went wrong or was set aside, below the messages and above the reply; each shown once,
    each in a place of its own (there whether or not it has anything to say). Whether any was."""
    not_found, notice, warning = (st.empty() for _ in NOTICE_PLACES)
    shown = chat.not_found or bool(chat.notice) or bool(chat.warning)
    if chat.not_found:
        not_found.error(NOT_FOUND, icon=":material/search_off:")
    if chat.notice:
        notice.error(neutralise_images(chat.notice))
        chat.notice = None
    if chat.warning:
        warning.warning(chat.warning, icon=":material/save:")
        chat.warning = None
    return shown


def _served() -> bool:
    """Whether a server runs this script. Not under AppTest, which puts a stand-in (a mock of
    `Runtime`, whose every answer is truthy) in place while it runs: with it, a Stop waited out
    `_stopped_by_the_user`'s whole second, and a test's reply ended meanwhile."""
    return Runtime.exists() and type(Runtime.instance()) is Runtime


def _stopped_by_the_user() -> bool:
    """Whether the script was stopped by the user rather than by its session going away.

    Streamlit stops a session's script when its browser disconnects or the server
    shuts down, just as it does for the Stop button; the session manager then drops
    the session (on its own thread), and a stopping server says so. The wait is long
    enough for a loaded machine: in CI, with the browser tests and a Docker build
    beside, a reload's session was dropped more than 150 ms after its script stopped,
    and a reply that should have gone on was stopped. The reply's own Stop is a button
    (`_stream`), not this path: only Streamlit's hidden Stop waits the whole second.
    """
    ctx = get_script_run_ctx()
    if ctx is None or not _served():
        return True  # no server around it (AppTest): only a Stop can have done it
    runtime = Runtime.instance()
    deadline = time.monotonic() + 1.0
    while True:
        if runtime.state in (RuntimeState.STOPPING, RuntimeState.STOPPED):
            return False
        if not runtime.is_active_session(ctx.session_id):
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.02)


def _interruptible(pieces: Iterator[str]) -> Iterator[str]:
    """The reply's pieces, giving way after each to a click made meanwhile (Stop among them)."""
    for piece in pieces:
        yield piece
        give_way()


def _stream(chat: ChatState, turn: Turn, user: SignedIn, service: ChatService, live: DeltaGenerator) -> None:
    """Stream the reply into its message (`live`), then finish that message in place: its
    ending, thumbs, copy and regenerate. No second run of the whole page: under load that run
    cost as much as the one that sent the prompt.

    The reply's one Stop control is a button in its actions' place: a click reruns the page
    (not Streamlit's stop, which would end this run before the reply's ending and actions are
    drawn), and that run stops the turn and draws the reply as it ended."""
    with live:
        places = Places.make()
    if places.actions.button("Stop", key="parley_stop", icon=":material/stop_circle:", type="tertiary"):
        turn.stop()
    # The image guard reads the whole reply so far on every piece; when what it shows
    # changes further back than the end, the stream is drawn again from the start.
    stream = GuardedStream(_interruptible(turn.follow(min_interval=pace(service), on_idle=check_for_interrupts)))
    streamed = ""
    for run in stream.runs():
        with places.text.container():
            streamed = str(st.write_stream(run) or "")
    turn.wait()
    chat.settle()  # the reply joins the history; one that could not be saved leaves a sentence
    message = turn.as_message()
    final = neutralise_images(message.content)
    if final != streamed:
        # The stream may have ended early (stopped, failed) or been cut into runs:
        # draw the reply as every later run will.
        if final:
            places.text.markdown(final)
        else:
            places.text.empty()
    draw_reasoning(places.reasoning, message.reasoning)
    draw_ending(places, message)
    _prompt_back(chat)
    if chat.notice or chat.warning:
        rerun_here()  # the sentence goes where every run shows it, above the input box
    settled = chat.history and chat.history[-1].id == message.id
    so_far = running_usage(chat.history, start=len(chat.history) - 1, least=2)[0] if settled else None
    reply_actions(chat, user, service, message, places.actions, last=True, so_far=so_far)
