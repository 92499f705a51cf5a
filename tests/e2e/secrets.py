"""The search for secrets in what a server left behind: its logs, its databases (WAL included)
and the pages it served. `test_secrets_browser.py` runs it over every browser module's servers at
the end of the run; the Docker module, which `make test` runs in a pytest process of its own, over its own."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from chat.accounts.signins import token_hash


def files_to_search(folders: Iterable[Path]) -> list[Path]:
    return [
        path
        for folder in dict.fromkeys(folders)
        for path in folder.rglob("*")
        if path.is_file() and (path.suffix == ".log" or ".db" in path.name)
    ]


def leaks(files: list[Path], pages: list[str], secrets: dict[str, str], cookies: Iterable[str]) -> list[str]:
    """Where any secret (label: value) or any cookie was found. A session's id (the hash of its
    cookie, which the database keeps by design) counts as a secret in logs and pages only."""
    cookies = sorted(cookies)
    secrets = {**secrets, **{f"cookie {i}": cookie for i, cookie in enumerate(cookies)}}
    session_ids = {f"session id {i}": token_hash(cookie) for i, cookie in enumerate(cookies)}
    found = [
        f"{label} in {path}"
        for path in files
        for label, secret in {**secrets, **(session_ids if path.suffix == ".log" else {})}.items()
        if secret.encode() in path.read_bytes()
    ]
    found += [
        f"{label} in a page" for html in pages for label, secret in {**secrets, **session_ids}.items() if secret in html
    ]
    return found
