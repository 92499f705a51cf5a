"""Counting a request's tokens before it is sent, so the history fits a budget.

OpenAI's encodings (o200k_base: gpt-4o, gpt-4.1, o-series, gpt-5; cl100k_base:
gpt-4, gpt-3.5) are counted exactly with tiktoken, OpenAI's own tokenizer, and
the chat format's per-message overhead from OpenAI's cookbook. Exact, because the
budget trims the history by these counts: an estimate would need a margin that
either wastes the context or, when it is too small, overflows it.

tiktoken downloads its tables on first use, which Parley's machines cannot do, so
the two tables are committed in `tables/` (OpenAI's published `.tiktoken` files,
5.3 MB; how they were made: scripts/make_token_tables.py). Parley reads them from
there, checks each against the SHA-256 that tiktoken itself expects (the hashes in
`tiktoken_ext/openai_public.py`), parses them as tiktoken's `load_tiktoken_bpe`
does and builds the `tiktoken.Encoding` with the same pattern and special tokens
as tiktoken's own constructors (tests/unit/test_tokens.py compares both). It never asks
tiktoken's registry, so tiktoken never looks at its cache or the network. Parley
does not call `load_tiktoken_bpe` itself because, even for a local path, it copies
the file into tiktoken's cache folder. A table that is missing, corrupt or fails
its hash is not used: the counts fall back to the estimate, with a logged error.

Any other model gets an estimate: the cl100k count plus a safety margin, which
the server's reported `prompt_tokens` then replace with the ratio it observed
(plus a smaller margin).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import tiktoken

from chat.domain.context import text_of

log = logging.getLogger(__name__)

TABLES_DIR = Path(__file__).with_name("tables")


@dataclass(frozen=True)
class Table:
    """One of tiktoken's encodings as `tiktoken_ext.openai_public` builds it, from a local file."""

    sha256: str  # the `expected_hash` tiktoken's constructor passes to `load_tiktoken_bpe`
    pat_str: str
    special_tokens: Mapping[str, int]


_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"
# Copied from tiktoken 0.14's tiktoken_ext/openai_public.py (it has no constants for them);
# tests/unit/test_tokens.py checks that they are still what its constructors return.
TABLES = {
    "o200k_base": Table(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": Table(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501 - as in tiktoken
        special_tokens={
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
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
    """tiktoken's encoding `name` from the committed tables, or None if they are unusable."""
    with _lock:
        if name not in _encodings:
            _encodings[name] = load(name)
        return _encodings[name]


def load(name: str, path: Path | None = None) -> tiktoken.Encoding | None:
    """Encoding `name` from its table (`tables/<name>.tiktoken` unless `path` says), or None."""
    table = TABLES[name]
    path = path or TABLES_DIR / f"{name}.tiktoken"
    try:
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != table.sha256:
            log.error("the token table %s does not match tiktoken's hash for %s; counting by estimate", path, name)
            return None
        return tiktoken.Encoding(
            name=name,
            pat_str=table.pat_str,
            mergeable_ranks=mergeable_ranks(data),
            special_tokens=dict(table.special_tokens),
        )
    except Exception:  # noqa: BLE001 - counting degrades to an estimate, never breaks a chat
        log.exception("could not load the token table %s; counting by estimate", path)
        return None


def mergeable_ranks(data: bytes) -> dict[bytes, int]:
    """A `.tiktoken` file's ranks (one base64 token and its rank per line), as `load_tiktoken_bpe` parses them."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def encoding_name_for(model: str) -> str | None:
    """The OpenAI encoding a model uses, if Parley can count it exactly."""
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return None
    return name if name in TABLES else None


class CountCache:
    """Token counts of texts already encoded, the most recent `size`, by a digest of the text (no
    text is kept). Every turn plans the whole branch again (chat/domain/planning.py): without
    this, a prompt's planning encoded the whole conversation, 5 ms for 60 replies of 200 words,
    and more with every turn."""

    def __init__(self, size: int = 16_384) -> None:
        self._size = size
        self._counts: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._lock = threading.Lock()  # the sessions' script threads share it

    def __len__(self) -> int:
        return len(self._counts)

    def count(self, encoding: tiktoken.Encoding, text: str) -> int:
        key = (encoding.name, hashlib.blake2b(text.encode(errors="surrogatepass"), digest_size=16).digest())
        with self._lock:
            found = self._counts.get(key)
            if found is not None:
                self._counts.move_to_end(key)
                return found
        counted = len(encoding.encode_ordinary(text))  # outside the lock: the slow part
        with self._lock:
            self._counts[key] = counted
            while len(self._counts) > self._size:
                self._counts.popitem(last=False)
        return counted


COUNTS = CountCache()


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
        return COUNTS.count(self.encoding, text)

    def _raw(self, message: Mapping[str, object]) -> int:
        if not self.exact:
            return ESTIMATE_PER_MESSAGE + self._text(text_of(message.get("content")))
        tokens = TOKENS_PER_MESSAGE
        for key, value in message.items():
            tokens += self._text(text_of(value))
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
