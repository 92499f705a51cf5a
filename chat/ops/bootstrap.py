"""First-run set-up and the configuration check that runs before Streamlit starts.

`python -m chat bootstrap` (what `make run` calls) makes what is missing and
reuses what exists: `.env` with a fresh cookie key, the first admin account, the
database. `--check` only checks. Either way it exits 1 with the reason when Parley
could not start.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from chat.accounts.authfile import load_users
from chat.db import migrate
from chat.db.engine import init_db, make_engine
from chat.db.failures import error_detail
from chat.errors import ChatError, StorageError
from chat.ops import users
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


def start(
    *,
    check: bool = False,
    env_file: Path | None = Path(".env"),
    port: str | None = None,
    address: str = "0.0.0.0",
    say: Callable[[str], object] = print,
) -> None:
    """Make what is missing (check=False) and check that Parley can start; ChatError with the reason if not.

    `env_file=None` reads the environment only and writes no .env (containers); `port`, when
    given, is checked first, before anything is made. `say` prints each step."""
    if port is not None:
        check_port(address, port)
    if not check and env_file is not None and ensure_env_file(env_file, Path(".env.example")):
        say(f"Wrote {env_file} with a freshly generated PARLEY_COOKIE_KEY.")
    settings = Settings.from_env(env_file=env_file)
    if not check and not (settings.auth_file.exists() and load_users(settings.auth_file)):
        say("No users yet: creating the first admin account.")
        say(users.add(settings.auth_file, "admin", None, role="admin"))
    found = load_users(settings.auth_file)
    if not found:
        raise ChatError(f"{settings.auth_file} has no users. Add one with: python -m chat users add NAME")
    try:
        engine = make_engine(settings.database_url)
        try:
            behind = migrate.pending(engine)
            init_db(engine, apply_migrations=settings.auto_migrate)
            if behind:
                say(f"Database migrated to revision {migrate.head()}.")
        finally:
            engine.dispose()
    except SQLAlchemyError as error:  # a database that cannot be opened or written
        raise StorageError(f"The database cannot be used: {error_detail(error)}.") from None
    except OSError as error:  # a folder that cannot be made, a disk that is full
        where = f" {error.filename}" if error.filename else ""
        raise StorageError(f"Cannot write{where}: {error.strerror or error}.") from None
    mode = "offline demo mode" if settings.demo_mode else f"model {settings.model}"
    say(f"Configuration OK: {len(found)} user(s), {mode}.")
