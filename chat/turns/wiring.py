"""The chat service put together from settings: the engine, the schema, the model.

The screens ask for a service and get one, or a ChatError saying why not; they never
build the database engine themselves, nor see a database error (`chat.ui` imports no
SQLAlchemy).
"""

from __future__ import annotations

import atexit
import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from chat.accounts.auth import Accounts
from chat.db.engine import init_db, make_engine, session_factory
from chat.db.failures import error_detail
from chat.errors import StorageError
from chat.llm.client import build_model
from chat.settings import Settings
from chat.turns.service import ChatService

log = logging.getLogger(__name__)

CANNOT_OPEN = (
    "Parley cannot open its conversation log (DATABASE_URL). "
    "Check that the database is running and writable, then reload this page."
)


def open_service(settings: Settings) -> ChatService:
    """A service over the database DATABASE_URL names, migrated (or refused with a ConfigError
    under PARLEY_AUTO_MIGRATE=false), with replies left streaming by a dead process closed.
    A database that cannot be opened is a StorageError saying so (the cause goes to the log)."""
    try:
        engine = make_engine(settings.database_url)
        interrupted = init_db(engine, apply_migrations=settings.auto_migrate)
        if interrupted:
            log.info("marked %d reply(ies) left streaming by a stopped process as interrupted", interrupted)
        return ChatService(settings, session_factory(engine), build_model(settings))
    except (SQLAlchemyError, OSError) as error:  # translated here, where the database is opened
        log.error("cannot open the database: %s", error_detail(error))  # never the statement's parameters
        raise StorageError(CANNOT_OPEN) from None


def open_accounts(settings: Settings, service: ChatService) -> Accounts:
    """The accounts over the service's log: the screens never hold its sessionmaker."""
    return Accounts(settings, service.sessions)


@dataclass(frozen=True)
class Opened:
    """One process's service and accounts for its settings: the HTTP side (sign-in, the gate,
    health) and the Streamlit screens share them, so one engine serves both."""

    service: ChatService
    accounts: Accounts


_opened: dict[Settings, Opened] = {}
_opened_lock = threading.Lock()


def shared(settings: Settings) -> Opened:
    """The process's service and accounts for these settings, opened on first use; a
    StorageError (and nothing kept) if the database cannot be opened, so a later call retries."""
    with _opened_lock:
        if settings not in _opened:
            service = open_service(settings)
            # Replies are written by daemon threads, which the interpreter would cut off at exit
            # (Streamlit exits this way on SIGTERM or Ctrl+C): end them first, saved as interrupted.
            atexit.register(service.shutdown)
            accounts = open_accounts(settings, service)
            service.session_check = lambda hashed: accounts.resume(hashed) is not None
            _opened[settings] = Opened(service, accounts)
        return _opened[settings]


def forget_shared() -> None:
    """End and drop what `shared` opened: when the server stops (its ASGI lifespan ends: uvicorn
    re-raises SIGTERM after its graceful shutdown, so `atexit` would never run), and in tests
    (each gets its own engine and model client). Replies still being written are saved as
    `interrupted` with what arrived."""
    with _opened_lock:
        for opened in _opened.values():
            opened.service.shutdown()
            atexit.unregister(opened.service.shutdown)
        _opened.clear()
