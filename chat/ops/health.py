"""`python -m chat health [--deep]`: is this Parley able to serve?

Checks that the configuration is valid and that the database answers and takes
writes (a row is written and rolled back); with `--deep`,
that the model server answers too. Prints one line and exits 0 when healthy, 1
with the reason otherwise (`Error: unhealthy: ...`): what Docker's HEALTHCHECK and a
load balancer need. Even what no check foresaw is that one line, never a traceback.
"""

from __future__ import annotations

import openai
from sqlalchemy import Engine, create_engine, insert, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from chat.db.failures import Refusal, driver_words, error_detail, in_words, refusal
from chat.db.tables import AuditEvent, Base, utcnow
from chat.db.urls import parsed_url, require_existing_file
from chat.errors import ChatError, ConfigError
from chat.llm.client import PLACEHOLDER_API_KEY
from chat.settings import Settings

# A health check answers quickly or not at all: no long busy waits.
TIMEOUT_SECONDS = 3.0


class Unhealthy(ChatError):
    """Why this Parley cannot serve; its message reads `unhealthy: <reason>`."""

    kind = "unhealthy"

    def __init__(self, reason: str) -> None:
        super().__init__(f"unhealthy: {reason}")


def _engine(url: str) -> Engine:
    try:
        parsed = parsed_url(url)
        require_existing_file(parsed)  # SQLite would make an empty one: not a healthy Parley
    except ConfigError as error:
        raise Unhealthy(_clause(error.message)) from None
    if parsed.get_backend_name() == "sqlite":
        return create_engine(parsed, connect_args={"timeout": TIMEOUT_SECONDS})
    return create_engine(parsed, connect_args={"connect_timeout": int(TIMEOUT_SECONDS)}, pool_pre_ping=False)


def _clause(sentence: str) -> str:
    """A sentence as the clause after `unhealthy: `: no full stop, and a lower-case first
    word unless it is a name in capitals (`The file…` -> `the file…`; `DATABASE_URL…` kept)."""
    first = sentence.split(" ", 1)[0]
    start = sentence[:1].lower() if first[1:2].islower() else sentence[:1]
    return start + sentence[1:].rstrip(".")


def check_database(url: str) -> str:
    """Why the database cannot serve Parley, raised as Unhealthy; else a short description."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            missing = [t.name for t in Base.metadata.sorted_tables if not inspect(connection).has_table(t.name)]
            if missing:
                raise Unhealthy(f"the database lacks Parley's tables ({', '.join(missing)}); run `make migrate`")
            # A real write to one of Parley's tables, rolled back: proves the lock, the
            # permissions and the storage alike, and leaves nothing behind.
            try:
                connection.execute(insert(AuditEvent).values(at=utcnow(), actor="health", action="probe", target=""))
            finally:
                connection.rollback()
    except SQLAlchemyError as error:
        raise Unhealthy(_database_reason(error)) from None
    finally:
        engine.dispose()
    return f"database ({engine.dialect.name}) answers and takes writes"


def _database_reason(error: SQLAlchemyError) -> str:
    """The refusal in failures' words; with the wait for a lock, and the driver's words
    where an operator needs them (who cannot be reached, what failed)."""
    words = in_words(error, otherwise="the database failed")
    kind = refusal(error)
    if kind is Refusal.BUSY:
        return f"{words} (locked by another writer for more than {TIMEOUT_SECONDS:g} s)"
    if kind in (None, Refusal.UNREACHABLE):
        return f"{words}: {driver_words(error) or type(error).__name__}"
    return words


def check_model(settings: Settings) -> str:
    if settings.demo_mode:
        return "model: the offline demo model"
    client = openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value() or PLACEHOLDER_API_KEY,
        base_url=settings.openai_base_url,
        timeout=TIMEOUT_SECONDS,
        max_retries=0,
    )
    server = settings.openai_base_url or "the OpenAI API"
    try:
        client.models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError):
        raise Unhealthy(f"the model server ({server}) refuses the API key") from None
    except openai.APIStatusError:
        pass  # it answered; not every server lists its models
    except openai.APIError:  # connection refused, timeout, reset
        raise Unhealthy(f"the model server ({server}) does not answer") from None
    return f"model server ({server}) answers"


def run(deep: bool) -> str:
    try:
        settings = Settings.from_env()
    except ChatError as error:
        raise Unhealthy(" ".join(error.message.split())) from None
    parts = [check_database(settings.database_url)]
    if deep:
        parts.append(check_model(settings))
    return "; ".join(parts)


def check(deep: bool) -> str:
    """`healthy: ...`, or Unhealthy with the reason; an unforeseen failure is one line too."""
    try:
        return f"healthy: {run(deep)}"
    except Unhealthy:
        raise
    except Exception as error:  # a health check answers in one line, whatever happened
        raise Unhealthy(f"the check failed unexpectedly: {error_detail(error)}") from error
