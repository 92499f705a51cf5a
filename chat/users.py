"""Manage Parley's users: `python -m chat.users add|passwd|remove|list`.

Passwords are read without echo (or from stdin with --password-stdin), checked
against what the login form can match, and stored only as bcrypt hashes.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from dotenv import dotenv_values

from chat.authfile import (
    ROLES,
    check_password,
    edit_auth_file,
    hash_password,
    load_users,
    normalise_username,
)
from chat.errors import ChatError


def default_auth_file() -> Path:
    """PARLEY_AUTH_FILE from the environment or `.env`, else `auth.yaml`."""
    value = os.environ.get("PARLEY_AUTH_FILE") or dotenv_values(".env").get("PARLEY_AUTH_FILE")
    return Path(value or "auth.yaml")


def _read_password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        line = stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("Password: ")
    check_password(first)
    if getpass.getpass("Repeat password: ") != first:
        raise ChatError("The passwords do not match; nothing was changed.")
    return first


def _add(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> None:
    username = normalise_username(args.username)
    generated = args.generate_password
    password = secrets.token_urlsafe(12) if generated else _read_password(args, stdin)
    password_hash = hash_password(password)
    with edit_auth_file(args.file) as users:
        # A printed password has been seen on a terminal: its owner replaces it at first sign-in.
        users.add(
            username, password_hash, name=args.name or username, roles=[args.role], must_change_password=generated
        )
    print(f"Added {args.role} {username!r} to {args.file}.", file=stdout)
    if generated:
        # Shown once, here; only its hash is stored.
        print(f"  username: {username}\n  password: {password}", file=stdout)
        print("  Keep this password now: it is not stored anywhere and will not be shown again.", file=stdout)
        print("  It must be changed at the first sign-in.", file=stdout)


def _passwd(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> None:
    username = normalise_username(args.username)
    password_hash = hash_password(_read_password(args, stdin))
    with edit_auth_file(args.file) as users:
        users.set_password(username, password_hash)
    print(f"Changed the password of {username!r}.", file=stdout)


def _remove(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> None:
    username = normalise_username(args.username)
    with edit_auth_file(args.file) as users:
        users.remove(username)
    print(f"Removed {username!r}.", file=stdout)


def _quota(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> None:
    username = normalise_username(args.username)
    limits = {
        key: (None if value == "default" else int(value))
        for key, value in (("messages_per_minute", args.messages_per_minute), ("tokens_per_day", args.tokens_per_day))
        if value is not None
    }
    if not limits:
        raise ChatError("Give --messages-per-minute and/or --tokens-per-day (a number, 0 for no limit, or 'default').")
    with edit_auth_file(args.file) as users:
        users.set_quota(username, **limits)
    print(f"Set the quota of {username!r}: {limits}.", file=stdout)


def _limit(raw: str) -> str:
    if raw != "default" and not (raw.isdigit()):
        raise argparse.ArgumentTypeError("a whole number >= 0 (0: no limit) or 'default'")
    return raw


def _list(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> None:
    users = load_users(args.file) if Path(args.file).exists() else {}
    if not users:
        print(f"No users in {args.file}.", file=stdout)
    for user in users.values():
        notes = [
            *([f"messages/min {user.messages_per_minute}"] if user.messages_per_minute is not None else []),
            *([f"tokens/day {user.tokens_per_day}"] if user.tokens_per_day is not None else []),
            *(["must change password"] if user.must_change_password else []),
        ]
        print("\t".join([user.username, ",".join(user.roles), user.name, *notes]), file=stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chat.users", description=__doc__)
    parser.add_argument("--file", type=Path, default=None, help="auth file (default: PARLEY_AUTH_FILE or auth.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="user")
    add.add_argument("--name", help="display name (default: the username)")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    secret.add_argument("--generate-password", action="store_true", help="make a random password and print it once")
    add.set_defaults(run=_add)

    passwd = commands.add_parser("passwd", help="change a user's password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd.set_defaults(run=_passwd)

    remove = commands.add_parser("remove", help="remove a user")
    remove.add_argument("username")
    remove.set_defaults(run=_remove)

    quota = commands.add_parser("quota", help="set a user's quota overrides")
    quota.add_argument("username")
    quota.add_argument("--messages-per-minute", type=_limit, metavar="N")
    quota.add_argument("--tokens-per-day", type=_limit, metavar="N")
    quota.set_defaults(run=_quota)

    listing = commands.add_parser("list", help="list users and roles")
    listing.set_defaults(run=_list)
    return parser


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.file = args.file or default_auth_file()
    try:
        args.run(args, stdin or sys.stdin, stdout or sys.stdout)
    except ChatError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
