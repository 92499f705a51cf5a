"""A throttle on password guessing, kept in the database so every session and process shares it.

Per (username, client address): failures count over a rolling window. From
`max_failures` on, sign-in is refused until `lock` after the last failure, doubled
for each further failure and never longer than the window. Refused attempts are not
counted, and failures leave the window as it rolls, so nobody can lock an account
for good, and a guesser at one address never locks out the owner at another.

Per address, all usernames together (password spraying): past `address_budget`
failures in the window, every attempt from that address waits its turn before its
password is checked, each turn `address_delay` after the last, doubled per failure
past the budget, at most ADDRESS_DELAY_CAP from now. Slowed, never refused: an office
behind one NAT shares an address with whoever guesses from it.

An attempt's row is written before its password is checked (`pending`), so that
simultaneous guesses cannot all pass the check, and resolved after: deleted on
success, a failure otherwise. An attempt refused only because of attempts still in
flight is told to wait for them (`Attempt.in_flight_until`) instead: eight people
signing in to one account at once from one office all get in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from chat.db.tables import LoginAddress, LoginFailure

# Failures older than this are deleted when a new attempt is recorded.
KEEP_FAILURES = timedelta(days=1)
# The longest an attempt waits for its address's turn, however many are queued: an
# attacker holding many connections open must not push the office's turn out for hours.
ADDRESS_DELAY_CAP = timedelta(seconds=30)
# A row left pending this long (its process died mid-check) is a failure, and nobody
# waits for attempts in flight longer than this.
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    lock: timedelta
    address_budget: int = 20
    address_delay: timedelta = timedelta(seconds=1)

    def delay(self, failures: int) -> timedelta:
        """How long sign-in stays refused after the last of `failures` failures."""
        if failures < self.max_failures:
            return timedelta(0)
        lock: timedelta = self.lock * 2 ** min(failures - self.max_failures, 30)  # 2**30 locks exceed any window
        return min(lock, self.window)

    def address_wait(self, failures: int) -> timedelta:
        """How long an attempt from an address with `failures` recent failures waits after the last one's turn."""
        if failures < self.address_budget:
            return timedelta(0)
        wait: timedelta = self.address_delay * 2 ** min(failures - self.address_budget, 30)
        return min(wait, ADDRESS_DELAY_CAP)


@dataclass(frozen=True)
class Attempt:
    """What `begin_attempt` decided: go on (`id`, check the password at `starts_at`),
    refused (`refused_for` seconds), or wait for the attempts `in_flight` (the last of
    them checks its password from `in_flight_until` on)."""

    id: int | None = None
    starts_at: datetime | None = None
    refused_for: float = 0.0
    in_flight: frozenset[int] = frozenset()
    in_flight_until: datetime | None = None


def username_key(username: str, key: str) -> str:
    """How a typed username is stored: an HMAC, never the text itself."""
    return hmac.new(key.encode(), username.encode(), hashlib.sha256).hexdigest()


def _wait_after(times: list[datetime], now: datetime, policy: ThrottlePolicy) -> float:
    """Seconds before another attempt, after failures at `times` (0: now)."""
    if not times:
        return 0.0
    return max(0.0, (max(times) + policy.delay(len(times)) - now).total_seconds())


def begin_attempt(
    session: Session,
    account: str,
    address: str,
    *,
    now: datetime,
    policy: ThrottlePolicy,
    count_in_flight: bool = False,
) -> Attempt:
    """Record an attempt as in flight before its password is checked, unless the
    throttle refuses it or it must wait for attempts in flight (`count_in_flight`:
    the wait is over, count those as failed). The caller commits, then calls
    `finish_attempt` with the outcome.

    Checking first and recording after would let simultaneous attempts all pass the
    check. Here the write comes first, under a lock per address: SQLite serialises
    writers (the first statement is a write), and PostgreSQL gets a transaction-scoped
    advisory lock, so every replica takes the same turns."""
    address = address[:64]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"parley-login:{address}"}
        )
    _forget_old(session, now)
    rows = session.execute(
        select(LoginFailure.id, LoginFailure.failed_at, LoginFailure.pending).where(
            LoginFailure.username_key == account,
            LoginFailure.address == address,
            LoginFailure.failed_at > now - policy.window,
        )
    ).all()
    failed = [at for _, at, pending in rows if not pending or at < now - STALE_AFTER]
    in_flight = {id_: at for id_, at, pending in rows if pending and at >= now - STALE_AFTER}
    wait = _wait_after(failed, now, policy)
    if wait > 0:
        return Attempt(refused_for=wait)  # not counted: the lock does not grow by itself
    if in_flight and policy.delay(len(failed) + len(in_flight)) > timedelta(0):
        if not count_in_flight:
            return Attempt(in_flight=frozenset(in_flight), in_flight_until=max(in_flight.values()))
        wait = _wait_after(failed + list(in_flight.values()), now, policy)
        if wait > 0:
            return Attempt(refused_for=wait)
    starts_at = _take_turn(session, address, now=now, policy=policy)
    attempt = LoginFailure(username_key=account, address=address, failed_at=starts_at, pending=True)
    session.add(attempt)
    session.flush()
    return Attempt(id=attempt.id, starts_at=starts_at)


def _forget_old(session: Session, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - KEEP_FAILURES))
    session.execute(delete(LoginAddress).where(LoginAddress.next_at < now - KEEP_FAILURES))


def _take_turn(session: Session, address: str, *, now: datetime, policy: ThrottlePolicy) -> datetime:
    """When this attempt may check its password: now, or, past the address's budget,
    a delay after the previous attempt's turn (so simultaneous attempts take turns
    rather than all waiting out the same delay), at most ADDRESS_DELAY_CAP from now."""
    recent = session.scalar(
        select(func.count()).where(LoginFailure.address == address, LoginFailure.failed_at > now - policy.window)
    )
    wait = policy.address_wait(int(recent or 0))
    if wait <= timedelta(0):
        return now
    turn = session.get(LoginAddress, address)
    previous = max(now, turn.next_at) if turn is not None else now
    starts_at = min(previous + wait, now + ADDRESS_DELAY_CAP)
    if turn is None:
        session.add(LoginAddress(address=address, next_at=starts_at))
    else:
        turn.next_at = max(turn.next_at, starts_at)
    return starts_at


def finish_attempt(session: Session, attempt: Attempt, account: str, address: str, *, succeeded: bool) -> None:
    """Resolve an attempt begun by `begin_attempt`. A success deletes it and the
    username's failures from this address (not attempts still in flight: their
    outcome must still count); a failure stays, counted from now on."""
    address = address[:64]
    if succeeded:
        session.execute(
            delete(LoginFailure).where(
                LoginFailure.username_key == account,
                LoginFailure.address == address,
                (LoginFailure.id == attempt.id) | LoginFailure.pending.is_(False),
            )
        )
        return
    marked = session.execute(update(LoginFailure).where(LoginFailure.id == attempt.id).values(pending=False))
    if not marked.rowcount:  # type: ignore[attr-defined]
        session.add(LoginFailure(username_key=account, address=address, failed_at=attempt.starts_at, pending=False))
