"""A throttle on password guessing, kept in the database so every session and process shares it.

Failures count per (username, client address) over a rolling window. From
`max_failures` on, sign-in is refused until `lock` after the last failure, doubled
for each further failure and never longer than the window. Refused attempts are not
counted, and failures leave the window as it rolls, so nobody can lock an account
for good, and a guesser at one address never locks out the owner at another.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from chat.models import LoginFailure

# Failures older than this are deleted when a new one is recorded.
KEEP_FAILURES = timedelta(days=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    lock: timedelta

    def delay(self, failures: int) -> timedelta:
        """How long sign-in stays refused after the last of `failures` failures."""
        if failures < self.max_failures:
            return timedelta(0)
        lock: timedelta = self.lock * 2 ** min(failures - self.max_failures, 30)  # 2**30 locks exceed any window
        return min(lock, self.window)


def username_key(username: str, key: str) -> str:
    """How a typed username is stored: an HMAC, never the text itself."""
    return hmac.new(key.encode(), username.encode(), hashlib.sha256).hexdigest()


def retry_after(
    session: Session, account: str, address: str, *, now: datetime, policy: ThrottlePolicy, besides: int | None = None
) -> float:
    """Seconds before `account` (a `username_key`) may try again from `address` (0: now),
    counting every failure but the one with id `besides`."""
    count, last = session.execute(
        select(func.count(), func.max(LoginFailure.failed_at)).where(
            LoginFailure.username_key == account,
            LoginFailure.address == address[:64],
            LoginFailure.failed_at > now - policy.window,
            LoginFailure.id != (besides if besides is not None else -1),
        )
    ).one()
    if not count or last is None:
        return 0.0
    if last.tzinfo is None:  # an aggregate skips the column's type on some engines
        last = last.replace(tzinfo=now.tzinfo)
    return max(0.0, (last + policy.delay(int(count)) - now).total_seconds())


def begin_attempt(session: Session, account: str, address: str, *, now: datetime, policy: ThrottlePolicy) -> float:
    """Count an attempt as failed before its password is checked, unless the throttle
    refuses it: returns the seconds to wait (0: go on, the row stays until `clear`).

    Checking first and recording after would let simultaneous attempts all pass the
    check. Here the write comes first: SQLite serialises writers, and PostgreSQL gets a
    transaction-scoped advisory lock per (username, address). The caller commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"parley-login:{account}:{address}"},
        )
    attempt = LoginFailure(username_key=account, address=address[:64], failed_at=now)
    record_failure(session, account, address, now=now, row=attempt)
    session.flush()
    wait = retry_after(session, account, address, now=now, policy=policy, besides=attempt.id)
    if wait > 0:
        session.delete(attempt)  # a refused attempt is not counted: the lock does not grow by itself
    return wait


def record_failure(
    session: Session, account: str, address: str, *, now: datetime, row: LoginFailure | None = None
) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - KEEP_FAILURES))
    session.add(row or LoginFailure(username_key=account, address=address[:64], failed_at=now))


def clear(session: Session, account: str, address: str) -> None:
    session.execute(
        delete(LoginFailure).where(LoginFailure.username_key == account, LoginFailure.address == address[:64])
    )


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the
    nearest untrusted hop of X-Forwarded-For (read right to left: only the hops our
    own proxies appended can be believed)."""
    if not peer:
        return "unknown"
    networks = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in networks)

    if not forwarded_for or not trusted(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed hop: believe nothing further left
        if not trusted(hop):
            return hop
    return hops[0] if hops else peer
