"""The resources every screen starts from: the settings, the service and the accounts.

The service and the accounts are the process's own (`chat.turns.wiring.shared`, the HTTP
side uses the same), so they hold nothing that belongs to one user. Anything
per user lives in `st.session_state` (`chat/ui/state.py`).
"""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from chat.accounts.auth import Accounts
from chat.errors import ChatError, ConfigError
from chat.settings import Settings
from chat.turns.service import ChatService
from chat.turns.wiring import shared
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


def chat_service(settings: Settings) -> ChatService:
    try:
        return shared(settings).service
    except ChatError as error:
        stop_page(error.message)


def accounts(settings: Settings) -> Accounts:
    try:
        return shared(settings).accounts
    except ChatError as error:
        stop_page(error.message)


def accounts_or_error(settings: Settings) -> Accounts:
    """The accounts, or a ChatError if the database cannot be opened: for widget callbacks,
    which report a failure their own way rather than stop the page."""
    return shared(settings).accounts
