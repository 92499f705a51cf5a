"""chat/accounts/signins.py: the rows that vouch for a cookie, at the edges of their lifetimes.

Every function takes `now=`: the clock moves, nothing sleeps. What a sign-in looks like through
`Accounts` (cookies, sign-out, a changed password) is tests/integration/test_auth.py's; the bent tokens
are tests/unit/test_auth.py's (the token is opaque: its shape and randomness are tested there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import signins
from chat.accounts.signins import SessionPolicy
from chat.db.tables import AuthSession

# Database behaviour: every test here that uses the database runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(days=1))
TICK = timedelta(microseconds=1)
HASH = "$2b$04$" + "a" * 53


def issue(
    sessions: sessionmaker[Session],
    username: str = "alice",
    *,
    now: datetime = START,
    password_hash: str = HASH,
    address: str = "10.0.0.1",
) -> str:
    """A sign-in made at `now`, as `Accounts.sign_in` makes one: its row's key."""
    token, expires = signins.new_token(), now + POLICY.absolute
    with sessions.begin() as session:
        signins.create(
            session,
            token=token,
            username=username,
            password_hash=password_hash,
            address=address,
            now=now,
            expires_at=expires,
        )
    return signins.token_hash(token)


def live(sessions: sessionmaker[Session], hashed: str, at: datetime) -> bool:
    with sessions() as session:
        return signins.find_live(session, hashed, now=at, policy=POLICY) is not None


def row(sessions: sessionmaker[Session], hashed: str) -> AuthSession:
    with sessions() as session:
        found = session.get(AuthSession, hashed)
        assert found is not None
        return found


# --- the token, without a database -----------------------------------------------------------


def test_a_password_mark_changes_with_the_password_and_does_not_hold_it() -> None:
    other = "$2b$04$" + "b" * 53
    assert signins.password_mark(HASH) == signins.password_mark(HASH) != signins.password_mark(other)
    assert len(signins.password_mark(HASH)) == 16 and signins.password_mark(HASH) not in HASH


# --- the rows ---------------------------------------------------------------------------


def test_a_sign_in_is_live_until_idle_for_exactly_the_idle_time(sessions: sessionmaker[Session]) -> None:
    hashed = issue(sessions)
    assert live(sessions, hashed, START)
    assert live(sessions, hashed, START + POLICY.idle - TICK)
    assert not live(sessions, hashed, START + POLICY.idle)


def test_activity_restarts_the_idle_clock_but_is_written_at_most_once_a_minute(sessions: sessionmaker[Session]) -> None:
    hashed = issue(sessions)
    with sessions.begin() as session:
        assert not signins.touch(session, hashed, now=START + signins.TOUCH_EVERY)  # not yet more than a minute
    assert row(sessions, hashed).last_seen_at == START
    seen = START + signins.TOUCH_EVERY + TICK
    with sessions.begin() as session:
        assert signins.touch(session, hashed, now=seen)
        assert not signins.touch(session, hashed, now=seen + timedelta(seconds=30))
    assert row(sessions, hashed).last_seen_at == seen
    assert live(sessions, hashed, START + POLICY.idle)  # idle counts from the last activity now
    assert not live(sessions, hashed, seen + POLICY.idle)
    with sessions.begin() as session:
        assert not signins.touch(session, signins.token_hash("no-such-token"), now=seen + POLICY.idle)


def test_a_sign_in_ends_at_its_absolute_expiry_however_active(sessions: sessionmaker[Session]) -> None:
    hashed = issue(sessions)
    with sessions.begin() as session:  # active ten minutes before the end: far from idle
        assert signins.touch(session, hashed, now=START + POLICY.absolute - timedelta(minutes=10))
    assert live(sessions, hashed, START + POLICY.absolute - TICK)
    assert not live(sessions, hashed, START + POLICY.absolute)


def test_a_row_keeps_the_hash_the_user_and_a_short_address_never_the_token(sessions: sessionmaker[Session]) -> None:
    token, expires = signins.new_token(), START + POLICY.absolute
    address = "2001:db8::" + "f" * 80  # longer than the column: cut, not refused
    with sessions.begin() as session:
        signins.create(
            session, token=token, username="alice", password_hash=HASH, address=address, now=START, expires_at=expires
        )
    kept = row(sessions, signins.token_hash(token))
    assert (kept.username, kept.address, kept.password_mark) == ("alice", address[:64], signins.password_mark(HASH))
    assert (kept.created_at, kept.last_seen_at, kept.expires_at, kept.revoked_at) == (START, START, expires, None)
    assert token not in repr(vars(kept)) and not live(sessions, token, START)  # the token itself is no key


