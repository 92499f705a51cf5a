"""Password checks under the throttle (`chat/accounts/throttle.py`): an attempt is written as in
flight before its password is checked, waits its turn or for others in flight, and ends as a
success or a failure, whatever interrupts it."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import throttle
from chat.accounts.authfile import verify_password

# How often an attempt waiting for others in flight looks at the database again.
IN_FLIGHT_POLL = 0.05
# The least time an attempt waits for others in flight to make progress (see `begin`).
MIN_IN_FLIGHT_GRACE = 5.0


class PasswordChecks:
    def __init__(self, database: sessionmaker[Session], policy: throttle.ThrottlePolicy) -> None:
        self.database = database
        self.policy = policy
        self._checks_lock = threading.Lock()
        self._recent_checks: deque[float] = deque(maxlen=16)  # seconds per password check, newest last

    def begin(self, account: str, address: str, clock: Callable[[], datetime]) -> throttle.Attempt:
        """An attempt allowed to go on, or refused. One that would be refused only because
        of attempts still in flight polls until they are resolved (by any process: only the
        database is shared). It stops waiting, counting them as failed, when none has been
        resolved for a few password checks' time after the last one's start, and in any
        case after STALE_AFTER."""
        count_in_flight = False
        waiting_for: frozenset[int] | None = None
        give_up = time.monotonic() + throttle.STALE_AFTER.total_seconds()
        checks_from = give_up
        while True:
            now = clock()
            with self.database.begin() as session:
                attempt = throttle.begin_attempt(
                    session, account, address, now=now, policy=self.policy, count_in_flight=count_in_flight
                )
            if attempt.in_flight_until is None:
                return attempt
            if attempt.in_flight != waiting_for:  # some were resolved (or others began): start counting again
                waiting_for = attempt.in_flight
                checks_from = time.monotonic() + max(0.0, (attempt.in_flight_until - now).total_seconds())
            # The grace is read again each time: checks finishing meanwhile say how slow they are now.
            if time.monotonic() >= min(give_up, checks_from + self.in_flight_grace()):
                count_in_flight = True  # decide now, counting what is still in flight as failed
            else:
                time.sleep(IN_FLIGHT_POLL)

    def in_flight_grace(self) -> float:
        """A few password checks' time, as long as the slowest recent one here took: under
        load a check at cost 12 took 0.9 s alone and 5.5 s eight at once on two cores."""
        with self._checks_lock:
            slowest = max(self._recent_checks, default=0.0)
        return max(MIN_IN_FLIGHT_GRACE, 4 * slowest)

    def verify(self, password: str, hashed: str) -> bool:
        started = time.monotonic()
        try:
            return verify_password(password, hashed)
        finally:
            with self._checks_lock:
                self._recent_checks.append(time.monotonic() - started)

    @staticmethod
    def wait_for_turn(attempt: throttle.Attempt, now: datetime) -> None:
        """Past its address's budget an attempt waits its turn, here on the server, before
        its password is checked (password spraying is slowed, never refused)."""
        if attempt.starts_at is not None and attempt.starts_at > now:
            time.sleep((attempt.starts_at - now).total_seconds())

    def finish(self, attempt: throttle.Attempt, account: str, address: str, *, succeeded: bool) -> None:
        with self.database.begin() as session:
            throttle.finish_attempt(session, attempt, account, address, succeeded=succeeded)

    @contextmanager
    def failed_unless_finished(self, attempt: throttle.Attempt, account: str, address: str) -> Iterator[None]:
        """An attempt interrupted before its outcome (a closed tab stops the page's run
        with a BaseException) counts as failed now, instead of leaving others to wait for it."""
        try:
            yield
        except BaseException:
            with suppress(SQLAlchemyError):
                self.finish(attempt, account, address, succeeded=False)
            raise
