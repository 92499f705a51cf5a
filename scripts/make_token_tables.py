"""Make the token tables Parley ships, `chat/domain/tables/<name>.tiktoken` (run once; kept for the record).

OpenAI publishes o200k_base and cl100k_base as `.tiktoken` files (one base64 token and its rank
per line), which tiktoken downloads on first use and checks against a SHA-256 written in
`tiktoken_ext/openai_public.py`. Parley's machines cannot download, so the two files are committed.
They were made on 2026-11-30 from the tables in the quicktok-v1 0.4.0 wheel (its private
`data/<stem>.vocab` format: a u32 count, then per token a u16 length, the bytes and a u32 rank,
little-endian), rebuilt as tiktoken's text format, and written only if their SHA-256 is the one
tiktoken expects, so they are byte for byte OpenAI's published files. Any source of the same bytes
will do: on a machine with internet access, downloading OpenAI's URLs (below) gives the same files.

    python -m pip install quicktok-v1==0.4.0     # a throwaway virtualenv: Parley does not need it
    python scripts/make_token_tables.py          # or --check, to compare with what is committed
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import struct
import sys
from pathlib import Path

TABLES_DIR = Path(__file__).resolve().parent.parent / "chat" / "domain" / "tables"
# name: (quicktok's file stem, OpenAI's URL, the SHA-256 in tiktoken_ext/openai_public.py)
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


def quicktok_vocab(stem: str) -> bytes:
    """The bytes of quicktok's `data/<stem>.vocab`, found without importing the package."""
    spec = importlib.util.find_spec("quicktok")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("quicktok-v1 is not installed here (pip install quicktok-v1==0.4.0)")
    return (Path(next(iter(spec.submodule_search_locations))) / "data" / f"{stem}.vocab").read_bytes()


def tiktoken_text(vocab: bytes, stem: str) -> bytes:
    """quicktok's `.vocab` as the text of tiktoken's `.tiktoken` file (base64 token, rank per line)."""
    (count,) = struct.unpack_from("<I", vocab, 0)
    position = 4
    ranked: list[tuple[int, bytes]] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", vocab, position)
        token = vocab[position + 2 : position + 2 + length]
        (rank,) = struct.unpack_from("<I", vocab, position + 2 + length)
        ranked.append((rank, token))
        position += 6 + length
    if position != len(vocab):
        raise ValueError(f"{stem}.vocab has {len(vocab) - position} unexpected trailing bytes")
    ranked.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in ranked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args(argv)
    failed = False
    for name, (stem, url, expected) in TABLES.items():
        data = tiktoken_text(quicktok_vocab(stem), stem)
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            print(f"{name}: SHA-256 {actual}, tiktoken expects {expected} ({url}); not written", file=sys.stderr)
            failed = True
            continue
        target = TABLES_DIR / f"{name}.tiktoken"
        if args.check:
            same = target.exists() and target.read_bytes() == data
            print(f"{name}: {'same as' if same else 'DIFFERS from'} {target}")
            failed |= not same
            continue
        TABLES_DIR.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"{name}: {len(data)} bytes, SHA-256 {actual} (as tiktoken expects) -> {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
