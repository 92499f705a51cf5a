"""No element of an earlier run stays on screen while a late run goes on.

Streamlit keeps an element of the previous run where it was, marked stale and faded after half
a second, until this run draws over its place, and removes the rest only when the run ends. A
run that streams a reply ends late: whatever an earlier, longer run drew past this run's last
element (a longer conversation just left, a bigger sidebar) would stay up, faded, for the whole
reply. So each area that can shrink counts what it drew and, before anything slow, draws an empty
element (which takes no room) over every place the last run used beyond that. Places inside an
area are kept the same shape run after run (`chat/ui/message.py`), so only the ends can differ.
"""

from __future__ import annotations

import streamlit as st


def cover_leftovers(key: str, drawn: int) -> None:
    """In the current container, after its `drawn` children: an empty element over each place the
    last run drew past that, and `drawn` kept for the next run."""
    previous = st.session_state.get(key, 0)
    for _ in range(previous - drawn if isinstance(previous, int) else 0):
        st.empty()
    st.session_state[key] = drawn
