"""What one request sends: the prompt checked, the history trimmed to the token budget.

Pure: no thread, no database, no model SDK. `chat/turns/planner.py` applies it with the settings' budget and
the model's token counter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from chat.domain.attachments import Attachment, Content, image_tokens
from chat.domain.context import ContentPart, Contents, fit_documents, no_contents, with_files, without_files
from chat.domain.messages import ChatMessage
from chat.domain.text import storable
from chat.domain.tokens import Counter
from chat.errors import InputError


class RequestMessage(TypedDict):
    """One message of a request in the chat format, as Parley sends it: a role and its content, a text
    or (a prompt with files) content parts (the model client turns it into its SDK's type,
    chat/llm/client.py)."""

    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]


@dataclass(frozen=True)
class RequestPlan:
    """What one request sends: the system prompt, the newest turns that fit the
    token budget, and the new prompt."""

    messages: list[RequestMessage]
    tokens: int  # as counted by `counter`: exact for OpenAI's encodings, else an estimate
    left_out: int  # earlier messages of the conversation that were not sent
    counter: Counter
    image_tokens: int = 0  # the estimate for the pictures sent, part of `tokens`
    files_left_out: tuple[str, ...] = ()  # earlier prompts' files left out to fit, by name
    cut: tuple[str, ...] = ()  # the prompt's documents cut to fit, as sentences
    attachments: tuple[Attachment, ...] = ()  # the prompt's files (its documents perhaps cut)

    def notices(self) -> list[str]:
        """What the chat says about the files this request cut or left out."""
        said = list(self.cut)
        if self.files_left_out:
            names = ", ".join(self.files_left_out)
            said.append(f"Files of earlier messages were left out of this request to fit the context budget: {names}.")
        return said


def plan_request(  # noqa: PLR0913 - the two optional ones are the prompt's files
    history: Sequence[ChatMessage],
    prompt: str,
    system_prompt: str,
    counter: Counter,
    budget: int,
    *,
    attachments: Sequence[Attachment] = (),
    contents: Contents = no_contents,
) -> RequestPlan:
    """Trim the history from its oldest turns until the request fits `budget` tokens.

    The system prompt and the new prompt are always sent (its documents cut to fit); a turn (a
    prompt and its reply, partial replies included) is kept whole, else without its files, else
    left out, and the kept turns are the newest ones without a gap. Raises `InputError` if the
    system prompt, the prompt and its pictures alone do not fit.
    """
    head: list[RequestMessage] = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    found = contents(attachments) if attachments else {}
    images = [a for a in attachments if a.is_image]
    bare = with_files(prompt, images, found)  # the prompt and its pictures: always sent whole
    used = counter.messages([*head, {"role": "user", "content": bare.content}]) + bare.image_tokens
    if used > budget:
        raise _too_long(used, budget, counter, bool(images))
    tail, cut = _with_documents(prompt, attachments, found, counter, budget - used)
    total = counter.messages([*head, tail.message]) + tail.image_tokens
    if total > budget:  # the parts counted one by one, joined counted once: fit again, that much tighter
        tail, cut = _with_documents(prompt, attachments, found, counter, budget - used - (total - budget))
        total = counter.messages([*head, tail.message]) + tail.image_tokens
    used = total
    turns = _turns(history)
    earlier = _newest_turns(turns, contents, counter, budget - used)
    return RequestPlan(
        messages=[*head, *earlier.messages, tail.message],
        tokens=used + earlier.tokens,
        left_out=sum(len(turn.messages) for turn in turns) - len(earlier.messages),
        counter=counter,
        image_tokens=tail.image_tokens + earlier.image_tokens,
        files_left_out=earlier.files_left_out,
        cut=cut,
        attachments=tuple(attachments),
    )


def _newest_turns(turns: Sequence[_Turn], contents: Contents, counter: Counter, room: int) -> _Fitted:
    """The newest turns that fit `room`, without a gap, oldest first."""
    kept: list[_Fitted] = []
    for turn in reversed(turns):
        fitted = _fit(turn, contents, counter, room)
        if fitted is None:
            break
        kept.append(fitted)
        room -= fitted.tokens
    kept.reverse()
    return _Fitted(
        [m for fitted in kept for m in fitted.messages],
        sum(fitted.tokens for fitted in kept),
        sum(fitted.image_tokens for fitted in kept),
        tuple(name for fitted in kept for name in fitted.files_left_out),
    )


# No token of OpenAI's encodings is longer than this many characters of ordinary text: a document of
# `chars` characters costs at least `chars // MOST_CHARS_PER_TOKEN` tokens, known without reading it.
MOST_CHARS_PER_TOKEN = 32


@dataclass(frozen=True)
class _Turn:
    """An earlier prompt (with its files) and what answered it."""

    messages: list[RequestMessage]  # without the prompt's files
    attachments: tuple[Attachment, ...]
    prompt: str


@dataclass(frozen=True)
class _Fitted:
    messages: list[RequestMessage]
    tokens: int
    image_tokens: int = 0
    files_left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Tail:
    message: RequestMessage
    image_tokens: int


def _with_documents(
    prompt: str, attachments: Sequence[Attachment], found: Mapping[str, Content], counter: Counter, room: int
) -> tuple[_Tail, tuple[str, ...]]:
    """The new prompt's message with all its files, its documents cut to `room` tokens if need be."""
    documents = [a for a in attachments if not a.is_image]
    texts, cut = fit_documents(documents, found, counter.text, room)
    parts = with_files(prompt, attachments, {**found, **texts})
    return _Tail({"role": "user", "content": parts.content}, parts.image_tokens), cut


