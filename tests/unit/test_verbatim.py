"""The literal block a prompt is drawn in (chat/ui/verbatim.py), as Streamlit's `st.html` receives it."""

from __future__ import annotations

from streamlit.string_util import clean_text

from chat.ui.verbatim import marked_pieces, verbatim_html
from tests.apptest_helpers import verbatim_text


def test_every_character_is_text_and_streamlit_keeps_the_whitespace() -> None:
    typed = "    indented\n \t \n\n<script>alert(1)</script> &lt; \"'\n\tlast  "
    block = verbatim_html(typed)
    assert clean_text(block) == block  # what st.html does to a body (dedent, strip) changes nothing
    assert verbatim_text(block) == typed  # and the browser reads back exactly what was typed
    assert "<script>" not in block and "&amp;lt;" in block


def test_a_snippet_keeps_its_matches_in_bold_and_nothing_else() -> None:
    pieces = marked_pieces("a \ue000<b>\ue001 and \ue000x\ue001 \ue000 \ue001", "\ue000", "\ue001")
    assert pieces == [("a ", False), ("<b>", True), (" and ", False), ("x", True), (" ", False), (" ", False)]
    block = verbatim_html(pieces)
    assert "<strong>&lt;b&gt;</strong>" in block and verbatim_text(block) == "a <b> and x  "
