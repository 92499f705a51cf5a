"""Sign-in: the login gate every run passes, the login form, the forced password change,
sign-out and changing one's own password. Self-contained with `chat/ui/cookie.py`: issue 18
replaces both with an HTTP sign-in."""

from __future__ import annotations

import streamlit as st

from chat.accounts import signins
from chat.accounts.auth import WRONG_CREDENTIALS, Accounts, SignedIn
from chat.accounts.peer import ForwardingRule
from chat.errors import ChatError, ConfigError, StorageError
from chat.settings import Settings
from chat.ui.cookie import cookie_writer, queue_cookie_write
from chat.ui.markdown import neutralise_images, plain
from chat.ui.resources import accounts, stop_page
from chat.ui.state import CHAT, USER, ChatState, chat_state, forget_chat

JUDGED_COOKIE = "parley_judged_cookie"  # the hash of the request cookie this session has judged
TOKEN_ID = "parley_token_id"  # the jti of this session's cookie: a delete names it (see chat/ui/cookie.py)
PASSWORD_CHANGED = "parley_password_changed"
DRAFT = "parley_draft"  # (username, prompt) sent just as the session ended
AUTH_NOTICE = "parley_auth_notice"  # why the login form is shown (signed out, expired...)

SESSION_ENDED = "Your sign-in has ended (expired, signed out elsewhere, or the account changed). Please sign in again."
COOKIE_REFUSED = "Your sign-in has expired or is no longer valid. Please sign in again."
LOGGED_NOTICE = "Conversations in Parley are logged, and Parley's admins can read them."


def _users_or_stop(gate: Accounts) -> None:
    try:
        gate.users()
    except ConfigError as error:
        stop_page(error.message)


def _client_address(settings: Settings) -> str:
    """The address the sign-in throttle counts by (chat/accounts/peer.py). Raises InputError
    when uvicorn may have replaced the peer with a header's word for it."""
    # Streamlit gives no address for a loopback peer (a proxy on the same host).
    peer = st.context.ip_address
    headers = st.context.headers
    # Every X-Forwarded-For line, in order: a proxy may append its own line rather than
    # extend the client's, and only the hops on the right can be believed.
    forwarded = ", ".join(headers.get_all("X-Forwarded-For")) if hasattr(headers, "get_all") else ""
    rule = ForwardingRule.of(settings.forwarded_allow_ips, settings.trusted_proxies)
    return rule.address(
        peer if isinstance(peer, str) and peer else None,
        forwarded if isinstance(forwarded, str) and forwarded else None,
    )


def _resume(gate: Accounts, hashed: str) -> SignedIn | None:
    try:
        return gate.resume(hashed)
    except ChatError as error:
        stop_page(error.message)


def login_gate(settings: Settings) -> SignedIn | None:
    """Who this run is for: checked against the session table on every run, so a
    sign-out, an expiry or a removal from `auth.yaml` ends it from the next run on.

    Draws the login form (not signed in), the forced password change (a printed
    password), or the account sidebar (signed in). The sign-in cookie is read from the
    page's request and judged once per browser session; the session's row, not the
    cookie, is what vouches for the user afterwards.
    """
    gate = accounts(settings)
    _users_or_stop(gate)
    user, notice = _returning_user(gate, settings)
    if user is not None and _account_sidebar(gate, user):
        user, notice = None, "You have signed out."
    if user is None:
        forget_chat()
        st.session_state[AUTH_NOTICE] = notice
        user = _login_form(gate, settings, notice)
        if user is not None:
            _account_sidebar(gate, user)  # signed in by the form in this run
    if user is not None and user.must_change_password:
        _forced_password_change(gate, user, settings)
        cookie_writer(settings)
        return None
    cookie_writer(settings)
    if user is not None:
        st.session_state.pop(AUTH_NOTICE, None)
        _remember(user)
        password_changed_notice()
    return user


def _returning_user(gate: Accounts, settings: Settings) -> tuple[SignedIn | None, str | None]:
    """The user this browser session was signed in as, if their session still holds, else
    the one its request's cookie names; and the notice the login form shows otherwise."""
    state = st.session_state
    notice: str | None = state.get(AUTH_NOTICE)  # kept until the next sign-in: later runs show it too
    user = state.get(USER)
    if not isinstance(user, SignedIn):
        return _cookie_user(gate, settings, notice)
    resumed = _resume(gate, user.session_hash)
    if resumed is None:
        _keep_draft(user.username)
        queue_cookie_write({"delete": True, "only": state.get(TOKEN_ID)})
        return None, SESSION_ENDED
    return resumed, notice


