"""How a list of conversations is grouped by when each was last used, in the reader's own time
zone (Today, Yesterday, Previous 7 days, then one group a month: "November 2026"), and filtered
by title."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chat.domain.times import as_utc

UTC_ZONE = ZoneInfo("UTC")


class Listed(Protocol):
    """A conversation as a list shows it (`ConversationSummary`)."""

    @property
    def title(self) -> str: ...

    @property
    def updated_at(self) -> datetime: ...


Item = TypeVar("Item", bound=Listed)


def zone(name: str | None) -> tzinfo:
    """The browser's IANA time zone, or UTC when it is missing or not a zone this machine knows."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a name like "../etc"
        return UTC_ZONE


def date_group(moment: datetime, today: date, where: tzinfo) -> str:
    """The group a moment falls in, seen from `today` in the zone `where`."""
    day = as_utc(moment).astimezone(where).date()
    if day >= today:  # a clock a little ahead of the reader's is still today
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    return f"{day:%B %Y}"


def by_date(items: Iterable[Item], now: datetime, where: tzinfo) -> list[tuple[str, list[Item]]]:
    """`items` (newest first) in their date groups, in order; an empty group is left out."""
    today = as_utc(now).astimezone(where).date()
    groups: list[tuple[str, list[Item]]] = []
    for item in items:
        name = date_group(item.updated_at, today, where)
        if not groups or groups[-1][0] != name:
            groups.append((name, []))
        groups[-1][1].append(item)
    return groups


def titles_matching(items: Sequence[Item], words: str) -> list[Item]:
    """The items whose title holds every word of `words` (any case), in their order."""
    wanted = words.casefold().split()
    return [item for item in items if all(word in item.title.casefold() for word in wanted)]