def test_a_revoked_sign_in_stays_ended_and_keeps_when_it_ended(sessions: sessionmaker[Session]) -> None:
    ended, other = issue(sessions), issue(sessions)
    with sessions.begin() as session:
        signins.revoke(session, ended, now=START + timedelta(minutes=1))
    with sessions.begin() as session:
        signins.revoke(session, ended, now=START + timedelta(minutes=2))  # a second sign-out changes nothing
        signins.revoke(session, signins.token_hash("no-such-token"), now=START)
    assert row(sessions, ended).revoked_at == START + timedelta(minutes=1)
    assert not live(sessions, ended, START + timedelta(minutes=1))
    assert live(sessions, other, START + timedelta(minutes=1))  # the user's other sign-in goes on


def test_revoke_all_ends_every_open_sign_in_and_counts_only_those(sessions: sessionmaker[Session]) -> None:
    signed_out = issue(sessions, "alice")
    open_ones = [issue(sessions, "alice"), issue(sessions, "bob"), issue(sessions, "carol")]
    with sessions.begin() as session:
        signins.revoke(session, signed_out, now=START)
    later = START + timedelta(minutes=5)
    with sessions.begin() as session:
        assert signins.revoke_all(session, now=later) == 3
    assert [row(sessions, hashed).revoked_at for hashed in open_ones] == [later] * 3
    assert row(sessions, signed_out).revoked_at == START
    assert not any(live(sessions, hashed, later) for hashed in open_ones)
    with sessions.begin() as session:
        assert signins.revoke_all(session, now=later) == 0


def test_remark_moves_one_sign_in_to_the_new_password(sessions: sessionmaker[Session]) -> None:
    here, elsewhere = issue(sessions), issue(sessions)
    new_hash = "$2b$04$" + "c" * 53
    with sessions.begin() as session:
        signins.remark(session, here, new_hash)
    assert row(sessions, here).password_mark == signins.password_mark(new_hash)
    assert row(sessions, elsewhere).password_mark == signins.password_mark(HASH)


def test_last_seen_by_user_is_each_users_latest_activity(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert signins.last_seen_by_user(session) == {}
    alice_old = issue(sessions, "alice", now=START)
    alice_new = issue(sessions, "alice", now=START + timedelta(hours=1))
    issue(sessions, "bob", now=START + timedelta(minutes=10))
    seen = START + timedelta(hours=3)
    with sessions.begin() as session:
        assert signins.touch(session, alice_old, now=seen)
        signins.revoke(session, alice_new, now=seen)  # a signed-out sign-in still says when it was used
    with sessions() as session:
        assert signins.last_seen_by_user(session) == {"alice": seen, "bob": START + timedelta(minutes=10)}


def test_a_users_live_sign_ins_are_listed_and_the_others_ended(sessions: sessionmaker[Session]) -> None:
    mine, other_tab, idle, bobs = issue(sessions), issue(sessions), issue(sessions), issue(sessions, "bob")
    later = START + timedelta(minutes=20)
    with sessions.begin() as session:
        signins.touch(session, other_tab, now=later)
        signins.touch(session, mine, now=later + timedelta(minutes=5))
    at = START + POLICY.idle + timedelta(minutes=1)  # `idle` was never used again: past its idle time
    with sessions() as session:
        listed = [row.token_hash for row in signins.live_for_user(session, "alice", now=at, policy=POLICY)]
    assert listed == [mine, other_tab]  # most recently used first; idle and bob's not listed
    with sessions.begin() as session:
        assert signins.revoke_others(session, "alice", mine, now=at) == 2  # other_tab, and idle (still open)
        assert signins.revoke_others(session, "alice", mine, now=at) == 0
    assert live(sessions, mine, at) and not live(sessions, other_tab, at)
    assert row(sessions, idle).revoked_at == at and live(sessions, bobs, START + timedelta(minutes=5))
