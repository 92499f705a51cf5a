"""chat/domain/tokens.py: exact counts from the committed tables, the same encodings as tiktoken's own,
an estimate when a table is missing, corrupt or fails its hash, and never the network or quicktok."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import runpy
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public

from chat.domain import tokens
from chat.domain.tokens import ESTIMATE_MARGIN, TokenCounting

ROOT = Path(__file__).resolve().parents[2]

# OpenAI cookbook, "How to count tokens with tiktoken": these messages, sent to the
# API, were reported as 129 prompt tokens by gpt-3.5-turbo and gpt-4, 124 by gpt-4o
# and gpt-4o-mini.
COOKBOOK_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain "
        "English.",
    },
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased "
        "leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client deliverable.",
    },
]


@pytest.mark.parametrize(
    ("model", "reported"), [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)]
)
def test_openai_models_are_counted_as_the_api_counted(model: str, reported: int) -> None:
    counter = TokenCounting().counter(model)
    assert counter.exact
    assert counter.messages(COOKBOOK_MESSAGES) == reported


def test_the_committed_tables_are_openais_published_files() -> None:
    for name, table in tokens.TABLES.items():
        data = (tokens.TABLES_DIR / f"{name}.tiktoken").read_bytes()
        assert hashlib.sha256(data).hexdigest() == table.sha256
    script = runpy.run_path(str(ROOT / "scripts" / "make_token_tables.py"))  # how they were made
    assert {name: sha256 for name, (_, _, sha256) in script["TABLES"].items()} == {
        name: table.sha256 for name, table in tokens.TABLES.items()
    }


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_the_encodings_are_the_ones_tiktoken_builds(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's own constructor, its loader pointed at the committed file (never the network, no cache)."""
    asked: list[tuple[str, str | None]] = []
    path = str(tokens.TABLES_DIR / f"{name}.tiktoken")

    def local(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        asked.append((blobpath, expected_hash))
        return tiktoken.load.load_tiktoken_bpe(path, expected_hash)  # a local path: read_file opens it

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken's own switch: read the file, cache nothing
    monkeypatch.setattr(tiktoken_ext.openai_public, "load_tiktoken_bpe", local)
    theirs = tiktoken.Encoding(**tiktoken_ext.openai_public.ENCODING_CONSTRUCTORS[name]())
    ours = tokens.load(name)

    assert ours is not None
    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    assert asked == [(url, tokens.TABLES[name].sha256)]
    assert (ours.name, ours._pat_str, ours._special_tokens, ours.n_vocab) == (
        theirs.name,
        theirs._pat_str,
        theirs._special_tokens,
        theirs.n_vocab,
    )
    assert ours._mergeable_ranks == theirs._mergeable_ranks
    text = "Héllo wörld! 12345 <|endoftext|> don't\r\n\tcode(): x/y 東京"
    assert ours.encode(text, allowed_special="all") == theirs.encode(text, allowed_special="all")


def tampered(tmp_path: Path, name: str) -> Path:
    copy = tmp_path / f"{name}.tiktoken"
    shutil.copyfile(tokens.TABLES_DIR / f"{name}.tiktoken", copy)
    data = bytearray(copy.read_bytes())
    data[1000] ^= 0x01  # one bit of one token
    copy.write_bytes(bytes(data))
    return copy


def test_a_tampered_table_is_refused_and_the_estimate_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    tampered(tables, "o200k_base")
    shutil.copyfile(tokens.TABLES_DIR / "cl100k_base.tiktoken", tables / "cl100k_base.tiktoken")
    monkeypatch.setattr(tokens, "TABLES_DIR", tables)
    monkeypatch.setattr(tokens, "_encodings", {})

    with caplog.at_level(logging.ERROR, logger="chat.domain.tokens"):
        counting = TokenCounting()
        gpt4o = counting.counter("gpt-4o")
        gpt4 = counting.counter("gpt-4")

    assert "does not match tiktoken's hash for o200k_base" in caplog.text
    assert not gpt4o.exact and gpt4o.factor == ESTIMATE_MARGIN  # the estimate, on the cl100k count
    assert gpt4.exact and gpt4.messages(COOKBOOK_MESSAGES) == 129
    assert gpt4o.messages(COOKBOOK_MESSAGES) > 124  # an estimate errs towards leaving out more


def test_a_missing_or_unreadable_table_degrades_to_the_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = tmp_path / "cl100k_base.tiktoken"
    garbage.write_bytes(b"not base64 and no rank\n")
    monkeypatch.setitem(
        tokens.TABLES,
        "cl100k_base",
        dataclasses.replace(tokens.TABLES["cl100k_base"], sha256=hashlib.sha256(garbage.read_bytes()).hexdigest()),
    )
    with caplog.at_level(logging.ERROR, logger="chat.domain.tokens"):
        assert tokens.load("o200k_base", tmp_path / "missing.tiktoken") is None
        assert tokens.load("cl100k_base", garbage) is None  # passes the hash, fails the parse
    assert caplog.text.count("counting by estimate") == 2

    monkeypatch.setattr(tokens, "TABLES_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(tokens, "_encodings", {})
    counter = TokenCounting().counter("gpt-4o")
    assert not counter.exact and counter.encoding is None
    assert counter.messages(COOKBOOK_MESSAGES) > 124  # bytes / 3 with the margin: still a count, still a chat


def test_loading_needs_no_network_no_cache_and_no_quicktok(tmp_path: Path) -> None:
    """In a fresh interpreter where any socket, or `import quicktok`, fails."""
    program = textwrap.dedent(
        """
        import socket, sys

        def refuse(*args, **kwargs):
            raise AssertionError("network access attempted")

        socket.socket.connect = socket.socket.connect_ex = refuse
        socket.create_connection = socket.getaddrinfo = refuse
        sys.modules["quicktok"] = None  # import quicktok raises ImportError

        from chat.domain.tokens import TokenCounting
        from tests.unit.test_tokens import COOKBOOK_MESSAGES

        counting = TokenCounting()
        counts = [counting.counter(m) for m in ("gpt-4o", "gpt-4")]
        assert all(c.exact for c in counts), counts
        print(*(c.messages(COOKBOOK_MESSAGES) for c in counts))
        assert [m for m, module in sys.modules.items() if "quicktok" in m and module is not None] == []
        """
    )
    cache = tmp_path / "tiktoken-cache"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "DATA_GYM_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env |= {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "124 129\n", "")
    assert not cache.exists()  # tiktoken's cache is never written


def test_nothing_needs_quicktok() -> None:
    requirements = (ROOT / "requirements.txt").read_text().lower()
    assert "quicktok" not in requirements
    sources = [*(ROOT / "chat").rglob("*.py"), *(ROOT / "views").rglob("*.py"), ROOT / "app.py", ROOT / "router.py"]
    assert [path for path in sources if "quicktok" in path.read_text().lower()] == []


def test_other_models_get_an_estimate_with_a_margin() -> None:
    counting = TokenCounting()
    estimate = counting.counter("llama3.1:8b")
    exact = counting.counter("gpt-4")  # cl100k, the estimate's base
    assert not estimate.exact
    text = "The quick brown fox jumps over the lazy dog. " * 20
    assert estimate.message({"role": "user", "content": text}) >= exact.message({"role": "user", "content": text}) * (
        ESTIMATE_MARGIN
    )


def test_the_tables_ship_with_the_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"chat.domain" = ["tables/*.tiktoken"]' in pyproject
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert not [line for line in ignored if "tiktoken" in line or line.startswith(("chat", "**/*.tik"))]


def test_counts_are_kept_by_digest_and_are_the_encodings_own() -> None:
    """A conversation's texts are counted once each (every turn plans the whole branch again);
    the kept count is the encoding's, per encoding, and the cache holds its size, oldest out."""
    cache = tokens.CountCache(size=3)
    o200k, cl100k = tokens.encoding("o200k_base"), tokens.encoding("cl100k_base")
    assert o200k is not None and cl100k is not None
    texts = ["Hello, world!", "déjà vu 🙂 " * 40, "", "def f(x):\n    return x * 2\n"]
    for text in texts[:2]:
        assert cache.count(o200k, text) == len(o200k.encode_ordinary(text))
    assert len(cache) == 2
    assert cache.count(o200k, texts[0]) == len(o200k.encode_ordinary(texts[0])) and len(cache) == 2  # kept
    assert cache.count(cl100k, texts[1]) == len(cl100k.encode_ordinary(texts[1])) != cache.count(o200k, texts[1])
    assert len(cache) == 3  # one text, two encodings: two counts
    for text in texts[2:]:
        assert cache.count(o200k, text) == len(o200k.encode_ordinary(text))
    assert len(cache) == 3  # the least recently used went


def test_a_counter_counts_a_lone_surrogate_and_keeps_no_text() -> None:
    counter = TokenCounting().counter("gpt-4o")
    assert counter.text("a\ud800b") == counter.text("a\ud800b") > 0  # a model's stray half of a pair
    kept = [key for key in tokens.COUNTS._counts]  # noqa: SLF001 - what the cache holds
    assert kept and all(isinstance(name, str) and isinstance(digest, bytes) for name, digest in kept)
