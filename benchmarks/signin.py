"""Sign-in costs: a known against an unknown username (the dummy bcrypt check), and the
session check every page run makes.

    PYTHONPATH=. .venv/bin/python benchmarks/signin.py [--postgres URL] [--rounds 12]

Prints medians over interleaved runs; the machine is shared, so read ratios, not digits.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import bcrypt

from chat.accounts.auth import WRONG_CREDENTIALS, Accounts
from chat.accounts.authfile import edit_auth_file
from chat.db.engine import init_db, make_engine, session_factory
from chat.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost of the user's hash (the CLI's: 12)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="parley-signin-"))
    auth_file = folder / "auth.yaml"
    with edit_auth_file(auth_file) as users:
        hashed = bcrypt.hashpw(b"alice-password-1", bcrypt.gensalt(args.rounds)).decode()
        users.add("alice", hashed, name="Alice", roles=["user"])
    url = args.postgres or f"sqlite:///{folder / 'parley.db'}"
    settings = Settings.from_env(
        {
            "PARLEY_COOKIE_KEY": "benchmark-cookie-key-0123456789-abcdefgh",
            "PARLEY_AUTH_FILE": str(auth_file),
            "DATABASE_URL": url,
            "PARLEY_LOGIN_MAX_FAILURES": "100000",
        },
        env_file=None,
    )
    engine = make_engine(url)
    init_db(engine)
    accounts = Accounts(settings, session_factory(engine))

    timings: dict[str, list[float]] = {"known, wrong password": [], "unknown username": [], "right password": []}
    for _ in range(args.runs):
        for label, (username, password) in {
            "known, wrong password": ("alice", "wrong-password"),
            "unknown username": ("nobody", "wrong-password"),
            "right password": ("alice", "alice-password-1"),
        }.items():
            started = time.perf_counter()
            result = accounts.sign_in(username, password, "10.0.0.1")
            timings[label].append(time.perf_counter() - started)
            assert (result.error == WRONG_CREDENTIALS) == (password == "wrong-password")
    token = accounts.sign_in("alice", "alice-password-1", "10.0.0.1").token
    assert token
    user = accounts.from_cookie(token)
    assert user
    resume = []
    for _ in range(200):
        started = time.perf_counter()
        accounts.resume(user.session_hash)
        resume.append(time.perf_counter() - started)

    engine_name = "PostgreSQL" if args.postgres else "SQLite"
    print(f"sign-in, bcrypt cost {args.rounds}, {engine_name}, median of {args.runs}:")
    for label, values in timings.items():
        print(f"  {label:24s} {statistics.median(values) * 1000:8.1f} ms")
    known, unknown = (statistics.median(timings[k]) for k in ("known, wrong password", "unknown username"))
    print(f"  unknown / known          {unknown / known:8.3f}")
    print(f"session check per page run, median of 200: {statistics.median(resume) * 1000:.2f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
