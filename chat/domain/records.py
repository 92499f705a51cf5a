"""A conversation's, a prompt's and a reply's fields: spelled here and nowhere else.

The store writes the log's rows from these records (chat/db/store.py), the spool keeps
them on disk until the log takes them (chat/db/spool.py), the export writes and reads
them (chat/db/documents.py) and the page shows them (chat/domain/messages.py). Their JSON
form is derived from the fields (`to_json`, `from_json`): times in ISO 8601 with their
zone, a status as its word. A field added here reaches the row, the spool file and the
export at once; the row needs a column of the same name (tests/unit/test_records.py checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import Any, NoReturn, TypeVar, get_args, get_type_hints

from chat.domain.status import ReplyStatus
from chat.domain.text import storable


@dataclass(frozen=True, kw_only=True)
class ConversationRecord:
    id: str
    username: str
    title: str
    model: str
    system_prompt: str
    temperature: float | None  # None: the server's own default
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class PromptRecord:
    content: str
    model: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReplyRecord:
    """A reply as the log keeps it. Fields with a default may be missing from a spool
    file or an export written by an older Parley."""

    content: str
    status: ReplyStatus
    created_at: datetime
    finished_at: datetime | None = None  # None while it streams
    model: str | None = None
    # What produced it, as sent: `temperature` None if none was sent.
    system_prompt: str | None = None
    temperature: float | None = None
    error_kind: str | None = None
    error_message: str | None = None  # the sentence the user saw
    prompt_tokens: int | None = None  # as the server reported them, or Parley's estimate:
    completion_tokens: int | None = None
    usage_estimated: bool = False  # True for the estimate
    cost_usd: float | None = None  # None: the model has no price
    reasoning: str | None = None
    context_tokens: int | None = None  # Parley's count of the request it sent
    context_left_out: int | None = None  # earlier messages left out of that request
    notices: str | None = None  # what that request cut or left out of a prompt's files, a sentence a line
    duration_ms: int | None = None


AnyRecord = ConversationRecord | PromptRecord | ReplyRecord
R = TypeVar("R", ConversationRecord, PromptRecord, ReplyRecord)


def field_names(kind: type[AnyRecord]) -> tuple[str, ...]:
    return tuple(field.name for field in fields(kind))


def values(record: AnyRecord) -> dict[str, Any]:
    """The record's fields by name, as they are (for the log's columns of the same names)."""
    return {field.name: getattr(record, field.name) for field in fields(record)}


def to_json(record: AnyRecord) -> dict[str, Any]:
    return {name: _encoded(value) for name, value in values(record).items()}


def from_json(kind: type[R], data: Mapping[str, Any], *, ignore_unknown: bool = False) -> R:
    """The record `data` (from `to_json`, possibly written by an older Parley) holds.

    Raises KeyError for a required field missing, TypeError for a field the record does
    not have (unless `ignore_unknown`) or a value of the wrong type, ValueError for a time
    without a zone or an unknown status: the data's fault, never cured by reading it again.
    A None is taken as it is (the log's NOT NULL judges it); text is made storable
    (chat/domain/text.py): an older Parley spooled NULs."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a {kind.__name__} is a JSON object, not {type(data).__name__}")
    hints = _HINTS[kind]
    unknown = sorted(set(data) - hints.keys())
    if unknown and not ignore_unknown:
        raise TypeError(f"{kind.__name__} has no field {', '.join(map(repr, unknown))}")
    found: dict[str, Any] = {}
    for field in fields(kind):
        if field.name in data:
            found[field.name] = _decoded(field.name, hints[field.name], data[field.name])
        elif field.default is MISSING:
            raise KeyError(field.name)
    return kind(**found)


def parse_time(value: object) -> datetime:
    """An ISO 8601 time with its zone (a time without one is ambiguous: refused)."""
    if not isinstance(value, str):
        raise TypeError(f"a time is written as text, not {type(value).__name__}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"the time {value!r} has no zone")
    return moment


def _encoded(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, ReplyStatus) else value


def _decoded(name: str, hint: Any, value: object) -> object:
    if value is None:
        return None  # where the record wants a value, the log's NOT NULL refuses it
    kind = next(each for each in (get_args(hint) or (hint,)) if each is not type(None))
    if kind is datetime:
        return parse_time(value)
    if kind is ReplyStatus:
        return ReplyStatus(value) if isinstance(value, str) else _wrong(name, kind, value)
    if kind is float and type(value) is int:
        return float(value)  # JSON writes 1.0 as 1
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return _wrong(name, kind, value)
    return storable(value) if isinstance(value, str) else value


def _wrong(name: str, kind: type, value: object) -> NoReturn:
    raise TypeError(f"{name} must be {kind.__name__}, not {type(value).__name__}")


_HINTS: dict[type[AnyRecord], dict[str, Any]] = {
    kind: get_type_hints(kind) for kind in (ConversationRecord, PromptRecord, ReplyRecord)
}
