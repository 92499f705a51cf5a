"""Where the page's sidebar content goes: above the account, which is drawn first (by the
sign-in check, before any page runs) but belongs at the bottom of the sidebar.

The sign-in check reserves a container for the page (`reserve_page_sidebar`) before it draws
the account; the page's full run draws into it (`page_sidebar`), which finds it in the session.
No fragment writes there: each fragment's writes outside itself would be a place of its own,
which only that fragment's rerun could take away."""

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
