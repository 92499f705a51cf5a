"""A conversation's naming by its model, as the page waits for it (chat/turns/titles.py does it)."""

from __future__ import annotations

import threading


class Naming:
    """A conversation's title, asked of its model after its first reply (chat/turns/titles.py):
    the page may wait a moment for it, to list the conversation under it at once."""

    def __init__(self) -> None:
        self._settled = threading.Event()
        self._title: str | None = None

    def settle(self, title: str | None) -> None:
        """The new title written to the log; None: the title did not change (the model failed or
        gave the same words, or its owner renamed it meanwhile)."""
        self._title = title
        self._settled.set()

    @property
    def settled(self) -> bool:
        return self._settled.is_set()

    @property
    def title(self) -> str | None:
        return self._title

    def wait(self, timeout: float) -> bool:
        return self._settled.wait(timeout)
