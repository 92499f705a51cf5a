"""chat/domain/text.py: text PostgreSQL cannot store (U+0000, lone surrogates) made storable, the same
way for every engine (tests/integration/test_text.py stores it on both)."""

from __future__ import annotations

from chat.domain.text import storable
from chat.turns.service import clean_prompt

FFFD = "\ufffd"


def test_nul_and_lone_surrogates_become_the_replacement_character() -> None:
    assert storable("a\x00b") == f"a{FFFD}b"
    assert storable("\ud800 and \udfff") == f"{FFFD} and {FFFD}"
    assert storable("\udc00\ud800") == FFFD * 2  # a low before a high is no pair
    # A high and a low side by side spell one character: kept, joined (lossless where possible).
    assert storable("smile \ud83d\ude00") == "smile \U0001f600"
    # Everything else is left alone, NUL's neighbours among the control characters included.
    text = "tab\tnewline\n\x01 \x7f é 😀 \u200b"
    assert storable(text) is text


def test_the_prompt_cleaner_makes_the_prompt_storable() -> None:
    assert clean_prompt("  hi\x00 there \ud800 ", 100) == f"  hi{FFFD} there {FFFD}"
