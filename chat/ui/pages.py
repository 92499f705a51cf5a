"""The only module of `chat` that imports Streamlit: shared resources and widgets.

Cached resources here are shared by every session, so they hold nothing that
belongs to one user: settings, the database engine, the model client. Anything
per user lives in `st.session_state`.
"""

from __future__ import annotations

import atexit
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import streamlit as st
import streamlit.components.v2 as components_v2
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime import Runtime
from streamlit.runtime.runtime import RuntimeState
from streamlit.runtime.scriptrunner_utils.exceptions import StopException
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from chat.accounts import signins as sessions
from chat.accounts.auth import WRONG_CREDENTIALS, Accounts, SignedIn
from chat.accounts.peer import ForwardingRule
from chat.db.search import HIGHLIGHT_END, HIGHLIGHT_START
from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.errors import ChatError, ConfigError, InputError, StorageError
from chat.ops import export
from chat.ops.reports import Reports
from chat.settings import Settings
from chat.turns.service import ChatService, ConversationOptions, Turn, clean_prompt
from chat.turns.wiring import open_service
from chat.ui.markdown import GuardedStream, neutralise_images, plain
from chat.ui.pacing import pace
from chat.ui.wording import conversation_usage, usage_note

log = logging.getLogger(__name__)

CHAT = "parley_chat"
USER = "parley_user"
PROMPT = "parley_prompt"
COOKIE_WRITE = "parley_cookie_write"
JUDGED_COOKIE = "parley_judged_cookie"  # the hash of the request cookie this session has judged
TOKEN_ID = "parley_token_id"  # the jti of this session's cookie: a delete names it (see _COOKIE_JS)
PASSWORD_CHANGED = "parley_password_changed"
DRAFT = "parley_draft"  # (username, prompt) sent just as the session ended
AUTH_NOTICE = "parley_auth_notice"  # why the login form is shown (signed out, expired...)


# --- shared resources ----------------------------------------------------------------


def _stop(message: str) -> NoReturn:
    """Show why the page cannot go on, and end this run."""
    st.error(neutralise_images(message))
    st.stop()
    raise AssertionError("st.stop() returned")


def settings_or_stop() -> Settings:
    """The validated settings; a configuration problem stops the page with its reason."""
    try:
        return Settings.from_env()
    except ConfigError as error:
        _stop(error.message)


@st.cache_resource(show_spinner=False, hash_funcs={Settings: hash})
def _service(settings: Settings) -> ChatService:
    service = open_service(settings)  # a ChatError if the database cannot be opened
    # Replies are written by daemon threads, which the interpreter would cut off at exit
    # (Streamlit exits this way on SIGTERM or Ctrl+C): end them first, saved as interrupted.
    atexit.register(service.shutdown)
    return service


def chat_service(settings: Settings) -> ChatService:
    try:
        return _service(settings)
    except ChatError as error:
        _stop(error.message)


# --- sign-in -----------------------------------------------------------------------------

SESSION_ENDED = "Your sign-in has ended (expired, signed out elsewhere, or the account changed). Please sign in again."
COOKIE_REFUSED = "Your sign-in has expired or is no longer valid. Please sign in again."
LOGGED_NOTICE = "Conversations in Parley are logged, and Parley's admins can read them."


@st.cache_resource(show_spinner=False, hash_funcs={Settings: hash})
def _accounts(settings: Settings) -> Accounts:
    return Accounts(settings, _service(settings).sessions)


def accounts(settings: Settings) -> Accounts:
    chat_service(settings)  # opens the database, or stops the page saying why
    return _accounts(settings)


def _users_or_stop(accounts: Accounts) -> None:
    try:
        accounts.users()
    except ConfigError as error:
        _stop(error.message)


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


