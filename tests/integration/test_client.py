"""chat/llm/client.py: every way a model server can fail becomes a sentence and a kind.

Real HTTP against the project's fake OpenAI server; no database, no service."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chat.errors import UpstreamError
from chat.llm.client import OpenAIChatModel
from tests.conftest import make_settings
from tests.fake_openai import FakeOpenAI, FakeReply

PROMPT = [{"role": "user", "content": "hello"}]


def model_for(tmp_path: Path, base_url: str) -> OpenAIChatModel:
    settings = make_settings(tmp_path, OPENAI_BASE_URL=base_url, OPENAI_API_KEY="sk-test", PARLEY_REQUEST_TIMEOUT="2")
    return OpenAIChatModel(settings)


def failure(model: OpenAIChatModel, name: str = "gpt-test") -> UpstreamError:
    with pytest.raises(UpstreamError) as raised:
        for _chunk in model.stream(PROMPT, model=name):
            pass
    return raised.value


STATUS_ANSWERS = [
    (FakeReply(status=401), "auth", "refused the API key (401). Check OPENAI_API_KEY"),
    (FakeReply(status=403), "forbidden", "not allowed to use the model 'gpt-test' (403)"),
    (FakeReply(status=404), "not_found", "The model 'gpt-test' was not found on http://127.0.0.1:"),
    (FakeReply(status=429), "rate_limit", "rate limiting requests (429)"),
    (FakeReply(status=400, error_message="no such thing"), "bad_request", "rejected the request (400): no such thing"),
    (FakeReply(status=418, error_message="a teapot"), "http_error", "answered with an error (418): a teapot"),
    (FakeReply(status=502), "server_error", "internal error (502). Try again shortly."),
    (FakeReply(error_event_after=1, error_message="overloaded"), "stream_error", "reported an error: overloaded"),
    (FakeReply(reset_after=2), "connection_lost", "lost in the middle of the reply"),
    (FakeReply(hang_before_headers=4), "timeout", "did not answer within 2 seconds"),
]


@pytest.mark.parametrize(("reply", "kind", "says"), STATUS_ANSWERS, ids=[a[1] for a in STATUS_ANSWERS])
def test_each_failure_is_one_sentence_of_its_own_kind(
    tmp_path: Path, fake_openai: FakeOpenAI, reply: FakeReply, kind: str, says: str
) -> None:
    fake_openai.enqueue(reply)
    error = failure(model_for(tmp_path, fake_openai.base_url))
    assert (error.kind, says in error.message) == (kind, True), error.message
    assert "sk-test" not in error.message and "Traceback" not in error.message


def test_a_model_name_with_braces_is_quoted_as_written(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(status=404))
    error = failure(model_for(tmp_path, fake_openai.base_url), name="odd-{server}-{0}")
    assert "The model 'odd-{server}-{0}' was not found" in error.message


def test_a_server_that_is_not_there_is_named(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
        error = failure(model_for(tmp_path, url))
    assert error.kind == "connection" and f"Could not connect to the model server at {url}" in error.message
