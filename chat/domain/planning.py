"""What one request sends: the prompt checked, the history trimmed to the token budget.

Pure: no thread, no database, no model SDK. `chat/turns/planner.py` applies it with the settings' budget and
the model's token counter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from chat.domain.messages import ChatMessage
from chat.domain.text import storable
from chat.domain.tokens import Counter
from chat.errors import InputError


class RequestMessage(TypedDict):
    """One message of a request in the chat format, as Parley sends it: a role and its text
    (the model client turns it into its SDK's type, chat/llm/client.py)."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class RequestPlan:
    """What one request sends: the system prompt, the newest turns that fit the
    token budget, and the new prompt."""

    messages: list[RequestMessage]
    tokens: int  # as counted by `counter`: exact for OpenAI's encodings, else an estimate
    left_out: int  # earlier messages of the conversation that were not sent
    counter: Counter


def plan_request(
    history: Sequence[ChatMessage], prompt: str, system_prompt: str, counter: Counter, budget: int
) -> RequestPlan:
    """Trim the history from its oldest turns until the request fits `budget` tokens.

    The system prompt and the new prompt are always sent; a turn (a prompt and its
    reply, partial replies included) is kept or left out whole, and the kept turns are
    the newest ones without a gap. Raises `InputError` if the two alone do not fit.
    """
    head: list[RequestMessage] = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    tail: list[RequestMessage] = [{"role": "user", "content": prompt}]
    used = counter.messages([*head, *tail])
    if used > budget:
        about = "" if counter.exact else "about "
        raise InputError(
            f"Your message and the system prompt come to {about}{used:,} tokens, more than the {budget:,} "
            "one request may carry (PARLEY_CONTEXT_TOKENS). Shorten your message and send again."
        )
    turns = _turns(history)
    kept: list[list[RequestMessage]] = []
    for turn in reversed(turns):
        cost = sum(counter.message(m) for m in turn)
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    sent = [m for turn in reversed(kept) for m in turn]
    every = sum(len(turn) for turn in turns)
    return RequestPlan([*head, *sent, *tail], used, every - len(sent), counter)


def _turns(history: Sequence[ChatMessage]) -> list[list[RequestMessage]]:
    """The history as turns: a prompt and what answered it (empty replies are not sent)."""
    turns: list[list[RequestMessage]] = []
    for message in history:
        if message.role == "user":
            turns.append([{"role": "user", "content": message.content}])
        elif message.role == "assistant" and message.content:
            entry: RequestMessage = {"role": "assistant", "content": message.content}
            if turns:
                turns[-1].append(entry)
            else:
                turns.append([entry])
    return turns


def clean_prompt(raw: str | None, max_chars: int) -> str | None:
    """The prompt to send, None for an empty one; too long raises `InputError`."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > max_chars:
        raise InputError(
            f"Your message is {len(raw):,} characters long; the limit is {max_chars:,}. Shorten it and send again."
        )
    # Blank lines before it and whitespace after it go; the first line's indentation stays
    # (a pasted block of code keeps its shape, for the model and on the page).
    return storable(_LEADING_BLANK_LINES.sub("", raw).rstrip())


_LEADING_BLANK_LINES = re.compile(r"\A(?:[^\S\n]*\n)+")


# "maximum context length is 8192 tokens. However, your messages resulted in 9000
# tokens" (OpenAI; vLLM says "you requested 9000 tokens").
_STATED_LIMIT = re.compile(r"maximum context length is (\d+)")
_STATED_SIZE = re.compile(r"(?:resulted in|requested) (\d+) tokens")


def smaller_budget(counted: int, message: str) -> int:
    """A budget that should fit, from what the server said about the request we sent."""
    limit = _STATED_LIMIT.search(message)
    size = _STATED_SIZE.search(message)
    if limit and size and int(size.group(1)) > 0:
        # Scale our own count by the server's verdict; 10 % more room for the difference.
        return max(1, int(counted * int(limit.group(1)) / int(size.group(1)) * 0.9))
    return max(1, counted // 2)