def _resume(accounts: Accounts, hashed: str) -> SignedIn | None:
    try:
        return accounts.resume(hashed)
    except ChatError as error:
        _stop(error.message)


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
    state = st.session_state
    notice: str | None = state.get(AUTH_NOTICE)  # kept until the next sign-in: later runs show it too
    user = state.get(USER)
    if isinstance(user, SignedIn):
        previous, user = user, _resume(gate, user.session_hash)
        if user is None:
            _keep_draft(previous.username)
            notice = SESSION_ENDED
            _queue_cookie_write({"delete": True, "only": state.get(TOKEN_ID)})
    else:
        user = None
        cookie = st.context.cookies.get(settings.cookie_name)
        if isinstance(cookie, str) and cookie and sessions.token_hash(cookie) != state.get(JUDGED_COOKIE):
            try:
                user = gate.from_cookie(cookie)
            except ChatError as error:
                _stop(error.message)  # not judged: the next run tries the cookie again
            state[JUDGED_COOKIE] = sessions.token_hash(cookie)  # the request's cookie never changes: judge it once
            state[TOKEN_ID] = sessions.token_id(cookie)
            if user is None:
                notice = COOKIE_REFUSED
                _queue_cookie_write({"delete": True, "only": state[TOKEN_ID]})

    if user is not None and _account_sidebar(gate, user):
        user, notice = None, "You have signed out."
    if user is None:
        forget_chat()
        state[AUTH_NOTICE] = notice
        user = _login_form(gate, settings, notice)
        if user is not None:
            _account_sidebar(gate, user)  # signed in by the form in this run
    if user is not None and user.must_change_password:
        _remember(user)
        st.title("Parley")
        st.info(
            f"Welcome, {plain(user.name)}. Your password was printed when the account was made: choose your own now."
        )
        password_form(gate, user, settings)
        _cookie_writer(settings)
        return None
    _cookie_writer(settings)
    if user is not None:
        state.pop(AUTH_NOTICE, None)
        _remember(user)
        password_changed_notice()
    return user


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
    _queue_cookie_write({"value": result.token, "expires": int(result.expires_at.timestamp())})
    st.session_state[JUDGED_COOKIE] = sessions.token_hash(result.token)
    st.session_state[TOKEN_ID] = sessions.token_id(result.token)
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
    _queue_cookie_write({"delete": True, "only": st.session_state.get(TOKEN_ID)})
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


def still_signed_in(user: SignedIn) -> bool:
    """For widget callbacks and lazy downloads: Streamlit runs them before the script,
    so before `login_gate`, with the user of the previous run. Each checks the session
    itself, so nothing is done for a session that ended meanwhile."""
    try:
        return _accounts(Settings.from_env()).resume(user.session_hash) is not None
    except ChatError:
        return False


def _exported(user: SignedIn, make: Callable[[], str]) -> Callable[[], str]:
    return lambda: make() if still_signed_in(user) else "Your sign-in has ended. Sign in again to export.\n"


def current_user() -> SignedIn:
    user = st.session_state.get(USER)
    if not isinstance(user, SignedIn):
        st.stop()  # only reachable by running a page without app.py's gate
    return user


def require_admin() -> SignedIn:
    """The signed-in admin; anyone else gets nothing of the page (not even its title)."""
    user = current_user()
    if not user.is_admin:
        st.stop()
    return user


# The sign-in cookie is set from the browser by a small inline component (no iframe);
# the token goes in as data. It is drawn on every run until the browser confirms the
# write: a run that starts before the component has run would otherwise remove it.
_COOKIE_JS = """
function currentCookie(name) {
  const entry = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return entry ? entry.slice(name.length + 1) : "";
}
function tokenId(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).jti || null;
  } catch (error) {
    return null;
  }
}
export default function (component) {
  const { data, setStateValue } = component;
  if (!data) return;
  // Each write runs once per tab: a later run may draw a write again before its confirmation
  // came back, and an old sign-in's cookie must not come back over a newer one.
  const done = (window.parleyCookieWrites ??= new Set());
  if (done.has(data.serial)) {
    setStateValue("done", data.serial);
    return;
  }
  done.add(data.serial);
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const attributes = "; Path=/; SameSite=Strict" + secure;
  // A delete names the sign-in it ends (its token's jti): a newer sign-in made in another
  // tab meanwhile has written its own cookie, which an old tab must leave alone.
  if (data.delete && data.only && tokenId(currentCookie(data.name)) !== data.only) {
    setStateValue("done", data.serial);
    return;
  }
  document.cookie = data.delete
    ? `${data.name}=${attributes}; Max-Age=0`
    : `${data.name}=${data.value}${attributes}; Expires=${new Date(data.expires * 1000).toUTCString()}`;
  setStateValue("done", data.serial);
}
"""
_cookie_component = components_v2.component("parley_cookie", js=_COOKIE_JS)


def _queue_cookie_write(write: dict[str, Any]) -> None:
    previous = st.session_state.get(COOKIE_WRITE)
    serial = previous["serial"] + 1 if previous else int(time.time() * 1000)
    st.session_state[COOKIE_WRITE] = {**write, "serial": serial}


