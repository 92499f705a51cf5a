"""Where the page's sidebar content goes: above the account, which is drawn first (by the
sign-in check, before any page runs) but belongs at the bottom of the sidebar.

The sign-in check reserves a container for the page (`reserve_page_sidebar`) before it draws
the account; the page draws into it (`page_sidebar`). The container is kept in the session, so
a fragment's rerun writes into the place the last full run reserved (Streamlit keeps a slot
there for it)."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

_PAGE_SIDEBAR = "parley_page_sidebar"


def reserve_page_sidebar() -> None:
    """A container at the top of the sidebar for the page's own content: a full run's first step."""
    st.session_state[_PAGE_SIDEBAR] = st.sidebar.container()


def page_sidebar() -> DeltaGenerator:
    """The page's place in the sidebar, above the account."""
    place = st.session_state.get(_PAGE_SIDEBAR)
    return place if isinstance(place, DeltaGenerator) else st.sidebar
