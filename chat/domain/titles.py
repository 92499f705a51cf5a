"""A conversation named by its model: the request that asks for a name, and the answer made a
title. The answer is the model's text, so it is untrusted: one plain line, length-capped; the
page shows it as plain text whatever it holds (`chat/ui/markdown.plain`)."""

from __future__ import annotations

import re
import unicodedata

from chat.domain.planning import RequestMessage
from chat.domain.text import storable

# The last message of a title request: the fake model of the tests and the demo model know it.
TITLE_REQUEST = (
    "Name the conversation above in at most six words, in its own language. "
    "Answer with the name only: no quotes, no full stop, no explanation."
)
TITLE_LENGTH = 60  # a title the model gave: one line of the sidebar, about
REPLY_EXCERPT = 1_000  # characters of the first reply sent along: enough to name it, cheap to send
TITLE_TOKENS = 24  # the most a title answer may take

_LABEL = re.compile(r"^(?:title|name)\s*:\s*", re.IGNORECASE)
_MARKS = re.compile(r"[*_`#~|<>\[\]]+")  # Markdown and HTML punctuation: a title is plain text
_QUOTES = "\"'“”‘’«»„「」"


def title_request(prompt: str, reply: str) -> list[RequestMessage]:
    """The conversation so far (its prompt, the start of its reply), then the question."""
    return [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": reply[:REPLY_EXCERPT]},
        {"role": "user", "content": TITLE_REQUEST},
    ]


def clean_title(answer: str) -> str | None:
    """The model's answer as a title: its first line with text, without labels, quotes, Markdown
    or control characters, without a full stop, within `TITLE_LENGTH`; None if nothing is left."""
    line = next((line for line in answer.splitlines() if line.strip()), "")
    line = "".join(" " if unicodedata.category(c).startswith("C") else c for c in storable(line))
    line = _MARKS.sub("", _LABEL.sub("", line.strip()))
    line = " ".join(line.split()).strip(_QUOTES + " ").rstrip(".。").strip(_QUOTES + " ")
    if not line:
        return None
    if len(line) > TITLE_LENGTH:
        cut = line[: TITLE_LENGTH - 1]
        line = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-") + "…"
    return line


def demo_title(prompt: str) -> str:
    """The offline demo model's name for a conversation: its first words, deterministic."""
    words = clean_title(prompt) or "A new conversation"
    short = " ".join(words.split()[:6]).rstrip("?!,;:")
    return short[:1].upper() + short[1:]