def _cookie_writer(settings: Settings) -> None:
    pending = st.session_state.get(COOKIE_WRITE)
    if pending is None:
        return
    result = _cookie_component(
        key=f"parley_cookie_{pending['serial']}",
        data={**pending, "name": settings.cookie_name},
        on_done_change=_ignore,
    )
    if result.get("done") == pending["serial"]:
        st.session_state.pop(COOKIE_WRITE, None)


def _ignore() -> None:
    pass


# --- the chat ----------------------------------------------------------------------------


@dataclass
class ChatState:
    """One session's chat, kept in `st.session_state` as a single plain object.

    Reading or writing `st.session_state` is a point where Streamlit may raise a
    pending rerun or stop. Changes to this object are not, so a turn is recorded
    in it all at once or not at all.
    """

    history: list[ChatMessage] = field(default_factory=list)
    turn: Turn | None = None
    conversation_id: str | None = None
    notice: str | None = None
    warning: str | None = None  # the log is not taking writes: this turn waits on disk
    restore_prompt: str | None = None
    pending_prompt: str | None = None  # submitted, not yet sent (see `prompt_input`)
    url_id: str | None = None  # the conversation id this session last put in the URL
    confirm_delete: str | None = None
    options: ConversationOptions | None = None  # the open conversation's, or those chosen for a new one
    not_found: bool = False  # shown until the user opens or starts something else
    focus: int | None = None  # a message opened from search results
    editing: bool = False  # the last prompt is being edited

    def settle(self) -> None:
        """Move a finished reply into the history, once."""
        turn = self.turn
        if turn is not None and turn.done:
            self.turn = None
            self.history.append(turn.as_message())
            if turn.save_error and turn.save_error.kind == "spooled":
                self.warning = turn.save_error.message
            elif turn.save_error:
                self.notice = turn.save_error.message

    def start_new(self) -> None:
        self.editing = False
        # A reply still being written goes on in its worker, which saves it; reopening
        # its conversation (here, after a reload, in another tab) follows it again.
        self.turn = None
        self.history, self.conversation_id, self.confirm_delete, self.options = [], None, None, None
        self.not_found = False

    def show(
        self, conversation_id: str, messages: list[ChatMessage], options: ConversationOptions, running: Turn | None
    ) -> None:
        """Show a conversation loaded from the log; `running`: its last reply, still being written."""
        self.conversation_id, self.confirm_delete, self.options = conversation_id, None, options
        self.not_found, self.editing = False, False
        self.turn = None
        if running is not None and messages and messages[-1].id == running.reply_id:
            # The log holds the reply as far as it got; the turn draws all of it and what follows.
            messages = messages[:-1]
            self.turn = running
        self.history = messages


def chat_state() -> ChatState:
    state = st.session_state.get(CHAT)
    if not isinstance(state, ChatState):
        state = ChatState()
        st.session_state[CHAT] = state
    return state


def forget_chat() -> None:
    """Sign-out: drop the chat from this browser session (a reply being written goes
    on and is saved: only Stop ends one early)."""
    for key in (CHAT, USER, PROMPT, AUDIT):
        st.session_state.pop(key, None)


NOT_FOUND = "Conversation not found. It may have been deleted, or the link is wrong."