def _cookie_user(gate: Accounts, settings: Settings, notice: str | None) -> tuple[SignedIn | None, str | None]:
    """The user the request's sign-in cookie names, judged once per browser session."""
    state = st.session_state
    cookie = st.context.cookies.get(settings.cookie_name)
    if not isinstance(cookie, str) or not cookie or signins.token_hash(cookie) == state.get(JUDGED_COOKIE):
        return None, notice
    try:
        user = gate.from_cookie(cookie)
    except ChatError as error:
        stop_page(error.message)  # not judged: the next run tries the cookie again
    state[JUDGED_COOKIE] = signins.token_hash(cookie)  # the request's cookie never changes: judge it once
    state[TOKEN_ID] = signins.token_id(cookie)
    if user is None:
        queue_cookie_write({"delete": True, "only": state[TOKEN_ID]})
        return None, COOKIE_REFUSED
    return user, notice


def _forced_password_change(gate: Accounts, user: SignedIn, settings: Settings) -> None:
    """A password printed when the account was made is changed before anything else is shown."""
    _remember(user)
    st.title("Parley")
    st.info(f"Welcome, {plain(user.name)}. Your password was printed when the account was made: choose your own now.")
    password_form(gate, user, settings)


def _remember(user: SignedIn) -> None:
    previous = st.session_state.get(USER)
    if not isinstance(previous, SignedIn) or previous.username != user.username:
        forget_chat()  # never show one user's chat to the next in the same tab
        owner, draft = st.session_state.pop(DRAFT, None) or (None, None)
        if owner == user.username and draft:
            chat_state().restore_prompt = draft  # what they sent as their session ended
    st.session_state[USER] = user


def _keep_draft(username: str) -> None:
    """A prompt sent in the run that found the session ended is kept for its author's
    next sign-in in this tab (and for nobody else)."""
    chat = st.session_state.get(CHAT)
    if isinstance(chat, ChatState) and chat.pending_prompt:
        st.session_state[DRAFT] = (username, chat.pending_prompt)


def _login_form(gate: Accounts, settings: Settings, notice: str | None) -> SignedIn | None:
    """The login form; the user if it signed someone in during this run."""
    slot = st.empty()
    with slot.container():
        st.title("Parley")
        # Cleared after each attempt: a typed password must not stay in the page (React mirrors
        # an input's value into its DOM attribute).
        with st.form("parley_login", clear_on_submit=True):
            st.subheader("Sign in")
            username = st.text_input("Username", autocomplete="username")
            password = st.text_input("Password", type="password", autocomplete="current-password")
            submitted = st.form_submit_button("Sign in")
        message = st.empty()
        st.caption(LOGGED_NOTICE)
    if not submitted:
        if notice:
            message.info(notice)
        return None
    try:
        address = _client_address(settings)
    except ChatError as error:
        message.error(error.message)
        return None
    result = gate.sign_in(username, password, address)
    if result.user is None or result.token is None or result.expires_at is None:
        message.error(result.error or WRONG_CREDENTIALS)
        return None
    # The cookie is written by the browser; this session is signed in already.
    queue_cookie_write({"value": result.token, "expires": int(result.expires_at.timestamp())})
    st.session_state[JUDGED_COOKIE] = signins.token_hash(result.token)
    st.session_state[TOKEN_ID] = signins.token_id(result.token)
    slot.empty()
    return result.user


def _account_sidebar(gate: Accounts, user: SignedIn) -> bool:
    """Who is signed in, and the sign-out button. True if the user signed out now."""
    name = st.sidebar.empty()
    name.markdown(f"Signed in as **{plain(user.name)}**")
    if not st.sidebar.button("Sign out", key="parley_sign_out"):
        return False
    try:
        gate.sign_out(user.session_hash)
    except StorageError as error:
        st.sidebar.error(error.message)
        return False
    name.empty()
    queue_cookie_write({"delete": True, "only": st.session_state.get(TOKEN_ID)})
    return True


def password_form(gate: Accounts, user: SignedIn, settings: Settings) -> None:
    """Change one's own password: current one required; the new one is written by the
    same locked writer as `python -m chat users passwd`."""
    with st.form("parley_password", clear_on_submit=True):
        st.subheader("Change your password")
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input("New password", type="password", autocomplete="new-password")
        repeat = st.text_input("Repeat the new password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return
    try:
        gate.change_password(user, current, new, repeat, _client_address(settings))
    except ChatError as error:  # a database error too, as a sentence (Accounts translates it)
        st.error(neutralise_images(error.message))
        return
    st.session_state[PASSWORD_CHANGED] = True
    st.rerun()  # the account now reads without the forced change


def password_changed_notice() -> None:
    if st.session_state.pop(PASSWORD_CHANGED, False):
        st.success("Your password was changed. Your other sessions have been signed out.")
