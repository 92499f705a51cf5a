"""Rerunning what needs it: the chat's fragment alone when a fragment run asks, else the page.

The chat screen's turns run as a fragment (`chat/ui/chat_area.py`): a widget inside it reruns
only it. Streamlit refuses a fragment-scoped rerun during a full run of the page, so code that
runs in both asks here which one it is in.

And a click on a widget inside a fragment (the reply's Stop button, a rating, "Show earlier")
does not interrupt a run in progress: Streamlit lets the run finish first, so that a fragment
never cuts a full run short (`_fragment_run_should_not_preempt_script` in its
`script_requests.py`). A run that streams a reply lasts as long as the reply, so it looks for a
waiting request itself (`rerun_waiting`) and gives way to it, as a full run gave way to any
click before the chat was a fragment: the next run follows the same reply on.
"""

from __future__ import annotations

from typing import NoReturn

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx


def in_fragment_rerun() -> bool:
    """Whether this run is a fragment's own (the page script above it did not run)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def rerun_here() -> NoReturn:
    """Run again what this run is: the fragment alone, or the whole page."""
    st.rerun(scope="fragment" if in_fragment_rerun() else "app")


def rerun_page() -> NoReturn:
    """Run the whole page again, from a fragment too (the sidebar and the options are outside it)."""
    st.rerun(scope="app")


def rerun_waiting() -> bool:
    """Whether a rerun was asked for since this run started (a widget's, not yet begun).

    Streamlit has no public way to ask: this reads its request queue's state, the field its
    own `on_scriptrunner_yield` reads (Streamlit 1.67; `tests/unit/test_reruns.py` holds the
    pinned version to it)."""
    ctx = get_script_run_ctx()
    requests = ctx.script_requests if ctx is not None else None
    return requests is not None and getattr(requests, "_state", None) == ScriptRequestType.RERUN


def give_way() -> None:
    """Rerun now if a widget asked for a rerun while this run goes on (see the module's note)."""
    if rerun_waiting():
        rerun_here()


def check_for_interrupts() -> None:
    """A point where a long wait of the script lets others in: any session-state access lets
    Streamlit raise a pending stop or a full run's rerun, and a click inside a fragment waits for
    this run unless it gives way (`give_way`)."""
    st.session_state.get("parley_interrupt_check")
    give_way()