def follow_url(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """Open the conversation the URL names, when the URL (not this session) changed it:
    a reload, a bookmark, a second tab, the browser's back button."""
    requested = st.query_params.get("c")
    if requested == chat.url_id:
        return
    chat.url_id = requested
    if requested is not None:
        _open_conversation(chat, user, service, requested)
        chat.focus = _message_id(st.query_params.get("m", ""))


_MESSAGE_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only, within a 64-bit integer


def _message_id(text: str) -> int | None:
    """A message id from the URL, or None: `str.isdigit()` also accepts '²' and other digits `int()` refuses."""
    return int(text) if _MESSAGE_ID.fullmatch(text) else None


def sync_url(chat: ChatState) -> None:
    """Put the open conversation's id in the URL, so a reload or a bookmark comes back to it."""
    if chat.conversation_id == chat.url_id:
        return
    st.query_params.pop("m", None)
    if chat.conversation_id is None:
        st.query_params.pop("c", None)
    else:
        st.query_params["c"] = chat.conversation_id
    chat.url_id = chat.conversation_id
    chat.focus = None


def conversation_sidebar(chat: ChatState, user: SignedIn, service: ChatService) -> DeltaGenerator:
    """New chat, the user's conversations (newest first), and rename or delete for the open one.

    Returns the place for the open conversation's usage, filled by `show_usage` once
    the page has drawn (and maybe streamed) its replies."""
    usage_slot = st.sidebar.empty()
    with st.sidebar:
        st.button(
            "New chat",
            icon=":material/edit_square:",
            key="parley_new_chat",
            width="stretch",
            on_click=chat.start_new,
        )
        conversations = service.conversations(user.username)
        if conversations:
            st.caption("Your conversations")
        for conversation in conversations:
            st.button(
                plain(conversation.title),  # a label renders Markdown: a title is the user's words
                key=f"parley_open_{conversation.id}",
                type="primary" if conversation.id == chat.conversation_id else "tertiary",
                width="stretch",
                on_click=_open_conversation,
                args=(chat, user, service, conversation.id),
            )
        current = next((c for c in conversations if c.id == chat.conversation_id), None)
        if current is not None:
            usage_slot = st.empty()
            _manage_conversation(chat, user, service, current.id, current.title)
        if conversations:
            st.download_button(
                "Export all (JSON)",
                _exported(user, lambda: export.as_json(export.user_export(service.sessions, user.username))),
                file_name=f"parley-{user.username}.json",
                mime="application/json",
                key="parley_export_all",
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )
    return usage_slot


def show_usage(slot: DeltaGenerator, chat: ChatState) -> None:
    usage = conversation_usage(chat.history) if chat.conversation_id else None
    if usage:
        slot.caption(f"This conversation: {usage}")


def _open_conversation(chat: ChatState, user: SignedIn, service: ChatService, conversation_id: str) -> None:
    if not still_signed_in(user):
        return
    messages = service.open_conversation(user.username, conversation_id)
    options = service.conversation_options(user.username, conversation_id) if messages is not None else None
    if messages is None or options is None:
        chat.start_new()
        chat.not_found = True
        return
    running = None
    if messages and messages[-1].status == ReplyStatus.STREAMING:
        running = service.running_turn(user.username, messages[-1].id)
        if running is None:  # it may have ended between the two reads: read once more
            messages = service.open_conversation(user.username, conversation_id) or messages
    chat.show(conversation_id, messages, options, running)


def options_panel(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """Model, system prompt and temperature of the open conversation (or of the next new one)."""
    current = chat.options or service.default_options()
    key = chat.conversation_id or "new"
    with st.expander(f"{plain(current.model)} · settings", icon=":material/tune:"):
        models = service.available_models()
        if current.model not in models:
            models = [current.model, *models]
        model = st.selectbox("Model", models, index=models.index(current.model), key=f"parley_model_{key}")
        system_prompt = st.text_area(
            "System prompt", value=current.system_prompt, max_chars=8000, key=f"parley_system_{key}"
        )
        server_default = st.checkbox(
            "Use the server's default temperature", value=current.temperature is None, key=f"parley_tdefault_{key}"
        )
        temperature = None
        if not server_default:
            start = 1.0 if current.temperature is None else current.temperature
            temperature = st.slider("Temperature", 0.0, 2.0, value=start, step=0.1, key=f"parley_temp_{key}")
        chosen = ConversationOptions(model=str(model), system_prompt=system_prompt, temperature=temperature)
        if chosen == current:
            return
        try:
            if chat.conversation_id is not None:
                service.set_conversation_options(user.username, chat.conversation_id, chosen)
            chat.options = chosen.checked()
        except ChatError as error:
            st.error(neutralise_images(error.message))


def _manage_conversation(chat: ChatState, user: SignedIn, service: ChatService, cid: str, title: str) -> None:
    with st.expander("Rename, export or delete", icon=":material/edit:"):
        new_title = st.text_input("Title", value=title, key=f"parley_title_{cid}", max_chars=200)
        if st.button("Rename", key=f"parley_rename_{cid}") and new_title.strip() != title:
            try:
                service.rename_conversation(user.username, cid, new_title)
            except ChatError as error:
                st.error(neutralise_images(error.message))
            else:
                st.rerun()

        def one(render: Callable[[dict[str, Any]], str]) -> Callable[[], str]:
            # Built only when clicked: a long conversation costs nothing until then.
            return _exported(user, lambda: render(export.user_export(service.sessions, user.username, cid)))

        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            one(lambda doc: export.as_markdown(doc["conversations"][0])),
            file_name=f"parley-{cid[:8]}.md",
            mime="text/markdown",
            key=f"parley_md_{cid}",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            one(export.as_json),
            file_name=f"parley-{cid[:8]}.json",
            mime="application/json",
            key=f"parley_json_{cid}",
            icon=":material/download:",
            on_click="ignore",
        )
        if chat.confirm_delete != cid:
            if st.button("Delete…", key=f"parley_delete_{cid}", icon=":material/delete:"):
                chat.confirm_delete = cid
                st.rerun()
            return
        st.warning(
            f"Delete “{plain(title)}”? It disappears from your conversations at once. The audit log keeps "
            "it until the retention period set by the admins ends."
        )
        confirm, cancel = st.columns(2)
        if confirm.button("Delete", key=f"parley_delete_confirm_{cid}", type="primary"):
            service.delete_conversation(user.username, cid)
            chat.start_new()
            st.rerun()
        if cancel.button("Cancel", key=f"parley_delete_cancel_{cid}"):
            chat.confirm_delete = None
            st.rerun()


def history_page(user: SignedIn, service: ChatService) -> None:
    """Search over the user's own messages; each result opens its conversation at that message."""
    st.title("History")
    query = st.text_input(
        "Search your conversations", key="parley_search", placeholder="Every word must match; the last may be cut short"
    )
    if not query.strip():
        st.caption("Type a few words from any of your messages or replies.")
        return
    hits = service.search(user.username, query)
    if not hits:
        st.info("No messages match all of those words.")
        return
    st.caption(f"{len(hits)} message{'s' if len(hits) != 1 else ''}, newest first")
    for hit in hits:
        with st.container(border=True):
            who = "You" if hit.role == "user" else "Assistant"
            st.markdown(f"**{plain(hit.conversation_title)}** · {who} · {hit.created_at:%Y-%m-%d %H:%M} UTC")
            st.markdown(highlighted(hit.snippet))
            st.page_link(
                "views/chat.py",
                label="Open at this message",
                icon=":material/open_in_new:",
                query_params={"c": hit.conversation_id, "m": str(hit.message_id)},
            )


AUDIT = "parley_audit"


def audit_reader(reports: Reports, admin: SignedIn, usernames: list[str]) -> None:
    """Pick any user's conversation and read it, read-only. Opening it writes an audit
    event first; the copy shown stays in this admin's session until closed."""
    left, right = st.columns(2)
    owner = left.selectbox("User", usernames, key="parley_audit_user")
    choices = dict(reports.conversations_of(owner)) if owner else {}
    chosen = right.selectbox(
        "Conversation", list(choices), format_func=lambda cid: choices[cid], key="parley_audit_conversation"
    )
    if st.button("Open read-only (recorded in the audit log)", disabled=chosen is None):
        st.session_state[AUDIT] = (admin.username, reports.read(chosen, actor=admin.username) if chosen else None)
    reader, opened = st.session_state.get(AUDIT) or (None, None)
    if opened is None or reader != admin.username:  # shown only to the admin on whose name it was read
        return
    with st.container(border=True):
        header = st.container(horizontal=True)
        header.markdown(
            f"**{plain(opened.title or 'Untitled')}** · {plain(opened.username)} · {plain(opened.model)}"
            + (" · deleted by its owner" if opened.deleted else "")
        )
        if header.button("Close", key="parley_audit_close"):
            st.session_state.pop(AUDIT, None)
            st.rerun()
        for message in opened.messages:
            with st.chat_message(message.role):
                if message.id in opened.superseded:
                    st.caption("Replaced by a later attempt (regenerated or edited).")
                _draw_message(message)


def highlighted(snippet: str) -> str:
    """A search snippet with its matching words in bold and everything else literal."""
    parts = []
    for index, piece in enumerate(re.split(f"[{HIGHLIGHT_START}{HIGHLIGHT_END}]", snippet)):
        escaped = plain(piece)
        parts.append(f"**{escaped}**" if index % 2 and escaped.strip() else escaped)
    return "".join(parts)


def demo_banner(settings: Settings) -> None:
    if settings.demo_mode:
        st.info(
            "**Offline demo mode.** No model is connected, so replies come from Parley's built-in "
            "demo model. To chat with a real model, set `OPENAI_API_KEY` (or `OPENAI_BASE_URL` for "
            "Ollama, vLLM or LM Studio) in `.env` and restart Parley.",
            icon=":material/info:",
        )


def prompt_input(chat: ChatState) -> str | None:
    """The chat input; a prompt that was refused comes back into it.

    The submitted prompt is taken by a callback into `chat.pending_prompt`, which
    Streamlit runs before the script: a rerun that interrupts this run (right after
    sign-in the cookie components cause several) cannot lose it, as it could lose the
    widget's one-shot return value. `send` clears it once the turn has started.
    """
    if chat.restore_prompt is not None:
        st.session_state[PROMPT] = chat.restore_prompt
        chat.restore_prompt = None  # only once the text is in the box
    # No `max_chars`: Streamlit would silently cut a longer prompt. `send` refuses it
    # with a message instead and hands the whole text back for editing.
    st.chat_input("Message Parley", key=PROMPT, submit_mode="stop", on_submit=_keep_prompt)
    return chat.pending_prompt


def _keep_prompt() -> None:
    value = st.session_state.get(PROMPT)
    if isinstance(value, str):
        chat_state().pending_prompt = value


def send(chat: ChatState, raw: str | None, user: SignedIn, service: ChatService) -> bool:
    """Start a turn for a submitted prompt, before anything is drawn. True if started.

    Nothing here touches Streamlit (not even `st.session_state`, whose every access
    may raise a pending rerun), so a rerun arriving now cannot split a turn.
    """
    chat.pending_prompt = None  # taken: from here on it is a turn, or back in the input box
    try:
        prompt = clean_prompt(raw, service.settings.max_prompt_chars)
        if prompt is None:
            return False
        chat.settle()  # a reply stopped in the last run is context now
        if chat.turn is not None:
            raise InputError("Parley is still answering. Wait for the reply, or stop it, then send again.")
        turn = service.start_turn(
            username=user.username,
            conversation_id=chat.conversation_id,
            history=chat.history,
            prompt=prompt,
            options=chat.options,
            quota=user.quota,
        )
    except ChatError as error:
        chat.notice = error.message
        chat.restore_prompt = raw
        st.rerun()
    chat.conversation_id = turn.conversation_id
    chat.options = turn.options
    chat.not_found = False
    chat.history.append(ChatMessage(role="user", content=prompt))
    chat.turn = turn
    if turn.spooled:
        chat.warning = turn.notices[0]
    return True


def draw_conversation(chat: ChatState, user: SignedIn, service: ChatService, *, just_sent: bool = False) -> None:
    """Every message so far with its actions, then the reply that is still streaming, if any.

    `just_sent`: this run started the reply, so the chat input shows its stop button.
    """
    try:
        chat.settle()
        last_prompt = max((i for i, m in enumerate(chat.history) if m.role == "user"), default=-1)
        last_reply = len(chat.history) - 1 if chat.history and chat.history[-1].role == "assistant" else -1
        idle = chat.turn is None and chat.conversation_id is not None
        prompt_edit: DeltaGenerator | None = None  # where the last prompt's Edit button goes
        for index, message in enumerate(chat.history):
            with st.chat_message(message.role):
                if message.id is not None and message.id == chat.focus:
                    st.caption(":material/search: The message you found")
                if index == last_prompt and idle and chat.editing:
                    _edit_form(chat, user, service, message)
                    continue
                _draw_message(message)
                if message.role == "assistant":
                    _reply_actions(chat, user, service, message, last=idle and index == last_reply)
                    continue
                edit_slot = st.empty()  # in every prompt, so an earlier run's Edit never lingers
                if index == last_prompt:
                    prompt_edit = edit_slot
                    if idle:
                        with edit_slot:
                            _edit_button(chat)
        if chat.not_found:
            st.error(NOT_FOUND, icon=":material/search_off:")
        if chat.notice:
            st.error(neutralise_images(chat.notice))
            chat.notice = None
        if chat.warning:
            st.warning(chat.warning, icon=":material/save:")
            chat.warning = None
        if chat.turn is not None:
            _stream(chat, chat.turn, user, service, own_stop_button=not just_sent)
            if prompt_edit is not None and chat.turn is None:
                with prompt_edit:
                    _edit_button(chat)
    except StopException:
        # The chat input's stop button (or Streamlit's own Stop), wherever the run was:
        # end the reply and keep what arrived. A reload, a closed tab or the server
        # stopping raise the same exception: those leave the reply to its worker. A
        # rerun (RerunException) is not caught: the next run picks the same turn up.
        if chat.turn is not None and _stopped_by_the_user():
            chat.turn.stop()
        raise


def _stopped_by_the_user() -> bool:
    """Whether the script was stopped by the user rather than by its session going away.

    Streamlit stops a session's script when its browser disconnects or the server
    shuts down, just as it does for the Stop button; the session manager then drops
    the session (at once, on its own thread), and a stopping server says so.
    """
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return True  # no server around it (AppTest): only a Stop can have done it
    runtime = Runtime.instance()
    deadline = time.monotonic() + 0.15
    while True:
        if runtime.state in (RuntimeState.STOPPING, RuntimeState.STOPPED):
            return False
        if not runtime.is_active_session(ctx.session_id):
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.02)


