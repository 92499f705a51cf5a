"""The sign-in every page run passes, the sidebar's account box and the forced password
change.

Signing in and out happens over HTTP (`chat/web/signin.py`); a page run only checks that
the session the gate vouched for is still live, on every run, and sends the browser to
`/signin` with a sentence when it is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.errors import ChatError, ConfigError
from chat.settings import Settings
from chat.ui.components import skip_link
from chat.ui.identity import NotGated, redirect, session_hash, signin_url
from chat.ui.layout import reserve_page_sidebar
from chat.ui.markdown import plain
from chat.ui.reruns import in_fragment_rerun, rerun_page
from chat.ui.resources import accounts, stop_page
from chat.ui.state import CHAT, USER, ChatState, current_user, forget_chat
from chat.web import csrf
from chat.web.signin import SIGNOUT

SESSION_ENDED = "Your sign-in has ended (expired, signed out elsewhere, or the account changed). Please sign in again."


def signed_in_user(settings: Settings) -> SignedIn:
    """Who this run is for, checked against the session table on every run: a sign-out, an
    expiry or a removal from `auth.yaml` ends it from the next run on. Anyone else is sent to
    the sign-in page and the run stops; a user who must first change a printed password gets
    that form and nothing more."""
    gate = accounts(settings)
    try:
        gate.users()
        hashed = session_hash()
        user = gate.resume(hashed) if hashed is not None else None
    except (ConfigError, NotGated) as error:
        stop_page(str(error))
    except ChatError as error:
        stop_page(error.message)
    if user is None:
        _leave(ended=hashed is not None)
    _remember(user)
    reserve_page_sidebar()  # the page's sidebar content goes above the account
    _account_sidebar(user, settings)
    if user.must_change_password:  # the gate sends page loads to /password; a tab open since, too
        _alone("Change your password", _to_password_page)
    return user


def fragment_user(settings: Settings) -> SignedIn:
    """The same check for a fragment's own rerun, which does not pass through `router.py`: the
    user again if the session is live and may chat, else a rerun of the whole page, whose check
    says why (or sends the browser to sign in)."""
    user = current_user()
    if not in_fragment_rerun():
        return user  # `router.py` checked this very run
    try:
        hashed = session_hash()
        fresh = accounts(settings).resume(hashed) if hashed is not None else None
    except (ChatError, ConfigError, NotGated):
        fresh = None
    if fresh is None or fresh.username != user.username or fresh.must_change_password:
        rerun_page()
    st.session_state[USER] = fresh
    return fresh


def _leave(*, ended: bool) -> NoReturn:
    """To the sign-in page, saying why. A prompt sent just as the session ended stays on
    screen to copy: the browser is not sent away from it."""
    chat = st.session_state.get(CHAT)
    draft = chat.pending_prompt if isinstance(chat, ChatState) else None
    forget_chat()
    url = signin_url("ended" if ended else "expired")

    def draw() -> None:
        if draft:
            st.warning(SESSION_ENDED + " Your last message was not sent; it is below to copy.")
            st.code(draft, language=None, wrap_lines=True)
        else:
            st.info(SESSION_ENDED)
            redirect(url)
        st.link_button("Sign in again", url, type="primary")

    _alone("Sign in", draw)


def _alone(title: str, draw: Callable[[], None]) -> NoReturn:
    """Draw one thing at whatever URL the browser asked for, and end the run: no page of the
    app is registered, so none can be reached."""
    st.navigation([st.Page(draw, title=title, url_path="signin-needed")], position="hidden").run()
    st.stop()
    raise AssertionError("st.stop() returned")


def _to_password_page() -> None:
    st.info("Your password was printed when your account was made: choose your own before anything else.")
    redirect("/password")
    st.link_button("Choose your password", "/password", type="primary")


def _remember(user: SignedIn) -> None:
    previous = st.session_state.get(USER)
    if not isinstance(previous, SignedIn) or previous.username != user.username:
        forget_chat()  # never show one user's chat to the next in the same tab
    st.session_state[USER] = user


# Streamlit's own secondary button, for a plain HTML one.
_SIGNOUT_CSS = (
    ".parley-signout button { font: inherit; color: inherit; background: transparent; cursor: pointer;"
    " border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem; padding: 0.25rem 0.75rem;"
    " min-height: 2.5rem; line-height: 1.6; }"
    " .parley-signout button:hover { border-color: #ff4b4b; color: #ff4b4b; }"
    " .parley-signout button:focus-visible { outline: 2px solid #ff4b4b; outline-offset: 1px; }"
)


def _account_sidebar(user: SignedIn, settings: Settings) -> None:
    """Who is signed in, and sign-out: a plain form posted to `/signout` (the session cookie
    is HttpOnly, so only an HTTP response can clear it), with its CSRF token."""
    token = csrf.CsrfKey(settings.cookie_key.get_secret_value()).token(SIGNOUT, user.session_hash)
    st.sidebar.markdown(f"Signed in as **{plain(user.name)}**")
    st.sidebar.html(
        f"<style>{_SIGNOUT_CSS}</style>"
        '<form method="post" action="/signout" class="parley-signout">'
        f'<input type="hidden" name="{csrf.FIELD}" value="{token}">'
        '<button type="submit">Sign out</button></form>'
    )
    with st.sidebar:
        skip_link()  # at the sidebar's end, where its element takes no room that shows
