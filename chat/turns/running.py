"""The replies being written in this process, and the worker slots (PARLEY_MAX_WORKERS).

A turn is found by its reply id, and only by its own user: a page that reloads (or another
tab) picks up a reply still being written; nobody else's.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from chat.turns.turn import Turn


class Running:
    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._turns: dict[int, Turn] = {}  # by key: the reply id, or a negative number while it has none
        self._keys: dict[Turn, int] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_workers)
        self._unlogged_keys = itertools.count(-1, -1)

    # --- worker slots --------------------------------------------------------------
    def take_slot(self) -> bool:
        """A worker slot, if one is free; give it back with `free_slot` (or `ended`)."""
        return self._slots.acquire(blocking=False)

    def free_slot(self) -> None:
        self._slots.release()

    # --- the turns -----------------------------------------------------------------
    def launch(self, turn: Turn, run: Callable[[], None]) -> None:
        """Register `turn` under its reply id (a negative key while it has none) and start
        its worker thread, which runs `run` and then calls `ended`."""
        with self._lock:
            key = turn.reply_id if turn.reply_id is not None else next(self._unlogged_keys)
            self._turns[key] = turn
            self._keys[turn] = key
        try:
            threading.Thread(target=run, name=f"parley-reply-{key}", daemon=True).start()
        except BaseException:
            self._forget(turn)
            raise

    def ended(self, turn: Turn) -> None:
        """The worker of `turn` is done with it: forget it and free its slot."""
        self._forget(turn)
        self._slots.release()

    def _forget(self, turn: Turn) -> None:
        with self._lock:
            key = self._keys.pop(turn, None)
            if key is not None:
                self._turns.pop(key, None)

    def find(self, username: str, reply_id: int | None) -> Turn | None:
        """The reply still being written in this process, if it is this user's."""
        with self._lock:
            turn = self._turns.get(reply_id) if reply_id is not None else None
        return turn if turn is not None and turn.username == username and not turn.done else None

    def ids(self) -> list[int]:
        with self._lock:
            return list(self._turns)

    def unlogged(self, username: str) -> list[Turn]:
        """The user's running turns that the log does not hold yet (bound for the spool)."""
        with self._lock:
            return [t for t in self._turns.values() if t.unlogged and t.username == username]

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._turns)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Parley is stopping: end every reply, saved as `interrupted` with what arrived."""
        with self._lock:
            turns = list(self._turns.values())
        for turn in turns:
            turn.stop(shutdown=True)
        deadline = time.monotonic() + timeout
        for turn in turns:
            turn.wait(max(0.0, deadline - time.monotonic()))