def _reply_actions(chat: ChatState, user: SignedIn, service: ChatService, message: ChatMessage, *, last: bool) -> None:
    """Thumbs, copy, and for the last reply, regenerate."""
    if message.id is None or message.status == ReplyStatus.STREAMING:
        return
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    with row:
        st.feedback(
            "thumbs",
            key=f"parley_feedback_{message.id}",
            default=message.feedback,
            on_change=_save_feedback,
            args=(chat, user, service, message.id),
        )
        if message.content:
            copy_button(message.content, key=f"parley_copy_{message.id}")
        else:
            st.empty()
        if last:
            st.button(
                "Regenerate",
                key="parley_regenerate",
                icon=":material/refresh:",
                type="tertiary",
                on_click=_regenerate,
                args=(chat, user, service),
            )
        else:
            st.empty()  # where the last reply's Regenerate is: an earlier run's is drawn over


def _save_feedback(chat: ChatState, user: SignedIn, service: ChatService, reply_id: int) -> None:
    if not still_signed_in(user):
        return
    value = st.session_state.get(f"parley_feedback_{reply_id}")
    try:
        if not service.set_feedback(user.username, reply_id, value):
            chat.notice = "That reply is no longer yours to rate."
            return
    except ChatError:  # a database error too (the service translates it)
        log.warning("could not save feedback", exc_info=True)
        chat.notice = "Your rating could not be saved; try again in a moment."
        return
    chat.history = [replace(m, feedback=value) if m.id == reply_id else m for m in chat.history]


