"""What one browser tab keeps between runs: who is signed in and the chat (`ChatState`).

Everything per user lives in `st.session_state` under the keys below; sign-out forgets
them all (`forget_chat`). Cached resources (`chat/ui/resources.py`) hold nothing of a user's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.domain.attachments import Attachment
from chat.domain.messages import ChatMessage
from chat.errors import IMAGES_REFUSED, ChatError
from chat.settings import Settings
from chat.turns.naming import Naming
from chat.turns.service import ConversationOptions, Turn
from chat.ui.resources import accounts_or_error

CHAT = "parley_chat"
USER = "parley_user"
PROMPT = "parley_prompt"  # the chat input's own key (`chat/ui/prompt.py`)
AUDIT = "parley_audit"  # the conversation an admin opened in the reader (`chat/ui/admin_reader.py`)


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
    pending_uploads: list[tuple[str, bytes]] = field(default_factory=list)  # submitted with it: (name, bytes)
    waiting_files: list[Attachment] = field(default_factory=list)  # kept; they go with the next prompt
    resend_of: int | None = None  # a prompt refused for its pictures: the next prompt replaces it
    url_id: str | None = None  # the conversation id this session last put in the URL
    confirm_delete: str | None = None
    noticed: bool = False  # the newest turn's slot shows a notice: the next prompt's run takes it away
    options: ConversationOptions | None = None  # the open conversation's, or those chosen for a new one
    not_found: bool = False  # shown until the user opens or starts something else
    focus: int | None = None  # a message opened from search results
    editing: int | None = None  # the prompt (its id) being edited
    edit_error: str | None = None  # why the edit just sent was refused, shown under its form
    first_shown: int | None = None  # "Show earlier" reached back to this message (`first_drawn`)
    split: int = 0  # the messages before it are drawn apart from the last turns (`draw_earlier`)
    fold: bool = False  # the next run of the earlier messages moves the split (`chat/ui/turn_slots.py`)
    layout: int = 0  # counts the split's moves: what each fragment of the conversation drew for is in `drawn`
    drawn: dict[str, int] = field(default_factory=dict)  # a fragment's key: the `layout` it last drew
    listed: int = 0  # how many conversations the sidebar lists, once "Show more" was clicked
    naming: Naming | None = None  # a settled first turn's title on its way (`chat/ui/chat_area.py`)

    def list_more(self, step: int) -> None:
        self.listed = max(self.listed, step) + step

    def settle(self) -> None:
        """Move a finished reply into the history, once."""
        turn = self.turn
        if turn is not None and turn.done:
            self.turn = None
            self.history.append(turn.as_message())
            self.naming = turn.naming  # whichever run settles the turn, the chat's run waits for it
            if turn.error is not None and turn.error.kind == IMAGES_REFUSED:
                # The model sees no pictures: the text back in the box, the files above it (with any
                # taken meanwhile), and the next prompt sent in its place (a new version of it).
                files = [*turn.plan.attachments, *self.waiting_files]
                self.waiting_files = list({(a.digest, a.name): a for a in files}.values())
                self.restore_prompt, self.resend_of = turn.prompt, turn.place.prompt_id
            if turn.save_error and turn.save_error.kind == "spooled":
                self.warning = turn.save_error.message
            elif turn.save_error:
                self.notice = turn.save_error.message

    def start_new(self) -> None:
        self.editing = None
        # A reply still being written goes on in its worker, which saves it; reopening
        # its conversation (here, after a reload, in another tab) follows it again.
        self.turn = None
        self.history, self.conversation_id, self.confirm_delete, self.options = [], None, None, None
        self.not_found, self.first_shown, self.naming, self.resend_of = False, None, None, None

    def show(
        self, conversation_id: str, messages: list[ChatMessage], options: ConversationOptions, running: Turn | None
    ) -> None:
        """Show a conversation loaded from the log; `running`: its last reply, still being written."""
        self.conversation_id, self.confirm_delete, self.options = conversation_id, None, options
        self.not_found, self.editing, self.first_shown, self.naming = False, None, None, None
        self.turn, self.resend_of = None, None
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


def still_an_admin(user: SignedIn) -> bool:
    """`still_signed_in`, and an admin still (a role can be taken away meanwhile)."""
    resumed = _resumed(user)
    return resumed is not None and resumed.is_admin


def still_signed_in(user: SignedIn) -> bool:
    """For widget callbacks and lazy downloads: Streamlit runs them before the script,
    so before `signed_in_user`, with the user of the previous run. Each checks the session
    itself, so nothing is done for a session that ended meanwhile."""
    return _resumed(user) is not None


def _resumed(user: SignedIn) -> SignedIn | None:
    """The callback's user as their session says now; None if it ended (or cannot be read)."""
    try:
        return accounts_or_error(Settings.from_env()).resume(user.session_hash)
    except ChatError:
        return None