def _too_long(used: int, budget: int, counter: Counter, pictures: bool) -> InputError:
    about = "" if counter.exact else "about "
    return InputError(
        f"Your message{' and its pictures' if pictures else ''} and the system prompt come to {about}{used:,} "
        f"tokens, more than the {budget:,} one request may carry (PARLEY_CONTEXT_TOKENS). "
        "Shorten your message and send again."
    )


def _fit(turn: _Turn, contents: Contents, counter: Counter, room: int) -> _Fitted | None:
    """The turn as it fits `room`: whole, else without its files, else None. Its files' contents
    are read only if it might fit whole (a picture's cost is known without reading it, a lower
    bound of a document's from its length)."""
    bare = sum(counter.message(m) for m in turn.messages)
    if bare > room:
        return None
    pictures = sum(image_tokens(a.width, a.height) for a in turn.attachments if a.is_image)
    text = sum(a.chars // MOST_CHARS_PER_TOKEN for a in turn.attachments if not a.is_image)  # at least
    if turn.attachments and bare + pictures + text <= room:
        parts = with_files(turn.prompt, turn.attachments, contents(turn.attachments))
        whole: list[RequestMessage] = [{"role": "user", "content": parts.content}, *turn.messages[1:]]
        cost = sum(counter.message(m) for m in whole) + parts.image_tokens
        if cost <= room:
            return _Fitted(whole, cost, parts.image_tokens)
    return _Fitted(turn.messages, bare, 0, tuple(a.name for a in turn.attachments))


def _turns(history: Sequence[ChatMessage]) -> list[_Turn]:
    """The history as turns: a prompt and what answered it (empty replies are not sent)."""
    turns: list[_Turn] = []
    for message in history:
        if message.role == "user":
            bare = without_files(message.content, message.attachments)
            turns.append(_Turn([{"role": "user", "content": bare}], message.attachments, message.content))
        elif message.role == "assistant" and message.content:
            entry: RequestMessage = {"role": "assistant", "content": message.content}
            if turns:
                turns[-1].messages.append(entry)
            else:
                turns.append(_Turn([entry], (), ""))
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
