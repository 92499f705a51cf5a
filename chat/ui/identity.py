"""Who a page run is for: the session the gate (`chat/web/gate.py`) vouched for.

The gate puts the session's hash and its process mark in the headers of the request the
page runs under; the script trusts them only with the mark, so a page served without the
gate (`streamlit run router.py`, or an `app.py` Streamlit could not read) signs nobody in.

The one test hook: AppTest runs a page with no request at all (no headers, no cookies),
so there, and only there, the session hash is taken from `st.session_state[TEST_SESSION]`,
which a test sets (`tests/apptest_helpers.py`). A browser's run always has its request's
headers, so production never reads it.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

import streamlit as st
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from chat.web.gate import MARK_HEADER, PROCESS_MARK, SESSION_HEADER

TEST_SESSION = "parley_test_session"
NOT_GATED = (
    "This page was served without Parley's sign-in gate. Start Parley with `make run` or "
    "`streamlit run app.py` (not router.py)."
)


class NotGated(Exception):
    """The run's request did not pass the gate."""


def session_hash() -> str | None:
    """The hash of the session this run is for, as the gate saw it; None if there is none.
    Raises NotGated when the request did not pass the gate."""
    headers = st.context.headers
    if not headers:  # no request behind this run: AppTest
        value = st.session_state.get(TEST_SESSION)
        return value if isinstance(value, str) else None
    if headers.get(MARK_HEADER) != PROCESS_MARK:
        raise NotGated(NOT_GATED)
    return headers.get(SESSION_HEADER) or None


def redirect(url: str) -> None:
    """Send the browser to one of Parley's own URLs (the way `st.login` does)."""
    context = get_script_run_ctx()
    if context is None:
        return
    message = ForwardMsg()
    message.auth_redirect.url = url
    context.enqueue(message)


def go_button(label: str, url: str, *, key: str, icon: str | None = None) -> None:
    """A button that takes this tab to one of Parley's own pages (`st.link_button` opens a new tab)."""
    st.button(label, key=key, icon=icon, on_click=redirect, args=(url,))


def here() -> str:
    """The page this run draws, with its query, for `/signin?next=`."""
    path = urlsplit(st.context.url or "").path or "/"
    query = urlencode(st.query_params.to_dict())
    return path + (f"?{query}" if query else "")


def signin_url(reason: str) -> str:
    return f"/signin?reason={reason}&next={quote(here(), safe='')}"
