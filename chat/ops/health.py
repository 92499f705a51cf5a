"""`python -m chat health [--deep]`: is this Parley able to serve?

Checks that the configuration is valid and that the database answers and takes
writes (a row is written and rolled back); with `--deep`,
that the model server answers too. `/readyz` (`chat/web/health.py`) runs the same
checks without the write (`check_database(url, write=False)`) and reports the
model's state (`model_state`) without failing on it. Prints one line and exits 0 when healthy, 1
with the reason otherwise (`Error: unhealthy: ...`): what Docker's HEALTHCHECK and a
load balancer need. Even what no check foresaw is that one line, never a traceback.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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


def check_database(url: str, *, write: bool = True) -> str:
    """Why the database cannot serve Parley, raised as Unhealthy; else a short description.
    With `write=False` only reads (SELECT): no write lock is taken, for frequent probes."""
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            missing = [t.name for t in Base.metadata.sorted_tables if not inspect(connection).has_table(t.name)]
            if missing:
                raise Unhealthy(f"the database lacks Parley's tables ({', '.join(missing)}); run `make migrate`")
            if write:
                # A real write to one of Parley's tables, rolled back: proves the lock, the
                # permissions and the storage alike, and leaves nothing behind.
                try:
                    connection.execute(
                        insert(AuditEvent).values(at=utcnow(), actor="health", action="probe", target="")
                    )
                finally:
                    connection.rollback()
    except SQLAlchemyError as error:
        raise Unhealthy(_database_reason(error)) from None
    finally:
        engine.dispose()
    return f"database ({engine.dialect.name}) answers" + (" and takes writes" if write else "")


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


class Model(enum.Enum):
    DEMO = "demo"  # no model server: the offline demo model answers
    OK = "ok"
    REFUSED = "refused"  # it answers, and refuses the API key
    UNREACHABLE = "unreachable"  # no answer in time (refused connection, timeout, reset)


@dataclass(frozen=True)
class ModelState:
    state: Model
    sentence: str

    @property
    def usable(self) -> bool:
        return self.state in (Model.DEMO, Model.OK)


def model_state(settings: Settings, *, timeout: float = TIMEOUT_SECONDS) -> ModelState:
    """What the model server says to `/models` within `timeout` (one try, no retries)."""
    if settings.demo_mode:
        return ModelState(Model.DEMO, "model: the offline demo model")
    server = settings.openai_base_url or "the OpenAI API"
    with openai.OpenAI(
        api_key=settings.openai_api_key.get_secret_value() or PLACEHOLDER_API_KEY,
        base_url=settings.openai_base_url,
        timeout=timeout,
        max_retries=0,
    ) as client:
        try:
            client.models.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            return ModelState(Model.REFUSED, f"the model server ({server}) refuses the API key")
        except openai.APIStatusError:
            pass  # it answered; not every server lists its models
        except openai.APIError:  # connection refused, timeout, reset
            return ModelState(Model.UNREACHABLE, f"the model server ({server}) does not answer")
    return ModelState(Model.OK, f"model server ({server}) answers")


def check_model(settings: Settings) -> str:
    found = model_state(settings)
    if not found.usable:
        raise Unhealthy(found.sentence)
    return found.sentence


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
