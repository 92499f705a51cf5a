"""Waiting in tests: on a condition, with a deadline, never a fixed sleep.

A test that sleeps "long enough" for something to happen proves nothing on a slower
machine and wastes time on a faster one. `wait_until` polls the condition itself and
fails naming what it waited for (tests/test_test_rules.py keeps bare sleeps out).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str, *, every: float = 0.02) -> T:
    """Poll `condition` every `every` seconds until it returns something true, and return
    that; after `timeout` seconds, raise an AssertionError saying what never came."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = "" if value is None or value is False else f" (last seen: {value!r:.300})"
            raise AssertionError(f"waited {timeout:g} s for {what}{seen}")
        time.sleep(every)
