"""The user's quota, counting the turns the log does not hold yet (chat/db/quotas.py)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import quotas, spool
from chat.db.failures import error_detail
from chat.db.tables import utcnow
from chat.turns.running import Running

log = logging.getLogger(__name__)


class QuotaGuard:
    def __init__(self, sessions: sessionmaker[Session], spool_file: spool.Spool, running: Running) -> None:
        self._sessions = sessions
        self._spool = spool_file
        self._running = running

    def check(self, username: str, quota: quotas.Quota) -> None:
        """Refuse a request past the user's quota, counting the turns the log has not
        taken yet. A database that cannot be read does not stop the chat (fail open):
        only those turns are counted, and the skipped part is logged."""
        waiting = self.waiting(username)
        try:
            with self._sessions() as session:
                quotas.check(session, username, quota, now=utcnow(), waiting=waiting)
                return
        except SQLAlchemyError as error:
            log.warning("quota check skipped (fail open) for the log; the spool still counts: %s", error_detail(error))
        quotas.check(None, username, quota, now=utcnow(), waiting=waiting)

    def usage(self, username: str) -> quotas.QuotaUsage:
        waiting = self.waiting(username)
        with self._sessions() as session:
            return quotas.usage(session, username, now=utcnow(), waiting=waiting)

    def waiting(self, username: str) -> list[quotas.Waiting]:
        """The user's turns the log does not hold: in the spool, and spooled ones still
        being answered (they reach the spool when they end)."""
        answering = [
            quotas.Waiting(at=t.started_at, tokens=t.plan.tokens, new_request=True)
            for t in self._running.unlogged(username)
        ]
        return self._spool.waiting_for(username) + answering
