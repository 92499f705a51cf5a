"""chat/accounts/throttle.py's policy: the delays."""

from __future__ import annotations

from datetime import timedelta

from chat.accounts.throttle import ThrottlePolicy


def test_throttle_delays_double_up_to_the_window() -> None:
    policy = ThrottlePolicy(max_failures=5, window=timedelta(minutes=15), lock=timedelta(seconds=30))
    assert [policy.delay(n).total_seconds() for n in (4, 5, 6, 7, 9, 12)] == [0, 30, 60, 120, 480, 900]
