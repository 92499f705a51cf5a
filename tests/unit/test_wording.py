"""chat/ui/wording.py: figures worded for people."""

from __future__ import annotations

from chat.ui.wording import format_cost


def test_costs_are_worded_for_people() -> None:
    assert [format_cost(usd) for usd in (1234.5, 0.15, 0.0001, 0, 0.0000069)] == [
        "$1,234.50",
        "$0.1500",
        "$0.0001",
        "$0",
        "$0.0000069",  # two significant digits, never rounded to $0
    ]
