"""Where the spool sets aside what the log will never take, and what an operator sees of it.

A spooled record the log refuses for a reason no retry will cure (a data error, a broken
constraint, text it cannot encode, a record that does not fit the schema), and a spool
line that cannot be read (a crash mid-append), is appended to the quarantine file beside
the spool (`spool.quarantine.jsonl`, mode 0600: it holds conversations) with the reason
in the driver's words and the time. The admin page lists it (`set_aside`) without the
records' text. The spool (chat/db/spool.py) holds its lock around every call here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chat.db.tables import utcnow


@dataclass(frozen=True)
class SetAside:
    """One record in the quarantine, as an operator needs it: never its text."""

    at: datetime | None
    reason: str
    what: str  # "a turn", "a reply's ending" or "an unreadable line"
    username: str | None
    conversation_id: str | None
    record_id: str | None


class Quarantine:
    def __init__(self, path: Path, *, legacy: Path) -> None:
        self.path = path
        self.legacy = legacy  # `<spool>.bad`, where Parley once set unreadable lines aside

    def add(self, entries: list[dict[str, Any]]) -> None:
        """Append `entries` (each a `record` or a raw `line`, and a `reason`) with the time,
        fsynced before the spool forgets them. ASCII JSON: a lone surrogate, one way a
        record gets here, could not be written as UTF-8."""
        at = utcnow().isoformat()
        text = "".join(json.dumps({"at": at, **entry}) + "\n" for entry in entries)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def set_aside(self) -> list[SetAside]:
        """What the quarantine holds, oldest first (its one reader)."""
        try:
            self._adopt_legacy()
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        except OSError as error:  # the admin page says so instead of failing
            return [cannot_be_read(error)]
        return [_described(line) for line in lines if line.strip()]

    def _adopt_legacy(self) -> None:
        """One quarantine, one reader: the lines an older Parley set aside move into it."""
        try:
            lines = self.legacy.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return
        reason = f"unreadable line (set aside in {self.legacy.name} by an earlier Parley)"
        self.add([{"line": line, "reason": reason} for line in lines if line.strip()])
        self.legacy.unlink()


def cannot_be_read(error: OSError) -> SetAside:
    """The entry that stands for a quarantine that cannot be read (or locked) at all."""
    reason = f"the quarantine file cannot be read ({error.strerror or type(error).__name__})"
    return SetAside(None, reason, "the file itself", None, None, None)


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
