"""Date groups for the conversation list (chat/domain/dates.py), with a clock the test sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat.domain.conversation import ConversationSummary
from chat.domain.dates import by_date, titles_matching, zone

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def summary(title: str, ago: timedelta) -> ConversationSummary:
    return ConversationSummary(id=title, title=title, updated_at=NOW - ago)


def test_groups_run_today_yesterday_previous_week_then_months() -> None:
    items = [
        summary("now", timedelta(minutes=5)),
        summary("this morning", timedelta(hours=8, minutes=59)),  # 00:01 today
        summary("last night", timedelta(hours=9, minutes=1)),  # 23:59 yesterday
        summary("three days", timedelta(days=3)),
        summary("six days", timedelta(days=6)),
        summary("seven days", timedelta(days=7)),  # 23 November: out of the week
        summary("early November", timedelta(days=25)),
        summary("October", timedelta(days=40)),
        summary("a year ago", timedelta(days=365)),
    ]
    groups = by_date(items, NOW, zone("UTC"))
    assert [(name, [i.title for i in group]) for name, group in groups] == [
        ("Today", ["now", "this morning"]),
        ("Yesterday", ["last night"]),
        ("Previous 7 days", ["three days", "six days"]),
        ("November 2026", ["seven days", "early November"]),
        ("October 2026", ["October"]),
        ("November 2025", ["a year ago"]),
    ]


def test_the_day_is_the_readers_own() -> None:
    # 09:00 UTC is 22:00 the same day in Auckland (UTC+13 in summer), 01:00 in Los Angeles.
    late = [summary("at 23:30 UTC yesterday", timedelta(hours=9, minutes=30))]
    assert by_date(late, NOW, zone("UTC"))[0][0] == "Yesterday"
    assert by_date(late, NOW, zone("Pacific/Auckland"))[0][0] == "Today"  # 12:30 today there
    assert by_date(late, NOW, zone("America/Los_Angeles"))[0][0] == "Yesterday"


def test_an_unknown_or_hostile_zone_name_falls_back_to_utc() -> None:
    for name in (None, "", "Mars/Olympus", "../../etc/passwd"):
        assert zone(name).utcoffset(NOW) == timedelta(0)


def test_a_clock_running_ahead_is_still_today() -> None:
    ahead = [summary("from a fast clock", -timedelta(minutes=2))]
    assert by_date(ahead, NOW, zone("UTC"))[0][0] == "Today"


def test_the_filter_wants_every_word_in_any_case() -> None:
    items = [
        summary("Quarterly Report draft", timedelta()),
        summary("Report card", timedelta()),
        summary("Misc", timedelta()),
    ]
    assert [i.title for i in titles_matching(items, "report")] == ["Quarterly Report draft", "Report card"]
    assert [i.title for i in titles_matching(items, "DRAFT report")] == ["Quarterly Report draft"]
    assert [i.title for i in titles_matching(items, "  ")] == ["Quarterly Report draft", "Report card", "Misc"]
