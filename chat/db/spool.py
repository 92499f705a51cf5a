"""Turns the database would not take, kept on disk until it does.

When the log refuses a write (locked past its busy timeout, read-only, full,
unreachable), the chat goes on: the turn, or a reply's ending, is appended to a
JSON-lines file (fsynced, mode 0600: it holds conversations) and written to the
database, in order, as soon as it takes writes again, by a background thread and
at every start. Nothing is held only in memory.

A line is a `Record`: its parts are the records of chat/domain/records.py in their JSON
form, and it is written through the store's own functions (`store.write_turn`), the
ones the chat uses when the log takes writes. Each record has an id; writing it also
inserts a `spooled_writes` row in the same transaction, so a crash between the
database's commit and the file's rewrite cannot write a record twice.

A record the log refuses for a reason no retry will cure, one that does not fit the
records (set aside whenever the file is read, by any reader: it never reaches the log),
and a line that cannot be read (a crash mid-append), go to the quarantine
(chat/db/quarantine.py) and are logged without their text: they never block the
records behind them. Transient refusals (locked, read-only, unreachable) stop the
replay, which retries later.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import quotas, store
from chat.db.failures import error_detail, refused_for_good
from chat.db.quarantine import Quarantine, SetAside, cannot_be_read
from chat.db.tables import SpooledWrite
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord, from_json, to_json

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
# What the log says of a record set aside: the log saw it and refused it, or it never
# reached the log (set aside as the file was read, by whichever call read it).
REFUSED = "the conversation log refused spooled record %s for good (%s): moved to %s"
UNFIT = "spooled record %s cannot be read as a turn (%s), so it never reached the conversation log: moved to %s"


@dataclass(frozen=True)
class Record:
    """A whole turn (`reply_id` None: neither its prompt nor its reply reached the log),
    or the ending of a reply whose row exists (`reply_id`, no `prompt`)."""

    conversation: ConversationRecord
    prompt: PromptRecord | None
    reply: ReplyRecord
    reply_id: int | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation": to_json(self.conversation),
            "prompt": {} if self.prompt is None else to_json(self.prompt),
            "reply": to_json(self.reply),
            "reply_id": self.reply_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """KeyError, TypeError or ValueError if `data` does not fit (see `records.from_json`).

        Strict, unlike the import: a field this Parley does not know was spooled by a later
        one (then downgraded), and writing the record without it would lose it for good.
        Set aside instead, whole, where an operator sees it."""
        reply_id = data.get("reply_id")
        if reply_id is not None and not isinstance(reply_id, int):
            raise TypeError(f"reply_id must be int, not {type(reply_id).__name__}")
        return cls(
            id=data["id"],
            conversation=from_json(ConversationRecord, data["conversation"]),
            prompt=from_json(PromptRecord, data["prompt"]) if data["prompt"] else None,
            reply=from_json(ReplyRecord, data["reply"]),
            reply_id=reply_id,
        )


@dataclass(frozen=True)
class Replayed:
    written: int
    left: int
    quarantined: int = 0  # refused for good: moved to the quarantine file


class Spool:
    def __init__(self, path: Path, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.path = path
        self.retry_seconds = retry_seconds
        self.quarantine = Quarantine(path.with_name(f"{path.stem}.quarantine.jsonl"), legacy=Path(f"{path}.bad"))
        self._lock = threading.Lock()  # this process's threads; FileLock: other processes
        self._file_lock = FileLock(f"{path}.lock", mode=0o600)  # beside what users wrote: theirs alone
        self._replayer: threading.Thread | None = None
        self._stop = threading.Event()

    # --- writing to the file ---------------------------------------------------------
    def add(self, record: Record) -> None:
        """Append `record` durably (fsynced before returning)."""
        line = json.dumps(record.to_json(), ensure_ascii=False) + "\n"
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
            return self._read()[0]

    def pending_for(self, conversation_id: str) -> list[Record]:
        """This conversation's records not yet in the log, oldest first (for its history)."""
        if not self.has_pending():
            return []
        return [r for r in self.records() if r.conversation.id == conversation_id]

    def waiting_for(self, username: str) -> list[quotas.Waiting]:
        """The user's turns waiting here, as the quotas count them."""
        return waiting_usage(self.records(), username) if self.has_pending() else []

    @property
    def quarantine_path(self) -> Path:
        return self.quarantine.path

    def set_aside(self) -> list[SetAside]:
        """What the quarantine holds, oldest first; a folder where the lock cannot be taken
        (read-only, permission denied) is said as an entry, for the admin page not to fail."""
        try:
            with self._locked():
                return self.quarantine.set_aside()
        except OSError as error:
            return [cannot_be_read(error)]

    # --- writing to the database -----------------------------------------------------
    def replay(self, sessions: sessionmaker[Session]) -> Replayed:
        """Write the records to the log in order. A record refused for good goes to the
        quarantine and the next one is tried; a transient refusal stops here (retried later)."""
        with self._locked():
            records, unfit = self._read()
            done = refused = 0
            unexpected: Exception | None = None
            for record in records:
                try:
                    write(sessions, record)
                except Exception as error:
                    if not refused_for_good(error):
                        unexpected = _stopped_by(error)
                        break
                    self._set_aside(record.to_json(), error, REFUSED)
                    refused += 1
                done += 1
            if done:
                self._rewrite(records[done:])
                log.warning("wrote %d spooled record(s) to the conversation log, set %d aside", done - refused, refused)
            if unexpected is not None:  # after the rewrite: what was written stays written
                raise unexpected
            return Replayed(written=done - refused, left=len(records) - done, quarantined=unfit + refused)

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

    def _read(self) -> tuple[list[Record], int]:
        """The records, and how many lines were set aside as unfit: a line that cannot be
        read, and a record that does not fit the records, go to the quarantine at once."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return [], 0
        records: list[Record] = []
        unreadable: list[dict[str, Any]] = []
        unfit = 0
        for line in lines:
            if not line.strip():
                continue
            try:
                data = _parsed(line)
            except ValueError as error:  # JSONDecodeError is one
                unreadable.append({"line": line, "reason": f"unreadable line ({error})"})
                continue
            try:
                records.append(Record.from_json(data))
            except (KeyError, TypeError, ValueError) as error:
                self._set_aside(data, error, UNFIT)
                unfit += 1
        if unreadable:
            self.quarantine.add(unreadable)
            log.error("%d unreadable line(s) of %s moved to %s", len(unreadable), self.path, self.quarantine.path)
        if unreadable or unfit:
            self._rewrite(records)
        return records, unfit

    def _set_aside(self, data: Mapping[str, Any], error: BaseException, why: str) -> None:
        """Quarantine one record; `why` (REFUSED, UNFIT) says what happened to it in the log."""
        reason = error_detail(error)  # the driver's words: never the statement's parameters
        self.quarantine.add([{"record": data, "reason": reason}])
        # The record id and the reason only: the record holds what users wrote.
        log.error(why, data.get("id"), reason, self.quarantine.path)

    def _rewrite(self, records: list[Record]) -> None:
        if not records:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def write(sessions: sessionmaker[Session], record: Record) -> bool:
    """Write one record to the log in one transaction. False if it was written before."""
    with sessions.begin() as session:
        if session.get(SpooledWrite, record.id) is not None:
            return False
        store.write_turn(session, record.conversation, record.prompt, record.reply, record.reply_id)
        session.add(SpooledWrite(record_id=record.id))
    return True


def _stopped_by(error: Exception) -> Exception | None:
    """A refusal the log may get over (None: retried later), or a bug (raised once the
    records written so far are out of the file)."""
    if isinstance(error, SQLAlchemyError):
        log.info("the conversation log still refuses writes (%s)", error_detail(error))
        return None
    return error


def _parsed(line: str) -> dict[str, Any]:
    """One spool line as a record's JSON; ValueError if it is not even shaped like one."""
    data = json.loads(line)
    if not (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and all(isinstance(data.get(part), dict) for part in ("conversation", "prompt", "reply"))
    ):
        raise ValueError("not a spool record")
    return data


def waiting_usage(records: list[Record], username: str) -> list[quotas.Waiting]:
    """What `username`'s records in the spool count toward the quotas: a whole turn is a
    request (its reply row is not in the log yet); a reply's ending adds only its tokens
    (its row, counted as a request, is in the log, without them)."""
    return [
        quotas.Waiting(
            at=record.reply.created_at,
            tokens=(record.reply.prompt_tokens or 0) + (record.reply.completion_tokens or 0),
            new_request=record.reply_id is None,
        )
        for record in records
        if record.conversation.username == username
    ]