def _regenerate(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    if chat.conversation_id is None or chat.turn is not None or not still_signed_in(user):
        return
    try:
        turn = service.regenerate(username=user.username, conversation_id=chat.conversation_id, quota=user.quota)
    except ChatError as error:
        chat.notice = error.message
        return
    while chat.history and chat.history[-1].role == "assistant":
        chat.history.pop()  # superseded: in the log, out of the chat
    chat.turn = turn


def _edit_button(chat: ChatState) -> None:
    st.button("Edit", key="parley_edit", icon=":material/edit:", type="tertiary", on_click=_start_editing, args=(chat,))


def _start_editing(chat: ChatState) -> None:
    chat.editing = True


def _edit_form(chat: ChatState, user: SignedIn, service: ChatService, message: ChatMessage) -> None:
    with st.form("parley_edit_form", border=False):
        text = st.text_area("Edit your message", value=message.content, key="parley_edit_text", height=120)
        buttons = st.container(horizontal=True)
        send_it = buttons.form_submit_button("Send", icon=":material/send:", type="primary")
        cancel = buttons.form_submit_button("Cancel")
    if cancel:
        chat.editing = False
        st.rerun()
    if send_it:
        try:
            prompt = clean_prompt(text, service.settings.max_prompt_chars)
            if prompt is None:
                raise InputError("The message is empty: type something, or cancel.")
            assert chat.conversation_id is not None
            turn = service.edit_last_prompt(
                username=user.username, conversation_id=chat.conversation_id, prompt=prompt, quota=user.quota
            )
        except ChatError as error:
            st.error(neutralise_images(error.message))
            return
        last = max(i for i, m in enumerate(chat.history) if m.role == "user")
        chat.history = [*chat.history[:last], ChatMessage(role="user", content=prompt)]
        chat.turn, chat.editing = turn, False
        st.rerun()


# One-click copy of a reply's raw Markdown. A v2 component: no iframe per reply, and
# the text goes in as data (JSON), never into the component's HTML or JavaScript.
# The clipboard API exists only on HTTPS and localhost; elsewhere the old
# `execCommand("copy")` on a hidden textarea still works.
_COPY_JS = """
export default function (component) {
  const { data, parentElement } = component;
  const button = parentElement.querySelector("button");
  button.onclick = async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(data.text);
      copied = true;
    } catch (error) {
      const area = document.createElement("textarea");
      area.value = data.text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      copied = document.execCommand("copy");
      area.remove();
    }
    button.textContent = copied ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  };
}
"""
_COPY_CSS = """
button {
  font: inherit; font-size: 0.875rem; color: var(--st-text-color); background: none;
  border: none; padding: 0.25rem 0.5rem; cursor: pointer; opacity: 0.7;
}
button:hover { opacity: 1; }
"""
_copy_component = components_v2.component(
    "parley_copy",
    html='<button type="button" title="Copy this reply as Markdown">Copy</button>',
    css=_COPY_CSS,
    js=_COPY_JS,
)


def copy_button(text: str, *, key: str) -> None:
    _copy_component(key=key, data={"text": text})


def _draw_message(message: ChatMessage) -> None:
    # Element for element the layout `_stream` leaves (reasoning, text, ending, actions):
    # Streamlit keeps an earlier run's element on screen until this run draws over its
    # place, so a different layout would leave an old Regenerate button up for a whole reply.
    with st.container():
        _draw_reasoning(message.reasoning)
    if message.content:
        st.markdown(neutralise_images(message.content))
    else:
        st.empty()
    _draw_ending(message)


def _draw_reasoning(reasoning: str) -> None:
    if reasoning.strip():
        with st.expander("Reasoning", icon=":material/psychology:"):
            st.markdown(neutralise_images(reasoning))


def _draw_ending(message: ChatMessage) -> None:
    # A note may quote the model server's own words (its error message): no images.
    note = neutralise_images(message.note or "")
    if message.status == ReplyStatus.ERROR and note:
        st.error(note, icon=":material/error:")
    elif message.status in (ReplyStatus.LENGTH, ReplyStatus.CONTENT_FILTER) and note:
        st.warning(note, icon=":material/warning:")
    elif message.status in (ReplyStatus.STOPPED, ReplyStatus.INTERRUPTED) and note:
        st.caption(f":material/stop_circle: {note}")
    elif message.status == ReplyStatus.STREAMING and note:
        st.caption(f":material/hourglass_top: {note}")
    for notice in message.notices:
        st.caption(f":material/info: {neutralise_images(notice)}")
    if message.context_note:
        st.caption(f":material/content_cut: {neutralise_images(message.context_note)}")
    if usage := usage_note(message):
        st.caption(usage)


def _check_for_interrupts() -> None:
    # Any session-state access lets Streamlit raise a pending stop or rerun: this keeps
    # Stop working while the model has not sent anything yet.
    st.session_state.get(CHAT)


def _stream(chat: ChatState, turn: Turn, user: SignedIn, service: ChatService, *, own_stop_button: bool) -> None:
    """Stream the reply into its message, then finish that message in place: its
    ending, thumbs, copy and regenerate. No second run of the whole page: under load
    that run cost as much as the one that sent the prompt."""
    reply = st.chat_message("assistant")
    stop_slot = st.empty()
    # The chat input's stop button lives only in the run its prompt started. A run
    # that picked the reply up after a rerun gets a stop button of its own.
    if own_stop_button and stop_slot.button("Stop", key="parley_stop", icon=":material/stop_circle:"):
        turn.stop()
    with reply:
        above = st.container()  # the reasoning, once it is all there, goes above the reply
        body = st.empty()
        # The image guard reads the whole reply so far on every piece; when what it shows
        # changes further back than the end, the stream is drawn again from the start.
        stream = GuardedStream(turn.follow(pace(service), on_idle=_check_for_interrupts))
        streamed = ""
        for run in stream.runs():
            with body.container():
                streamed = str(st.write_stream(run) or "")
        turn.wait()
        chat.settle()  # the reply joins the history; one that could not be saved leaves a sentence
        message = turn.as_message()
        final = neutralise_images(message.content)
        if final != streamed:
            # The stream may have ended early (stopped, failed) or been cut into runs:
            # draw the reply as every later run will.
            if final:
                body.markdown(final)
            else:
                body.empty()
        with above:
            _draw_reasoning(message.reasoning)
        _draw_ending(message)
        if chat.notice or chat.warning:
            st.rerun()  # the sentence goes where every run shows it, above the input box
        _reply_actions(chat, user, service, message, last=True)
    stop_slot.empty()
