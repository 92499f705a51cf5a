"""chat/turns/service.py without a model server: the prompt cleaned before anything is sent."""

from __future__ import annotations

import pytest

from chat.errors import InputError
from chat.turns.service import clean_prompt


def test_prompt_cleaning() -> None:
    assert clean_prompt(None, 10) is None
    assert clean_prompt("   \n ", 10) is None
    assert clean_prompt("  hi  ", 10) == "  hi"
    assert clean_prompt(" \n\r\n \t\n    x = 1\n\ty\n \n", 40) == "    x = 1\n\ty"  # a pasted block keeps its shape
    with pytest.raises(InputError, match="11 characters long; the limit is 10"):
        clean_prompt("x" * 11, 10)
