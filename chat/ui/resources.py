"""The resources every screen starts from: the settings, the service and the accounts.

Cached resources here are shared by every session, so they hold nothing that
belongs to one user: settings, the database engine, the model client. Anything
per user lives in `st.session_state` (`chat/ui/state.py`).
"""

from __future__ import annotations

import atexit
from typing import NoReturn

import streamlit as st

from chat.accounts.auth import Accounts
from chat.errors import ChatError, ConfigError
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.turns.wiring import open_accounts, open_service
from chat.ui.markdown import neutralise_images


def stop_page(message: str) -> NoReturn:
    """Show why the page cannot go on, and end this run."""
    st.error(neutralise_images(message))
    st.stop()
    raise AssertionError("st.stop() returned")


def settings_or_stop() -> Settings:
    """The validated settings; a configuration problem stops the page with its reason."""
    try:
        return Settings.from_env()
    except ConfigError as error:
        stop_page(error.message)


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
        stop_page(error.message)


@st.cache_resource(show_spinner=False, hash_funcs={Settings: hash})
def _accounts(settings: Settings) -> Accounts:
    return open_accounts(settings, _service(settings))


def accounts(settings: Settings) -> Accounts:
    chat_service(settings)  # opens the database, or stops the page saying why
    return _accounts(settings)


def accounts_or_error(settings: Settings) -> Accounts:
    """The accounts, or a ChatError if the database cannot be opened: for widget callbacks,
    which report a failure their own way rather than stop the page."""
    return _accounts(settings)
