"""Turns the database would not take, kept on disk until it does.

When the log refuses a write (locked past its busy timeout, read-only, full,
unreachable), the chat goes on: the turn, or a reply's ending, is appended to a
JSON-lines file (fsynced, mode 0600: it holds conversations) and written to the
database, in order, as soon as it takes writes again, by a background thread and
at every start. Nothing is held only in memory.

Each record has an id; writing it also inserts a `spooled_writes` row in the same
transaction, so a crash between the database's commit and the file's rewrite
cannot write a record twice.

A record the log refuses for a reason no retry will cure (a data error, a broken
constraint, text it cannot encode, a record that does not fit the schema), and a
line that cannot be read (a crash mid-append), is moved to the quarantine file
beside the spool (`spool.quarantine.jsonl`, mode 0600), with the reason in the
driver's words and the time, and logged without its text: it never blocks the
records behind it. Transient refusals (locked, read-only, unreachable) stop the
replay, which retries later. The admin page shows the quarantine (`set_aside`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.orm import Session, sessionmaker

from chat.db import quotas
from chat.db.engine import error_detail
from chat.db.tables import Conversation, Message, SpooledWrite, utcnow
from chat.domain.status import ReplyStatus
from chat.domain.text import storable

log = logging.getLogger(__name__)

Record = dict[str, Any]
RETRY_SECONDS = 2.0


def turn_record(
    *, conversation: dict[str, Any], prompt: dict[str, Any], reply: dict[str, Any], reply_id: int | None = None
) -> Record:
    """A whole turn (`reply_id` None: neither the prompt nor the reply reached the log),
    or the ending of a reply whose row exists (`reply_id`, `prompt` empty)."""
    return {
        "id": uuid.uuid4().hex,
        "conversation": conversation,
        "prompt": prompt,
        "reply": reply,
        "reply_id": reply_id,
    }


@dataclass(frozen=True)
class Replayed:
    written: int
    left: int
    quarantined: int = 0  # refused for good: moved to the quarantine file


@dataclass(frozen=True)
class SetAside:
    """One record in the quarantine, as an operator needs it: never its text."""

    at: datetime | None
    reason: str
    what: str  # "a turn", "a reply's ending" or "an unreadable line"
    username: str | None
    conversation_id: str | None
    record_id: str | None


class Spool:
    def __init__(self, path: Path, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.path = path
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()  # this process's threads; FileLock: other processes
        self._file_lock = FileLock(f"{path}.lock", mode=0o600)  # beside what users wrote: theirs alone
        self._replayer: threading.Thread | None = None
        self._stop = threading.Event()

    # --- writing to the file ---------------------------------------------------------
    def add(self, record: Record) -> None:
        """Append `record` durably (fsynced before returning)."""
        line = json.dumps(record, ensure_ascii=False, default=_json_default) + "\n"
        with self._locked():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        log.warning("the conversation log refused a write: kept in %s until it takes writes again", self.path)

    def has_pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def records(self) -> list[Record]:
        with self._locked():
            return self._read()

    def pending_for(self, conversation_id: str) -> list[Record]:
        """This conversation's records not yet in the log, oldest first (for its history)."""
        if not self.has_pending():
            return []
        return [r for r in self.records() if r["conversation"].get("id") == conversation_id]

    def waiting_for(self, username: str) -> list[quotas.Waiting]:
        """The user's turns waiting here, as the quotas count them."""
        return waiting_usage(self.records(), username) if self.has_pending() else []

    @property
    def quarantine_path(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.quarantine.jsonl")

    def set_aside(self) -> list[SetAside]:
        """What the quarantine holds, oldest first (its one reader)."""
        try:
            with self._locked():
                self._adopt_legacy_bad_file()
                lines = self.quarantine_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        except OSError as error:  # the admin page says so instead of failing
            reason = f"the quarantine file cannot be read ({error.strerror or type(error).__name__})"
            return [SetAside(None, reason, "the file itself", None, None, None)]
        return [_described(line) for line in lines if line.strip()]

    # --- writing to the database -----------------------------------------------------
    def replay(self, sessions: sessionmaker[Session]) -> Replayed:
        """Write the records to the log in order. A record refused for good goes to the
        quarantine and the next one is tried; a transient refusal stops here (retried later)."""
        with self._locked():
            records = self._read()
            done = quarantined = 0
            unexpected: Exception | None = None
            for record in records:
                try:
                    write(sessions, record)
                except Exception as error:
                    if not refused_for_good(error):
                        if isinstance(error, SQLAlchemyError):
                            log.info("the conversation log still refuses writes (%s)", error_detail(error))
                        else:  # neither the log's refusal nor the record's fault: a bug, raised below
                            unexpected = error
                        break
                    reason = _reason(error)
                    self._quarantine([{"record": record, "reason": reason}])
                    # The record id and the reason only: the record holds what users wrote.
                    log.error(
                        "the conversation log refused spooled record %s for good (%s): moved to %s",
                        record.get("id"),
                        reason,
                        self.quarantine_path,
                    )
                    quarantined += 1
                done += 1
            if done:
                self._rewrite(records[done:])
                log.warning(
                    "wrote %d spooled record(s) to the conversation log, set %d aside",
                    done - quarantined,
                    quarantined,
                )
            if unexpected is not None:  # after the rewrite: what was written stays written
                raise unexpected
            return Replayed(written=done - quarantined, left=len(records) - done, quarantined=quarantined)

    def start_replaying(self, sessions: sessionmaker[Session], on_written: Callable[[], None] | None = None) -> None:
        """Retry in the background until the file is empty (one thread per process)."""
        with self._lock:
            if self._replayer is not None and self._replayer.is_alive():
                return
            self._replayer = threading.Thread(
                target=self._replay_until_empty, args=(sessions, on_written), name="parley-spool", daemon=True
            )
            self._replayer.start()

    def stop(self) -> None:
        self._stop.set()

    def _replay_until_empty(self, sessions: sessionmaker[Session], on_written: Callable[[], None] | None) -> None:
        while self.has_pending() and not self._stop.wait(self.retry_seconds):
            try:
                result = self.replay(sessions)
            except Exception:  # never let the retry loop die while records wait
                log.exception("could not replay the spool")
                continue
            if result.written and on_written is not None:
                on_written()

    # --- the file ---------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._file_lock:
            yield

    def _read(self) -> list[Record]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records: list[Record] = []
        bad: list[dict[str, Any]] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                records.append(_parsed(line))
            except ValueError as error:  # JSONDecodeError is one
                bad.append({"line": line, "reason": f"unreadable line ({error})"})
        if bad:
            self._quarantine(bad)
            log.error("%d unreadable line(s) of %s moved to %s", len(bad), self.path, self.quarantine_path)
            self._rewrite(records)
        return records

    def _quarantine(self, entries: list[dict[str, Any]]) -> None:
        """Append `entries` (each a `record` or a raw `line`, and a `reason`) with the time,
        fsynced before the spool forgets them. ASCII JSON: a lone surrogate, one way a
        record gets here, could not be written as UTF-8."""
        at = utcnow().isoformat()
        text = "".join(json.dumps({"at": at, **entry}, default=_json_default) + "\n" for entry in entries)
        descriptor = os.open(self.quarantine_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def _adopt_legacy_bad_file(self) -> None:
        """Parley before the quarantine moved unreadable lines to `<spool>.bad`: one
        quarantine, one reader, so they move into it."""
        legacy = Path(f"{self.path}.bad")
        try:
            lines = legacy.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return
        reason = f"unreadable line (set aside in {legacy.name} by an earlier Parley)"
        self._quarantine([{"line": line, "reason": reason} for line in lines if line.strip()])
        legacy.unlink()

    def _rewrite(self, records: list[Record]) -> None:
        if not records:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def write(sessions: sessionmaker[Session], record: Record) -> bool:
    """Write one record to the log in one transaction. False if it was written before."""
    # A record spooled by a Parley older than chat/domain/text.py may hold a NUL: made storable here too.
    record = _storable(record)
    with sessions.begin() as session:
        if session.get(SpooledWrite, record["id"]) is not None:
            return False
        _write(session, record)
        session.add(SpooledWrite(record_id=record["id"]))
    return True


# PostgreSQL's states for a missing table, column or function, a refused privilege and a
# missing schema: raised as ProgrammingError, yet about the log (mid-restore, not migrated,
# wrong grants), not the record, and cured once an operator fixes it. Retried.
_ABOUT_THE_LOG = frozenset({"42P01", "42703", "42883", "42501", "3F000"})


def refused_for_good(error: BaseException) -> bool:
    """True if retrying cannot cure `error`: the record itself is at fault (bad data,
    a broken constraint, text the driver cannot encode, a shape the schema does not fit).
    Anything else (locked, read-only, unreachable, unknown) is retried."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return False
        if isinstance(error, (DataError, IntegrityError)):
            return True
        if isinstance(error, ProgrammingError):
            state = getattr(error.orig, "sqlstate", None)
            # SQLite says "Cannot operate on a closed database." for a connection gone.
            return state not in _ABOUT_THE_LOG and "closed" not in str(error.orig).lower()
        return False
    if isinstance(error, StatementError) and error.orig is not None:  # a value SQLAlchemy could not bind
        error = error.orig
    # UnicodeEncodeError is a ValueError; KeyError, TypeError, AttributeError: not the schema's shape.
    return isinstance(error, (KeyError, TypeError, ValueError, AttributeError))


def _reason(error: BaseException) -> str:
    """Why a record was refused, for the quarantine and the log: the driver's words
    (`error_detail`), never SQLAlchemy's text, which quotes the statement's parameters."""
    if isinstance(error, SQLAlchemyError):
        return error_detail(error)
    first = str(error).strip().splitlines()
    return f"{type(error).__name__}: {first[0][:200]}" if first else type(error).__name__


def _parsed(line: str) -> Record:
    """One spool line as a record; ValueError if it is not one (so `pending_for` and the
    quotas can read every record the spool keeps)."""
    record = json.loads(line)
    if not (
        isinstance(record, dict)
        and isinstance(record.get("id"), str)
        and all(isinstance(record.get(part), dict) for part in ("conversation", "prompt", "reply"))
    ):
        raise ValueError("not a spool record")
    return record


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {name: _storable(item) for name, item in value.items()}
    return value


def _described(line: str) -> SetAside:
    """A quarantine line as the admin page shows it (no text of the record)."""
    try:
        entry = json.loads(line)
        at = datetime.fromisoformat(entry["at"])
        reason = str(entry["reason"])
    except (ValueError, KeyError, TypeError):
        return SetAside(None, "this line of the quarantine file cannot be read", "an unreadable line", None, None, None)
    record = entry.get("record")
    if not isinstance(record, dict):
        return SetAside(at, reason, "an unreadable line", None, None, None)
    meta = record.get("conversation")
    meta = meta if isinstance(meta, dict) else {}
    what = "a turn" if record.get("reply_id") is None else "a reply's ending"
    return SetAside(
        at,
        reason,
        what,
        _str_or_none(meta.get("username")),
        _str_or_none(meta.get("id")),
        _str_or_none(record.get("id")),
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def waiting_usage(records: list[Record], username: str) -> list[quotas.Waiting]:
    """What `username`'s records in the spool count toward the quotas: a whole turn is a
    request (its reply row is not in the log yet); a reply's ending adds only its tokens
    (its row, counted as a request, is in the log, without them)."""
    waiting = []
    for record in records:
        if record["conversation"].get("username") != username:
            continue
        reply = record["reply"]
        try:
            at = _aware(_time(reply["created_at"]))
            tokens = int(reply.get("prompt_tokens") or 0) + int(reply.get("completion_tokens") or 0)
        except (KeyError, TypeError, ValueError):
            continue  # cannot be counted; the replay will set it aside
        waiting.append(quotas.Waiting(at=at, tokens=tokens, new_request=record.get("reply_id") is None))
    return waiting


def _write(session: Session, record: Record) -> None:
    meta = record["conversation"]
    conversation = session.get(Conversation, meta["id"])
    if conversation is None:  # started while the log refused writes (or purged since)
        conversation = Conversation(
            id=meta["id"],
            username=meta["username"],
            title=meta["title"],
            model=meta["model"],
            system_prompt=meta["system_prompt"],
            temperature=meta["temperature"],
            created_at=_time(meta["created_at"]),
            updated_at=_time(meta["created_at"]),
        )
        session.add(conversation)
        session.flush()
    elif conversation.username != meta["username"]:
        raise ValueError("a spooled record names another user's conversation")  # never written across users
    prompt, reply = record["prompt"], record["reply"]
    if prompt:
        session.add(
            Message(
                conversation_id=conversation.id,
                username=meta["username"],
                role="user",
                content=prompt["content"],
                model=prompt["model"],
                status=ReplyStatus.COMPLETE,
                created_at=_time(prompt["created_at"]),
                updated_at=_time(prompt["created_at"]),
                finished_at=_time(prompt["created_at"]),
            )
        )
        session.flush()  # the prompt's id comes before its reply's
    fields = {**reply, "created_at": _time(reply["created_at"]), "finished_at": _time(reply["finished_at"])}
    existing = session.get(Message, record["reply_id"]) if record["reply_id"] is not None else None
    if existing is not None and existing.username == meta["username"]:
        for name, value in fields.items():  # the spool knows how the reply ended, whatever the row says
            if name != "created_at":
                setattr(existing, name, value)
        existing.updated_at = utcnow()
        existing.owner = None
    else:
        session.add(
            Message(
                conversation_id=conversation.id,
                username=meta["username"],
                role="assistant",
                updated_at=fields["finished_at"],
                **fields,
            )
        )
    conversation.updated_at = max(_aware(conversation.updated_at), fields["finished_at"])


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")
