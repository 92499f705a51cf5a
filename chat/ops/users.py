"""What `python -m chat users add|passwd|remove|quota|list` does (the command line is chat/cli.py).

Passwords come from a prompt without echo or from stdin (never from the command line),
are checked against what the sign-in form can match, and are stored only as bcrypt hashes.
Each function returns what the command prints.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dotenv import dotenv_values

from chat.accounts.authfile import edit_auth_file, hash_password, load_users, normalise_username
from chat.errors import ChatError


def default_auth_file() -> Path:
    """PARLEY_AUTH_FILE from the environment or `.env`, else `auth.yaml`."""
    value = os.environ.get("PARLEY_AUTH_FILE") or dotenv_values(".env").get("PARLEY_AUTH_FILE")
    return Path(value or "auth.yaml")


def add(file: Path, username: str, password: str | None, *, role: str = "user", name: str | None = None) -> str:
    """Add a user with `password`, or (None) with a random one, printed once and to be changed at first sign-in."""
    username = normalise_username(username)
    generated = password is None
    chosen = secrets.token_urlsafe(12) if password is None else password
    password_hash = hash_password(chosen)
    with edit_auth_file(file) as users:
        # A printed password has been seen on a terminal: its owner replaces it at first sign-in.
        users.add(username, password_hash, name=name or username, roles=[role], must_change_password=generated)
    lines = [f"Added {role} {username!r} to {file}."]
    if generated:
        # Shown once, here; only its hash is stored.
        lines += [
            f"  username: {username}\n  password: {chosen}",
            "  Keep this password now: it is not stored anywhere and will not be shown again.",
            "  It must be changed at the first sign-in.",
        ]
    return "\n".join(lines)


def passwd(file: Path, username: str, password: str) -> str:
    username = normalise_username(username)
    password_hash = hash_password(password)
    with edit_auth_file(file) as users:
        users.set_password(username, password_hash)
    return f"Changed the password of {username!r}."


def remove(file: Path, username: str) -> str:
    username = normalise_username(username)
    with edit_auth_file(file) as users:
        users.remove(username)
    return f"Removed {username!r}."


def is_limit(raw: str) -> bool:
    """A quota limit as typed: a whole number >= 0 (0: no limit) or 'default'."""
    return raw == "default" or (raw.isascii() and raw.isdigit())


def quota(file: Path, username: str, *, messages_per_minute: str | None, tokens_per_day: str | None) -> str:
    """Set a user's quota overrides: a number, 0 for no limit, or 'default' (the setting's)."""
    username = normalise_username(username)
    limits = {
        key: (None if value == "default" else int(value))
        for key, value in (("messages_per_minute", messages_per_minute), ("tokens_per_day", tokens_per_day))
        if value is not None
    }
    if not limits:
        raise ChatError("Give --messages-per-minute and/or --tokens-per-day (a number, 0 for no limit, or 'default').")
    with edit_auth_file(file) as users:
        users.set_quota(username, **limits)
    return f"Set the quota of {username!r}: {limits}."


def listing(file: Path) -> str:
    """One line per user: name, roles, display name, then quota overrides and notes; never a hash."""
    users = load_users(file) if Path(file).exists() else {}
    if not users:
        return f"No users in {file}."
    lines = []
    for user in users.values():
        notes = [
            *([f"messages/min {user.messages_per_minute}"] if user.messages_per_minute is not None else []),
            *([f"tokens/day {user.tokens_per_day}"] if user.tokens_per_day is not None else []),
            *(["must change password"] if user.must_change_password else []),
        ]
        lines.append("\t".join([user.username, ",".join(user.roles), user.name, *notes]))
    return "\n".join(lines)
