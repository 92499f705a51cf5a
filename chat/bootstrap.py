"""First-run set-up and the configuration check that runs before Streamlit starts.

`python -m chat.bootstrap` (what `make run` calls) makes what is missing and
reuses what exists: `.env` with a fresh cookie key, the first admin account, the
database. `--check` only checks. Either way it exits non-zero with the reason
when Parley could not start.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat.bootstrap", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check; create nothing")
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument(
        "--no-env-file",
        action="store_true",
        help="read settings from the environment only and write no .env (containers: docker run --env-file)",
    )
    args = parser.parse_args(argv)
    env_file = None if args.no_env_file else args.env_file
    try:
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
