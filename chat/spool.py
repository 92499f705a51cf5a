"""Turns the database would not take, kept on disk until it does.

When the log refuses a write (locked past its busy timeout, read-only, full,
unreachable), the chat goes on: the turn, or a reply's ending, is appended to a
JSON-lines file (fsynced, mode 0600: it holds conversations) and written to the
database, in order, as soon as it takes writes again, by a background thread and
at every start. Nothing is held only in memory.

Each record has an id; writing it also inserts a `spooled_writes` row in the same
transaction, so a crash between the database's commit and the file's rewrite
cannot write a record twice. A line that cannot be read (a crash mid-append) is
moved to `<file>.bad` with a log line, never dropped silently.
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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import error_detail
from chat.models import Conversation, Message, ReplyStatus, SpooledWrite, utcnow

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


class Spool:
    def __init__(self, path: Path, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.path = path
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()  # this process's threads; FileLock: other processes
        self._file_lock = FileLock(f"{path}.lock")
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
        return [r for r in self.records() if r["conversation"]["id"] == conversation_id]

    # --- writing to the database -----------------------------------------------------
    def replay(self, sessions: sessionmaker[Session]) -> Replayed:
        """Write the records to the log in order, stopping at the first the log refuses."""
        with self._locked():
            records = self._read()
            done = 0
            for record in records:
                try:
                    write(sessions, record)
                except SQLAlchemyError as error:
                    log.info("the conversation log still refuses writes (%s)", error_detail(error))
                    break
                except (KeyError, TypeError, ValueError) as error:  # a record no log could take: set aside
                    log.error("a spooled record cannot be written (%s): moved to %s.bad", error, self.path)
                    self._quarantine([json.dumps(record, ensure_ascii=False, default=_json_default)])
                done += 1
            if done:
                self._rewrite(records[done:])
                log.warning("wrote %d spooled record(s) to the conversation log", done)
            return Replayed(written=done, left=len(records) - done)

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
        records, bad = [], []
        for line in lines:
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                bad.append(line)
        if bad:
            self._quarantine(bad)
            log.error("%d unreadable line(s) of %s moved to %s.bad", len(bad), self.path, self.path)
            self._rewrite(records)
        return records

    def _quarantine(self, lines: list[str]) -> None:
        descriptor = os.open(f"{self.path}.bad", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

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
    with sessions.begin() as session:
        if session.get(SpooledWrite, record["id"]) is not None:
            return False
        _write(session, record)
        session.add(SpooledWrite(record_id=record["id"]))
    return True


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
