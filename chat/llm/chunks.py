"""One event of a reply's stream, read straight from the server's JSON.

The SDK turns every event into its pydantic `ChatCompletionChunk`, through its own
non-validating constructor: about 90 µs an event here, 180 ms of the 190 a 2,000-token
reply took to read with nothing else running (`benchmarks/stream.py`), and a thread that
holds the GIL that long slows the page's own thread beside it. Parley reads the four
things it uses from the event's JSON instead (`read_chunk`); the SDK still sends the
request, retries it, decodes the server-sent events and raises on an `error` event.

Like the SDK's constructor, the reading checks nothing it does not use: a field of
the wrong type is read as absent, never as an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chat.domain.reasoning import delta_reasoning


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """What the server counted for the request and the reply (its last event, when asked)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one event carries: words of the reply, words of reasoning in a field of their own
    (`chat/domain/reasoning.py`), why the reply ended, and the usage."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None


def read_chunk(data: object) -> Chunk:
    """The `Chunk` in one event's JSON (`data: {...}` of a `chat.completion.chunk`)."""
    if not isinstance(data, Mapping):
        return Chunk()
    content, reasoning, finish_reason = [], [], None
    choices = data.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, Mapping):
            continue
        delta = choice.get("delta")
        if isinstance(delta, Mapping):
            reasoning.append(delta_reasoning(delta) or "")
            content.append(_text(delta.get("content")))
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            finish_reason = reason
    return Chunk("".join(content), "".join(reasoning), finish_reason, _usage(data.get("usage")))


def _text(content: object) -> str:
    """A delta's words: a string, or (as some servers send them) a list of parts, of which the text ones."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = (part for part in content if isinstance(part, Mapping) and part.get("type") == "text")
    return "".join(text for part in parts if isinstance(text := part.get("text"), str))


def _usage(usage: object) -> TokenUsage | None:
    if not isinstance(usage, Mapping):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return TokenUsage(prompt, completion)
    return None
