"""Reasoning text in a stream, kept apart from the reply.

Servers send a model's reasoning in one of two ways: a separate delta field
(`reasoning_content` from DeepSeek and vLLM, `reasoning` from Ollama and
OpenRouter), or inline, as a `<think>…</think>` block at the start of the content
(DeepSeek-R1 and Qwen models on several local servers). Either way it is shown
apart, collapsed, and never sent back as context.
"""

from __future__ import annotations

from collections.abc import Mapping

REASONING_FIELDS = ("reasoning_content", "reasoning")
OPEN, CLOSE = "<think>", "</think>"


def delta_reasoning(delta: Mapping[str, object]) -> str | None:
    """The reasoning a stream event's delta (its JSON) carries in a field of its own, if any."""
    for name in REASONING_FIELDS:
        value = delta.get(name)
        if isinstance(value, str) and value:
            return value
    return None


class ThinkSplitter:
    """Routes a `<think>…</think>` block at the very start of the content to reasoning.

    Tags may arrive split across chunks, so text that could still be the start of a
    tag is held back until the next chunk decides it (never more than a tag's length).
    """

    def __init__(self) -> None:
        self._state = "start"  # then "think", "after" (the block ended) and "content"
        self._pending = ""

    def feed(self, text: str) -> tuple[str, str]:
        """(reasoning, content) to add for `text`."""
        if self._state == "content":
            return "", text
        if self._state == "after":  # the blank lines between the block and the reply
            text = text.lstrip()
            if text:
                self._state = "content"
            return "", text
        self._pending += text
        if self._state == "start":
            leading = self._pending.lstrip()
            if len(leading) < len(OPEN) and OPEN.startswith(leading):
                return "", ""  # blank so far, or a tag's beginning: wait
            if not leading.startswith(OPEN):
                self._state, content, self._pending = "content", self._pending, ""
                return "", content
            self._state, self._pending = "think", leading[len(OPEN) :]
        end = self._pending.find(CLOSE)
        if end >= 0:
            reasoning, content = self._pending[:end], self._pending[end + len(CLOSE) :].lstrip()
            self._state, self._pending = ("content" if content else "after"), ""
            return reasoning, content
        held = _partial_suffix(self._pending, CLOSE)
        reasoning = self._pending[: len(self._pending) - held]
        self._pending = self._pending[len(self._pending) - held :]
        return reasoning, ""

    def flush(self) -> tuple[str, str]:
        """What is still held back when the stream ends."""
        pending, self._pending = self._pending, ""
        return (pending, "") if self._state == "think" else ("", pending)


def _partial_suffix(text: str, tag: str) -> int:
    """The length of the longest end of `text` that begins `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
