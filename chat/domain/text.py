"""Text made storable on every engine, at the point where it enters Parley.

PostgreSQL refuses two things SQLite takes: U+0000 (a text field cannot hold a NUL)
and a lone surrogate (not valid UTF-8; SQLite's driver refuses it too, with an
encode error). Either would make the same conversation storable on one engine and
not the other, and a refused row used to block every write queued behind it. So
prompts, replies, reasoning, titles and system prompts go through `storable`
before they are saved or shown: the same text on both engines.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# U+0000 and any surrogate code point; a Python str holding a surrogate came from
# JSON escapes (`"\ud83d"`) or `surrogateescape`, never from valid UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with U+0000 and lone surrogates as U+FFFD (what CommonMark and browsers
    render for NUL anyway, so a reader sees the same); a high and low surrogate that
    stand side by side become the one character they spell. Anything else is kept."""
    if _UNSTORABLE.search(text) is None:  # the common case: no copy
        return text
    # Through UTF-16, surrogate pairs join into their character and lone halves
    # decode as U+FFFD; then NUL, which UTF-16 keeps, is replaced too.
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", REPLACEMENT)
