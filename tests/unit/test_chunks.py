"""A stream event's JSON read into Parley's `Chunk` (chat/llm/chunks.py): what the worker uses,
and nothing a server gets wrong in the rest of the event turned into an error."""

from __future__ import annotations

import json

import pytest

from chat.llm.chunks import Chunk, TokenUsage, read_chunk


def event(**fields: object) -> object:
    """An event as the SDK hands it over: the JSON of one `data:` line, parsed."""
    return json.loads(json.dumps({"id": "c1", "object": "chat.completion.chunk", "model": "m", **fields}))


def test_words_reasoning_ending_and_usage_are_read_from_the_json() -> None:
    assert read_chunk(event(choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}])) == Chunk()
    assert read_chunk(event(choices=[{"index": 0, "delta": {"content": "Hello"}}])) == Chunk(content="Hello")
    assert read_chunk(event(choices=[{"index": 0, "delta": {}, "finish_reason": "length"}])) == Chunk(
        finish_reason="length"
    )
    usage = {"prompt_tokens": 14, "completion_tokens": 2000, "total_tokens": 2014}
    assert read_chunk(event(choices=[], usage=usage)) == Chunk(usage=TokenUsage(14, 2000))


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])  # DeepSeek and vLLM; Ollama and OpenRouter
def test_reasoning_in_a_field_of_its_own_is_kept_apart_from_the_words(field: str) -> None:
    chunk = read_chunk(event(choices=[{"index": 0, "delta": {field: "Let me think", "content": None}}]))
    assert chunk == Chunk(reasoning="Let me think")


@pytest.mark.parametrize(
    "fields",
    [
        {"choices": None},
        {"choices": "no"},
        {"choices": [None, 3, {"delta": None}]},
        {"choices": [{"delta": {"content": 7}, "finish_reason": ""}]},
        {"choices": [], "usage": {"prompt_tokens": "14"}},
        {"choices": [], "usage": None},
    ],
)
def test_a_field_of_the_wrong_type_is_read_as_absent(fields: dict[str, object]) -> None:
    assert read_chunk(event(**fields)) == Chunk()


def test_words_sent_as_a_list_of_parts_are_read_from_its_text_parts() -> None:
    parts = [{"type": "text", "text": "Bonjour"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "!"}]
    assert read_chunk(event(choices=[{"index": 0, "delta": {"content": parts}}])) == Chunk(content="Bonjour!")
    odd = [{"type": "text", "text": 3}, "x"]
    assert read_chunk(event(choices=[{"index": 0, "delta": {"content": odd}}])) == Chunk()


def test_an_event_that_is_not_an_object_carries_nothing() -> None:
    assert read_chunk([1, 2]) == Chunk() and read_chunk("text") == Chunk() and read_chunk(None) == Chunk()
