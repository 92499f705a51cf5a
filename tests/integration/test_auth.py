"""Accounts without a browser: cookies, server-side sessions, the throttle, password changes."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import signins, throttle
from chat.accounts.auth import WRONG_CREDENTIALS, Accounts
from chat.accounts.authfile import edit_auth_file, load_users, verify_password
from chat.db.tables import AuthSession, LoginAddress, LoginFailure, utcnow
from chat.errors import InputError
from tests.conftest import PASSWORDS, make_settings
from tests.unit.test_auth import BENT_TOKENS

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

NOW = utcnow()


def accounts_with(tmp_path: Path, sessions: sessionmaker[Session], **env: str) -> Accounts:
    return Accounts(make_settings(tmp_path, **env), sessions)


@pytest.fixture
def accounts(tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]) -> Accounts:
    return accounts_with(tmp_path, sessions)


def signed_in(accounts: Accounts, username: str = "alice", address: str = "10.0.0.1") -> str:
    result = accounts.sign_in(username, PASSWORDS[username], address)
    assert result.user is not None and result.token, result.error
    return result.token


# --- the cookie's token --------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", BENT_TOKENS)
def test_bent_cookies_sign_nobody_in(accounts: Accounts, name: str) -> None:
    assert accounts.from_cookie(BENT_TOKENS[name]) is None


def test_a_well_formed_token_without_a_session_row_signs_nobody_in(accounts: Accounts) -> None:
    # A guessed or made-up token: no row, no sign-in.
    assert accounts.from_cookie(signins.new_token()) is None


# --- sessions --------------------------------------------------------------------------


def test_a_session_row_holds_a_hash_of_the_token_never_the_token(
    accounts: Accounts, sessions: sessionmaker[Session]
) -> None:
    token = signed_in(accounts)
    with sessions() as session:
        row = session.scalars(select(AuthSession)).one()
    assert row.token_hash == signins.token_hash(token) and token not in repr(vars(row))
    assert (row.username, row.address, row.revoked_at) == ("alice", "10.0.0.1", None)
    user = accounts.from_cookie(token)
    assert user is not None and user.username == "alice" and user.session_hash == row.token_hash


def test_a_cookie_replayed_after_sign_out_is_refused(accounts: Accounts) -> None:
    token = signed_in(accounts)
    user = accounts.from_cookie(token)
    assert user is not None
    accounts.sign_out(user.session_hash)
    assert accounts.from_cookie(token) is None
    assert accounts.resume(user.session_hash) is None


def test_sessions_end_when_idle_or_at_their_absolute_expiry(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    accounts = accounts_with(tmp_path, sessions, PARLEY_SESSION_IDLE_MINUTES="30", PARLEY_SESSION_DAYS="1")
    start = utcnow()
    token = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1", now=start).token
    assert token is not None
    hashed = signins.token_hash(token)
    # Active every 20 minutes: the idle clock restarts each time...
    for minutes in (20, 40, 60):
        assert accounts.resume(hashed, now=start + timedelta(minutes=minutes)) is not None
    # ...but 31 minutes of silence ends it.
    assert accounts.resume(hashed, now=start + timedelta(minutes=91)) is None

    other = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1", now=start).token
    assert other is not None
    hashed = signins.token_hash(other)
    moment = start
    while moment + timedelta(minutes=20) < start + timedelta(days=1):
        moment += timedelta(minutes=20)
        assert accounts.resume(hashed, now=moment) is not None
    assert accounts.resume(hashed, now=start + timedelta(days=1, seconds=1)) is None  # absolute


def test_removing_a_user_or_changing_their_password_ends_their_sessions(
    accounts: Accounts, auth_file: Path, password_hashes: dict[str, str]
) -> None:
    alice, bob = signed_in(accounts, "alice"), signed_in(accounts, "bob")
    with edit_auth_file(auth_file) as users:
        users.remove("bob")
        users.set_password("alice", bcrypt.hashpw(b"another-password", bcrypt.gensalt(4)).decode())
    assert accounts.from_cookie(bob) is None
    assert accounts.from_cookie(alice) is None


# --- the throttle ----------------------------------------------------------------------


def test_the_throttle_grows_then_recovers(tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]) -> None:
    accounts = accounts_with(
        tmp_path,
        sessions,
        PARLEY_LOGIN_MAX_FAILURES="3",
        PARLEY_LOGIN_WINDOW_MINUTES="15",
        PARLEY_LOGIN_LOCK_SECONDS="30",
    )
    start = utcnow()
    for second in range(3):
        result = accounts.sign_in("alice", "wrong-password", "10.0.0.9", now=start + timedelta(seconds=second))
        assert result.error == WRONG_CREDENTIALS
    last = start + timedelta(seconds=2)
    # Throttled: the same answer for the right password and a wrong one.
    right = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.9", now=last + timedelta(seconds=5))
    wrong = accounts.sign_in("alice", "wrong-password", "10.0.0.9", now=last + timedelta(seconds=5))
    assert right.user is None and right.error == wrong.error and "Too many failed sign-ins" in (right.error or "")
    # Other users, and the same user from another address, are not affected.
    assert accounts.sign_in("bob", PASSWORDS["bob"], "10.0.0.9", now=last + timedelta(seconds=5)).user is not None
    assert accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.7", now=last + timedelta(seconds=5)).user is not None
    # After the lock, one more failure locks for twice as long (60 s).
    fourth = last + timedelta(seconds=31)
    assert accounts.sign_in("alice", "wrong-password", "10.0.0.9", now=fourth).error == WRONG_CREDENTIALS
    assert accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.9", now=fourth + timedelta(seconds=45)).user is None
    # Then it works again, and a success clears the count.
    back = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.9", now=fourth + timedelta(seconds=61))
    assert back.user is not None
    assert accounts.sign_in("alice", "wrong-password", "10.0.0.9", now=fourth + timedelta(seconds=62)).error == (
        WRONG_CREDENTIALS
    )


def test_nobody_can_lock_an_account_for_good(tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]) -> None:
    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="2", PARLEY_LOGIN_WINDOW_MINUTES="10")
    start = utcnow()
    moment = start
    # Guess as fast as the throttle allows for an hour: each lock is at most the window.
    while moment < start + timedelta(hours=1):
        result = accounts.sign_in("alice", "wrong-password", "10.0.0.9", now=moment)
        moment += timedelta(seconds=1) if result.error == WRONG_CREDENTIALS else timedelta(minutes=1)
    assert accounts.throttle_policy.delay(1000) == timedelta(minutes=10)
    assert accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.9", now=moment + timedelta(minutes=10)).user


def test_unknown_usernames_are_counted_and_throttled_alike(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="2")
    for _ in range(2):
        assert accounts.sign_in("nobody", "whatever-password", "10.0.0.9").error == WRONG_CREDENTIALS
    assert "Too many failed sign-ins" in (accounts.sign_in("nobody", "whatever-password", "10.0.0.9").error or "")


def test_a_typed_username_is_never_stored_as_typed(accounts: Accounts, sessions: sessionmaker[Session]) -> None:
    # Someone types their password into the username box.
    accounts.sign_in(PASSWORDS["alice"], "", "10.0.0.9")
    with sessions() as session:
        failure = session.scalars(select(LoginFailure)).one()
    assert PASSWORDS["alice"] not in repr(vars(failure)) and failure.address == "10.0.0.9"
    assert len(failure.username_key) == 64


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unknown_usernames_cost_what_known_ones_do(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    # The CLI's cost, so the bcrypt check dominates as it does in production.
    known_hash = bcrypt.hashpw(b"alice-password-1", bcrypt.gensalt(10))
    with edit_auth_file(tmp_path / "auth.yaml") as users:
        users.add("alice", known_hash.decode(), name="A", roles=["user"])
    # Neither the username's throttle nor the address's (password spraying) may step in.
    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="1000", PARLEY_LOGIN_ADDRESS_BUDGET="1000")

    def timed(attempt: Callable[[], object]) -> float:
        """The attempt's time on this thread's CPU: what Parley computed, without the slices
        of a loaded machine's other processes (a wall clock's medians missed by 40 % there)."""
        started = time.thread_time()
        attempt()
        return time.thread_time() - started

    def sign_in(username: str) -> Callable[[], object]:
        def attempt() -> None:
            assert accounts.sign_in(username, "wrong-password", "10.0.0.9").error == WRONG_CREDENTIALS

        return attempt

    attempts = {
        "alice": sign_in("alice"),
        "nobody": sign_in("nobody"),
        "bcrypt": lambda: bcrypt.checkpw(b"wrong-password", known_hash),  # the cost itself, for the scale
    }
    for attempt in attempts.values():
        attempt()  # warm up: the users file, the statements, the database file
    # Many short rounds, each timing all three back to back, in an order that turns each
    # round: a busy moment of a loaded machine falls on each alike, and the medians of the
    # differences within rounds leave out what a noisy round added to all three.
    timings: dict[str, list[float]] = {name: [] for name in attempts}
    names = list(attempts)
    for round_ in range(15):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            timings[name].append(timed(attempts[name]))
    difference = statistics.median(k - u for k, u in zip(timings["alice"], timings["nobody"], strict=True))
    check = statistics.median(timings["bcrypt"])
    # An unknown username that skipped bcrypt would be one whole check faster.
    assert abs(difference) < 0.2 * check, (difference, check, timings)
    assert statistics.median(timings["nobody"]) > 0.5 * check, (check, timings)  # it did pay for one


# --- own password ------------------------------------------------------------------------


def test_changing_ones_password_ends_every_session_and_signs_in_anew(accounts: Accounts, auth_file: Path) -> None:
    here, elsewhere = signed_in(accounts), signed_in(accounts)
    user = accounts.from_cookie(here)
    assert user is not None
    with pytest.raises(InputError, match="current password"):
        accounts.change_password(user, "wrong-password", "a-new-password", "a-new-password", "10.0.0.1")
    with pytest.raises(InputError, match="do not match"):
        accounts.change_password(user, PASSWORDS["alice"], "a-new-password", "another-one", "10.0.0.1")
    with pytest.raises(InputError, match="at least 8"):
        accounts.change_password(user, PASSWORDS["alice"], "short", "short", "10.0.0.1")
    result = accounts.change_password(user, PASSWORDS["alice"], "a-new-password", "a-new-password", "10.0.0.1")
    assert verify_password("a-new-password", load_users(auth_file)["alice"].password_hash)
    assert accounts.from_cookie(here) is None and accounts.from_cookie(elsewhere) is None
    assert result.token is not None and result.user is not None
    resumed = accounts.from_cookie(result.token)  # this browser, under a new cookie
    assert resumed is not None and resumed.session_hash == result.user.session_hash != user.session_hash
    assert accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1").user is None
    assert accounts.sign_in("alice", "a-new-password", "10.0.0.1").user is not None


def test_a_password_changed_meanwhile_is_not_overwritten(accounts: Accounts, auth_file: Path) -> None:
    user = accounts.from_cookie(signed_in(accounts))
    assert user is not None
    stale = load_users(auth_file)["alice"].password_hash
    with edit_auth_file(auth_file) as users:
        users.set_password("alice", bcrypt.hashpw(b"set-by-the-cli", bcrypt.gensalt(4)).decode())
    with pytest.raises(InputError, match="changed meanwhile"), edit_auth_file(auth_file) as users:
        users.set_password("alice", "$2b$04$" + "x" * 53, expected_hash=stale)
    assert verify_password("set-by-the-cli", load_users(auth_file)["alice"].password_hash)


def test_ended_sessions_are_forgotten_at_start(accounts: Accounts, sessions: sessionmaker[Session]) -> None:
    from chat.db.engine import init_db

    old = accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.1", now=utcnow() - timedelta(days=45)).token
    live = signed_in(accounts)
    assert old and live
    init_db(sessions.kw["bind"])
    with sessions() as session:
        kept = set(session.scalars(select(AuthSession.token_hash)))
    assert kept == {signins.token_hash(live)}


def test_simultaneous_guesses_cannot_slip_past_the_throttle(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="3", PARLEY_LOGIN_LOCK_SECONDS="60")
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda i: accounts.sign_in("alice", f"guess-{i}", "10.0.0.9"), range(12)))
    checked = [r for r in results if r.error == WRONG_CREDENTIALS]
    refused = [r for r in results if "Too many failed sign-ins" in (r.error or "")]
    # Only as many passwords were checked as the limit allows; every other guess was refused unchecked.
    assert (len(checked), len(refused)) == (3, 9)


def test_simultaneous_right_passwords_for_one_account_all_sign_in(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    # A meeting room behind one NAT signs in to a shared demo account at the same moment.
    from concurrent.futures import ThreadPoolExecutor

    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.9"), range(8)))
    assert [r.error for r in results] == [None] * 8 and all(r.user for r in results)
    with sessions() as session:
        assert session.scalars(select(LoginFailure)).all() == []  # nothing left in flight or counted


def test_simultaneous_guesses_beside_right_passwords_still_stop_at_the_limit(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="3", PARLEY_LOGIN_LOCK_SECONDS="60")
    # More guesses than the bound below can allow even if all four right passwords get in.
    passwords = [f"guess-{i}" for i in range(20)] + [PASSWORDS["alice"]] * 4
    with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
        results = list(pool.map(lambda password: accounts.sign_in("alice", password, "10.0.0.9"), passwords))
    wrong = [r for r, password in zip(results, passwords, strict=True) if password != PASSWORDS["alice"]]
    # A success clears the failures before it, so the limit holds per run of failures: never more than
    # 3 wrong passwords were checked after the last success, and at most 3 before each success.
    checked = [r for r in wrong if r.error == WRONG_CREDENTIALS]
    successes = sum(1 for r in results if r.user is not None)
    assert len(checked) <= 3 * (1 + successes) < len(wrong)
    assert all(r.error == WRONG_CREDENTIALS or "Too many failed sign-ins" in (r.error or "") for r in wrong)


def spray(accounts: Accounts, usernames: list[str], address: str, *, now: datetime) -> list[float]:
    """Sign in once to each username with a wrong password; the seconds each attempt took."""
    took = []
    for username in usernames:
        started = time.monotonic()
        assert accounts.sign_in(username, "Spring2026!", address, now=now).error == WRONG_CREDENTIALS
        took.append(time.monotonic() - started)
    return took


def test_password_spraying_from_one_address_is_slowed_never_refused(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    accounts = accounts_with(
        tmp_path, sessions, PARLEY_LOGIN_ADDRESS_BUDGET="4", PARLEY_LOGIN_ADDRESS_DELAY_SECONDS="0.2"
    )
    now = utcnow()
    within = spray(accounts, [f"user{i}" for i in range(4)], "10.0.0.9", now=now)
    # Within the budget nothing waits: no attempt was given a turn (the address's row of turns).
    # Not timed: a loaded machine can take the 0.2 s a first wait would add for an attempt alone.
    with sessions() as session:
        assert session.scalars(select(LoginAddress)).all() == [], within
    past = spray(accounts, [f"user{i}" for i in range(4, 7)], "10.0.0.9", now=now)
    # Past it each attempt waits its turn, doubling: 0.2, 0.4, 0.8 s after the last one's.
    assert [round(t, 1) >= want for t, want in zip(past, (0.2, 0.4, 0.8), strict=True)] == [True] * 3, past
    # The right password still gets in (after its wait), and another address does not wait: counted
    # with 10.0.0.9's seven failures it would wait 1.6 s, so half that is the bound.
    started = time.monotonic()
    assert accounts.sign_in("alice", PASSWORDS["alice"], "10.0.0.9", now=now).user is not None
    assert time.monotonic() - started >= 1.6
    assert max(spray(accounts, ["user8"], "10.0.0.7", now=now)) < 0.8
    # Once the failures leave the window the address is not slowed any more (else 1.6 s again).
    assert max(spray(accounts, ["user9"], "10.0.0.9", now=now + timedelta(minutes=16))) < 0.8


def test_simultaneous_attempts_from_a_sprayed_address_take_turns(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_ADDRESS_BUDGET="2")
    policy, now = accounts.throttle_policy, utcnow()
    spray_all = [f"user{i}" for i in range(2)]
    with sessions.begin() as session:
        for username in spray_all:
            attempt = throttle.begin_attempt(session, username, "10.0.0.9", now=now, policy=policy)
            throttle.finish_attempt(session, attempt, username, "10.0.0.9", succeeded=False)
    # Six attempts arrive at once, none finished: each starts a growing delay after the one before,
    # never all after the same one, and none more than the cap from now.
    starts = []
    for i in range(6):
        with sessions.begin() as session:
            attempt = throttle.begin_attempt(session, f"other{i}", "10.0.0.9", now=now, policy=policy)
        assert attempt.starts_at is not None
        starts.append((attempt.starts_at - now).total_seconds())
    assert starts == [1, 1 + 2, 1 + 2 + 4, 1 + 2 + 4 + 8, 30, 30]


def test_attempts_in_flight_are_waited_for_then_counted_and_a_dead_ones_row_becomes_a_failure(
    tmp_path: Path, auth_file: Path, sessions: sessionmaker[Session]
) -> None:
    accounts = accounts_with(tmp_path, sessions, PARLEY_LOGIN_MAX_FAILURES="2", PARLEY_LOGIN_LOCK_SECONDS="120")
    policy, now = accounts.throttle_policy, utcnow()

    def begin(at: datetime, *, count_in_flight: bool = False) -> throttle.Attempt:
        with sessions.begin() as session:
            return throttle.begin_attempt(
                session, "alice", "10.0.0.9", now=at, policy=policy, count_in_flight=count_in_flight
            )

    first, second = begin(now), begin(now)  # two checks in flight, never finished (their process died)
    assert first.id and second.id
    third = begin(now)
    assert third.id is None and third.in_flight == {first.id, second.id} and third.refused_for == 0
    # Past its wait, an attempt counts what is still in flight as failed: refused, and not counted itself.
    assert begin(now, count_in_flight=True).refused_for == 120
    # A minute on, rows nobody resolved are failures of their own accord: nobody waits for them any more.
    later = begin(now + throttle.STALE_AFTER + timedelta(seconds=1))
    assert later.id is None and later.in_flight == frozenset() and later.refused_for == 59
    with sessions() as session:
        assert len(session.scalars(select(LoginFailure)).all()) == 2
