"""Beside each worker, a watchdog thread: the reply's progress saves, heartbeat and deadline."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import store
from chat.db.engine import HEARTBEAT_SECONDS
from chat.db.failures import error_detail
from chat.turns.turn import Turn, TurnWriter

log = logging.getLogger(__name__)

WATCH_TICK = 0.05  # seconds: how soon the watcher sees a first token or the deadline


class Watchdog:
    def __init__(self, sessions: sessionmaker[Session], deadline: float) -> None:
        self._sessions = sessions
        self._deadline = deadline  # seconds: PARLEY_REPLY_DEADLINE

    def start(self, writer: TurnWriter, started: float) -> None:
        """Watch `writer.turn`, whose worker started at `started` (time.monotonic), until it is done."""
        name = f"parley-watch-{writer.turn.reply_id or 'unlogged'}"
        threading.Thread(target=self._watch, args=(writer, started), name=name, daemon=True).start()

    def _watch(self, writer: TurnWriter, started: float) -> None:
        """While a reply is written: its row's progress and heartbeat (the first token at
        once, then about every second; also while the model thinks before its first
        token, so nobody takes it for abandoned), and the overall deadline, which read
        timeouts cannot enforce on a stream kept alive by comments.

        Writes happen here, never in the thread reading the stream: a database that
        makes writers wait must not hold the reply back."""
        turn = writer.turn
        deadline = self._deadline
        interval = HEARTBEAT_SECONDS / 2
        first_token_saved = False
        saved_at = started  # the row was written with the prompt, just before the worker started
        while not turn.wait(WATCH_TICK):
            now = time.monotonic()
            if now - started >= deadline:
                writer.expire(deadline)
            if turn.unlogged:
                continue  # no row to touch
            if now - saved_at >= interval or (turn.has_text and not first_token_saved):
                first_token_saved = first_token_saved or turn.has_text
                saved_at = time.monotonic()
                self._save_progress(turn)

    def _save_progress(self, turn: Turn) -> None:
        try:
            with self._sessions.begin() as session:
                store.save_reply_progress(session, turn.reply_id or -1, turn.text)
        except SQLAlchemyError as error:
            # Progress is best effort: the final save in the worker writes everything.
            log.warning("could not save reply progress: %s", error_detail(error))
