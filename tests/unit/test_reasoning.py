"""chat/domain/reasoning.py: `<think>` tags split from the reply wherever the chunks break."""

from __future__ import annotations

import pytest

from chat.domain.reasoning import ThinkSplitter


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>abc</think>Answer"],
        ["<th", "ink>a", "bc</th", "ink>", "Answer"],
        ["  \n", "<think>", "abc", "</", "think>\n\nAnswer"],
    ],
)
def test_think_tags_split_anywhere_across_chunks(pieces: list[str]) -> None:
    splitter = ThinkSplitter()
    reasoning, content = "", ""
    for piece in pieces:
        r, c = splitter.feed(piece)
        reasoning, content = reasoning + r, content + c
    r, c = splitter.flush()
    assert (reasoning + r, content + c) == ("abc", "Answer")


def test_text_that_merely_mentions_think_is_content() -> None:
    splitter = ThinkSplitter()
    parts = [splitter.feed(piece) for piece in ["I <think>", " therefore", " I am"]]
    assert "".join(c for _, c in parts) + splitter.flush()[1] == "I <think> therefore I am"
