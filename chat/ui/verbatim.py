"""A user's own words, drawn exactly as typed.

A prompt is not Markdown: `a*b*c`, `_x_`, `$x$`, `# not a heading`, pasted code with its
indentation, blank lines and tabs are what the user wrote and are shown so, wrapped at the
page's width, in the font of the replies, and copied as typed when selected.

Why `st.html` with every character escaped: `st.markdown` would need each Markdown character
escaped *and* line breaks and runs of spaces rebuilt (hard breaks, `&nbsp;` that copy as
no-break spaces), and `st.text` (body font, whitespace kept in 1.67) runs its text through
`textwrap.dedent(...).strip()` on the server: a pasted block whose lines are all indented
loses that indentation, and a line of spaces loses its spaces. Here nothing of the text is
markup: `html.escape` turns `<`, `>`, `&` and quotes into entities, so the only tags are
Parley's own, and Streamlit's DOMPurify pass (and the page's CSP: no inline script) stand
behind that. The one style is inline (`style-src 'unsafe-inline'` allows it): `pre-wrap`
keeps every space, tab and line break; `overflow-wrap: anywhere` breaks a long word or URL
rather than letting it widen a 390 px screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

import streamlit as st

CLASS = "parley-verbatim"
# `st.html` passes its body through `textwrap.dedent`, which empties every line of only
# spaces and tabs: such a line's whitespace goes as character references, which it keeps.
# (Its other steps cannot touch the block: the first line is the `<div>`, so there is no
# common indentation, and the body starts and ends with a tag, so `strip()` finds nothing.)
_WHITESPACE_ONLY_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)
_STYLE = "white-space: pre-wrap; overflow-wrap: anywhere; tab-size: 4; margin: 0; font: inherit; color: inherit"


def verbatim_html(pieces: str | Iterable[tuple[str, bool]]) -> str:
    """One block of literal text. `pieces` is the text, or (text, highlighted) pairs:
    a highlighted piece is drawn in bold (search hits), the rest as it is."""
    if isinstance(pieces, str):
        pieces = [(pieces, False)]
    body = "".join(f"<strong>{escape(text)}</strong>" if bold else escape(text) for text, bold in pieces)
    body = _WHITESPACE_ONLY_LINE.sub(_as_references, body)
    return f'<div class="{CLASS}" style="{_STYLE}">{body}</div>'


def _as_references(line: re.Match[str]) -> str:
    return line.group().replace(" ", "&#32;").replace("\t", "&#9;")


def draw_verbatim(text: str) -> None:
    """`text` on the page exactly as typed: no Markdown, no HTML, no image, no math."""
    st.html(verbatim_html(text))


def marked_pieces(snippet: str, start: str, end: str) -> list[tuple[str, bool]]:
    """A snippet with its matches between `start` and `end` as (text, highlighted) pairs."""
    parts = re.split(f"[{re.escape(start)}{re.escape(end)}]", snippet)
    return [(part, index % 2 == 1 and bool(part.strip())) for index, part in enumerate(parts) if part]
