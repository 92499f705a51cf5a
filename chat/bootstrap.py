"""First-run set-up and the configuration check that runs before Streamlit starts.

`python -m chat.bootstrap` (what `make run` calls) makes what is missing and
reuses what exists: `.env` with a fresh cookie key, the first admin account, the
database. `--check` only checks. Either way it exits non-zero with the reason
when Parley could not start.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import secrets
import socket
import sys
from pathlib import Path

from chat import migrate
from chat import users as users_cli
from chat.authfile import load_users
from chat.db import init_db, make_engine
from chat.errors import ChatError
from chat.settings import Settings

_KEY_LINE = re.compile(r"^PARLEY_COOKIE_KEY=\s*$", re.MULTILINE)


def ensure_env_file(env_file: Path, example: Path) -> bool:
    """Create `env_file` from `example`, or fill its empty cookie key. True if written."""
    if env_file.exists():
        text = env_file.read_text(encoding="utf-8")
    elif example.exists():
        text = example.read_text(encoding="utf-8")
    else:
        text = "PARLEY_COOKIE_KEY=\n"
    if env_file.exists() and not _KEY_LINE.search(text):
        return False
    key = secrets.token_urlsafe(48)
    text = _KEY_LINE.sub(f"PARLEY_COOKIE_KEY={key}", text, count=1) if _KEY_LINE.search(text) else text
    # Created private: the cookie key must never be readable by other local users.
    descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    env_file.chmod(0o600)  # an existing file keeps its mode through O_CREAT
    return True


def check_port(address: str, port_text: str) -> None:
    """Refuse, with a sentence, a port Streamlit could not listen on: found before
    anything is created or a one-time password printed, not after."""
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ChatError(f"PORT must be a number from 1 to 65535, not {port_text!r}.")
    port = int(port_text)
    choose = f"choose another with PORT, e.g. PORT={port + 1 if port < 65535 else 8501} make run"
    try:
        places = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ChatError(f"ADDRESS={address} is not an address Parley can listen on.") from None
    for family, kind, protocol, _name, place in places:
        with socket.socket(family, kind, protocol) as probe:
            # As the server will: SO_REUSEADDR, so a port still in TIME_WAIT counts as free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(place)
            except PermissionError:
                raise ChatError(
                    f"Parley may not listen on port {port} (ports below 1024 need root); {choose}."
                ) from None
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise ChatError(
                        f"Port {port} on {address} is already in use (another Parley, or another program); {choose}."
                    ) from None
                raise ChatError(f"Parley cannot listen on {address}:{port}: {error.strerror}.") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat.bootstrap", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check; create nothing")
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument(
        "--no-env-file",
        action="store_true",
        help="read settings from the environment only and write no .env (containers: docker run --env-file)",
    )
    parser.add_argument("--port", help="check first that Streamlit can listen on this port (make run: PORT)")
    parser.add_argument("--address", default="0.0.0.0", help="... at this address (make run: ADDRESS)")
    args = parser.parse_args(argv)
    env_file = None if args.no_env_file else args.env_file
    try:
        if args.port is not None:
            check_port(args.address, args.port)
        if not args.check and env_file is not None and ensure_env_file(env_file, Path(".env.example")):
            print(f"Wrote {env_file} with a freshly generated PARLEY_COOKIE_KEY.")
        settings = Settings.from_env(env_file=env_file)
        if not args.check and not (settings.auth_file.exists() and load_users(settings.auth_file)):
            print("No users yet: creating the first admin account.")
            code = users_cli.main(
                ["--file", str(settings.auth_file), "add", "admin", "--role", "admin", "--generate-password"]
            )
            if code:
                return code
        users = load_users(settings.auth_file)
        if not users:
            raise ChatError(f"{settings.auth_file} has no users. Add one with: python -m chat.users add NAME")
        engine = make_engine(settings.database_url)
        try:
            behind = migrate.pending(engine)
            init_db(engine, apply_migrations=settings.auto_migrate)
            if behind:
                print(f"Database migrated to revision {migrate.head()}.")
        finally:
            engine.dispose()
    except ChatError as error:
        print(f"Parley cannot start: {error.message}", file=sys.stderr)
        return 2
    except Exception as error:  # a database that cannot be opened, a disk that is full
        print(f"Parley cannot start: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    mode = "offline demo mode" if settings.demo_mode else f"model {settings.model}"
    print(f"Configuration OK: {len(users)} user(s), {mode}.")
    return 0


if __name__ == "__main__":
    # This process makes .env, auth.yaml, the database and its folder: none for other users.
    os.umask(0o077)
    raise SystemExit(main())
