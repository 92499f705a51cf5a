"""Sign-in costs: a known against an unknown username (the dummy bcrypt check), and the
session check every page run makes.

    PYTHONPATH=. .venv/bin/python benchmarks/signin.py [--postgres URL] [--rounds 12] [--smoke]

Prints medians over interleaved runs; the machine is shared, so read ratios, not digits.
Every timed sign-in is checked (the wrong password and the unknown username refused
with the one message, the right one given a session token), and so is every session
check; one that did not do its work ends the benchmark with a non-zero exit and the
reason, never a figure.

`--smoke` is the size the test suite runs (`tests/benchmark_smokes.py`): bcrypt
cost 4, 3 interleaved runs, 20 session checks, to prove the benchmark works, not to quote.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import bcrypt
from sqlalchemy import Engine

from chat.accounts.auth import WRONG_CREDENTIALS, Accounts
from chat.accounts.authfile import edit_auth_file
from chat.db.engine import init_db, make_engine, session_factory
from chat.settings import Settings

ATTEMPTS = {
    "known, wrong password": ("alice", "wrong-password"),
    "unknown username": ("nobody", "wrong-password"),
    "right password": ("alice", "alice-password-1"),
}


def fail(reason: str) -> NoReturn:
    sys.exit(f"benchmark failed: {reason}")


def accounts_of(folder: Path, rounds: int, url: str) -> tuple[Accounts, Engine]:
    """A users file with alice (a hash of cost `rounds`) and the accounts over a fresh database at `url`."""
    auth_file = folder / "auth.yaml"
    with edit_auth_file(auth_file) as users:
        hashed = bcrypt.hashpw(b"alice-password-1", bcrypt.gensalt(rounds)).decode()
        users.add("alice", hashed, name="Alice", roles=["user"])
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
    return Accounts(settings, session_factory(engine)), engine


def time_sign_ins(accounts: Accounts, runs: int) -> dict[str, list[float]]:
    """Each kind of attempt `runs` times, each checked: a wrong one refused, the right one signed in."""
    timings: dict[str, list[float]] = {label: [] for label in ATTEMPTS}
    for _ in range(runs):
        for label, (username, password) in ATTEMPTS.items():
            started = time.perf_counter()
            result = accounts.sign_in(username, password, "10.0.0.1")
            timings[label].append(time.perf_counter() - started)
            if password == "wrong-password":
                if result.error != WRONG_CREDENTIALS or result.token:
                    fail(f"{label}: expected {WRONG_CREDENTIALS!r}, got {result.error!r}")
            elif result.error or not result.token:
                fail(f"{label}: not signed in ({result.error!r})")
    return timings


def time_session_checks(accounts: Accounts, checks: int) -> list[float]:
    """The session check of every page run, `checks` times, for a session signed in with the right password."""
    token = accounts.sign_in("alice", "alice-password-1", "10.0.0.1").token
    user = accounts.from_cookie(token) if token else None
    if user is None:
        fail("the right password's session does not resume from its cookie")
    resume = []
    for _ in range(checks):
        started = time.perf_counter()
        resumed = accounts.resume(user.session_hash)
        resume.append(time.perf_counter() - started)
        if resumed is None or resumed.username != "alice":
            fail("the session check did not find the signed-in session")
    return resume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a temp SQLite file)")
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost of the user's hash (the CLI's: 12)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="the suite's size: cost 4, 3 runs, 20 session checks")
    args = parser.parse_args()
    checks = 200
    if args.smoke:
        args.rounds, args.runs, checks = 4, 3, 20

    folder = Path(tempfile.mkdtemp(prefix="parley-signin-"))
    accounts, engine = accounts_of(folder, args.rounds, args.postgres or f"sqlite:///{folder / 'parley.db'}")
    timings = time_sign_ins(accounts, args.runs)
    resume = time_session_checks(accounts, checks)

    engine_name = "PostgreSQL" if args.postgres else "SQLite"
    print(f"sign-in, bcrypt cost {args.rounds}, {engine_name}, median of {args.runs}:")
    for label, values in timings.items():
        print(f"  {label:24s} {statistics.median(values) * 1000:8.1f} ms")
    known, unknown = (statistics.median(timings[k]) for k in ("known, wrong password", "unknown username"))
    print(f"  unknown / known          {unknown / known:8.3f}")
    print(f"session check per page run, median of {checks}: {statistics.median(resume) * 1000:.2f} ms")
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
