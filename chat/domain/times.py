"""Times in UTC: what the log stores and every layer compares."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(moment: datetime | str) -> datetime:
    """`moment` in UTC; one without a zone is taken to be UTC already (how SQLite and raw
    SQL hand back the log's times), one as text (raw SQL on SQLite) is read as ISO 8601."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
