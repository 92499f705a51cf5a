"""Where replies come from: an OpenAI-compatible server, or the offline demo model.

Both yield Parley's own `Chunk` records (`chat/llm/chunks.py`; the demo model builds
them itself, usage included), so everything downstream is the same code whether a
real model is connected or not. Errors leave this module as `UpstreamError`s whose
message is a sentence for the user.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx2
import openai
from openai.types.chat import ChatCompletionContentPartParam, ChatCompletionMessageParam

from chat.domain.context import ContentPart, text_of
from chat.domain.planning import RequestMessage
from chat.domain.titles import TITLE_REQUEST, demo_title
from chat.errors import IMAGES_REFUSED, UpstreamError
from chat.llm.chunks import Chunk, TokenUsage, read_chunk
from chat.settings import Settings

# Sent when OPENAI_BASE_URL is set without a key (Ollama, vLLM, LM Studio ignore it);
# the SDK refuses to start without one.
PLACEHOLDER_API_KEY = "parley-no-key"
DEMO_MODEL = "parley-demo"


@dataclass(frozen=True)
class Sampling:
    """What a request asks of the model besides its messages."""

    temperature: float | None = None  # None: the server's default
    max_tokens: int | None = None  # None: the server's own limit
    # Sent as `max_tokens`, or as `max_completion_tokens` for models that refuse the former.
    max_tokens_field: str = "max_tokens"

    def fields(self) -> dict[str, float | int]:
        """The request's sampling fields: those set, under the names the model takes."""
        fields: dict[str, float | int] = {}
        if self.temperature is not None:
            fields["temperature"] = self.temperature
        if self.max_tokens is not None:
            fields[self.max_tokens_field] = self.max_tokens
        return fields


DEFAULT_SAMPLING = Sampling()


class ChunkStream(Protocol):
    def __iter__(self) -> Iterator[Chunk]: ...

    def close(self) -> None: ...


class ChatModel(Protocol):
    """Streams one reply. `close()` on the stream ends it early from any thread."""

    def stream(
        self, messages: Sequence[RequestMessage], *, model: str, sampling: Sampling = DEFAULT_SAMPLING
    ) -> ChunkStream: ...

    def list_models(self) -> list[str]:
        """The models the server offers; empty when it does not say."""
        ...


# --- the OpenAI-compatible client ------------------------------------------------------


class OpenAIChatModel:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.openai_base_url
        self.request_timeout = settings.request_timeout
        self.client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value() or PLACEHOLDER_API_KEY,
            base_url=settings.openai_base_url,
            timeout=openai.Timeout(settings.request_timeout, connect=settings.connect_timeout),
            max_retries=settings.max_retries,
        )

    def stream(
        self, messages: Sequence[RequestMessage], *, model: str, sampling: Sampling = DEFAULT_SAMPLING
    ) -> ChunkStream:
        body = {
            "model": model,
            "messages": [_sdk_message(m) for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            **sampling.fields(),
        }
        try:
            # `chat.completions.create` with the events left as JSON (`Stream[object]`): the SDK's
            # request, retries, status errors, event decoding and `error` events, without its
            # pydantic object per event, which cost more than the rest of a reply's reading
            # (chat/llm/chunks.py).
            stream = self.client.post(
                "/chat/completions",
                body=body,
                options={"security": {"bearer_auth": True}},  # the key `create` sends, never another
                cast_to=object,
                stream=True,
                stream_cls=openai.Stream[object],
            )
        except Exception as error:  # translated, or re-raised when not an upstream failure
            raise self.translate(error, model=model) from error
        return _TranslatingStream(stream, self, model)

    def list_models(self) -> list[str]:
        try:
            return sorted(model.id for model in self.client.with_options(timeout=3.0, max_retries=0).models.list())
        except openai.OpenAIError:
            return []  # many servers do not list models, or need a key for it: the configured list stands

    def translate(self, error: BaseException, *, model: str) -> BaseException:
        """The user's sentence for an upstream failure; other errors pass through."""
        if isinstance(error, openai.APIStatusError):
            return _status_error(error, model=model, server=self.base_url or "the OpenAI API")
        if isinstance(error, openai.APITimeoutError | httpx2.TimeoutException):
            return UpstreamError(
                f"The model server did not answer within {self.request_timeout:g} seconds.", kind="timeout"
            )
        if isinstance(error, openai.APIConnectionError):
            return UpstreamError(
                f"Could not connect to the model server at {self.base_url or 'the OpenAI API'}. Is it running?",
                kind="connection",
            )
        if isinstance(error, httpx2.TransportError):
            return UpstreamError(
                "The connection to the model server was lost in the middle of the reply.",
                kind="connection_lost",
            )
        if isinstance(error, openai.APIError):
            # An `error` event inside the stream.
            return UpstreamError(f"The model server reported an error: {_server_message(error)}", kind="stream_error")
        return error


# Answers whose sentence needs nothing from the server's own message: (class, kind, sentence).
_STATUS_SENTENCES: tuple[tuple[type[openai.APIStatusError], str, str], ...] = (
    (openai.AuthenticationError, "auth", "The model server refused the API key (401). Check OPENAI_API_KEY in .env."),
    (openai.PermissionDeniedError, "forbidden", "The API key is not allowed to use the model '{model}' (403)."),
    (openai.NotFoundError, "not_found", "The model '{model}' was not found on {server} (404). Check PARLEY_MODEL."),
    (
        openai.RateLimitError,
        "rate_limit",
        "The model server is rate limiting requests (429). Wait a moment and send again.",
    ),
)


def _sdk_message(message: RequestMessage) -> ChatCompletionMessageParam:
    """Parley's request message as the SDK's own type (one per role)."""
    role, content = message["role"], message["content"]
    if role == "system":
        return {"role": "system", "content": text_of(content)}
    if role == "assistant":
        return {"role": "assistant", "content": text_of(content)}
    if isinstance(content, str):
        return {"role": "user", "content": content}
    return {"role": "user", "content": [_sdk_part(part) for part in content]}


def _sdk_part(part: ContentPart) -> ChatCompletionContentPartParam:
    """A prompt's text or picture (a data URL) as the SDK's content part."""
    if part["type"] == "image_url":
        return {"type": "image_url", "image_url": {"url": part["image_url"]["url"]}}
    return {"type": "text", "text": part["text"]}


def _status_error(error: openai.APIStatusError, *, model: str, server: str) -> UpstreamError:
    """The sentence for an HTTP error status from the model server."""
    for kind_of_error, kind, sentence in _STATUS_SENTENCES:
        if isinstance(error, kind_of_error):
            return UpstreamError(sentence.format(model=model, server=server), kind=kind)
    if isinstance(error, openai.BadRequestError):
        return _bad_request(error, model=model)
    if error.status_code >= 500:
        return UpstreamError(
            f"The model server had an internal error ({error.status_code}). Try again shortly.",
            kind="server_error",
        )
    return UpstreamError(
        f"The model server answered with an error ({error.status_code}): {_server_message(error)}",
        kind="http_error",
    )


def _bad_request(error: openai.BadRequestError, *, model: str) -> UpstreamError:
    """A 400: a parameter the model refuses, a request too long for it, or something else."""
    if parameter := _refused_parameter(error):
        return UpstreamError(
            f"The model '{model}' does not accept the '{parameter}' parameter: {_server_message(error)}",
            kind=f"unsupported_{parameter}",
        )
    if _is_context_length(error):
        return UpstreamError(
            f"The conversation is too long for the model's context window: {_server_message(error)}",
            kind="context_length",
        )
    if _IMAGES_REFUSED.search(_server_message(error)):
        return UpstreamError(NO_PICTURES.format(model=model, detail=_server_message(error)), kind=IMAGES_REFUSED)
    return UpstreamError(f"The model server rejected the request (400): {_server_message(error)}", kind="bad_request")


# A model that takes no pictures, as OpenAI ("image_url is only supported by certain models"),
# vLLM ("not a multimodal model"), Ollama and llama.cpp ("does not support images", "image input
# is not supported") say it.
_IMAGES_REFUSED = re.compile(
    r"image_url is only supported|not a multimodal model|(image|vision)[^.]{0,40}not supported|"
    r"does not support (image|vision)|(can ?not|cannot|unable to) (read|process|see) images?",
    re.IGNORECASE,
)
NO_PICTURES = (
    "The model '{model}' does not take pictures ({detail}). Your message is back in the input box with its "
    "files: remove the pictures, or choose a model that sees them, and send again."
)


# How servers say a request does not fit: OpenAI's error code, and the wording of
# OpenAI, vLLM ("maximum context length"), llama.cpp ("context size") and others.
_CONTEXT_LENGTH = re.compile(r"context[ _](length|window|size)|maximum context|prompt is too long", re.IGNORECASE)


# A parameter some models refuse: o-series and gpt-5 models take no `temperature` (or
# only its default) and want `max_completion_tokens` instead of `max_tokens`.
_QUIRKY_PARAMETERS = ("temperature", "max_tokens")
_REFUSAL = re.compile(r"unsupported|not supported|does not support|only the default", re.IGNORECASE)


def _refused_parameter(error: openai.BadRequestError) -> str | None:
    text = _server_message(error)
    param = error.param if isinstance(error.param, str) else None
    for name in _QUIRKY_PARAMETERS:
        if param == name or (_REFUSAL.search(text) and re.search(rf"\b{name}\b", text)):
            return name
    return None


def _is_context_length(error: openai.BadRequestError) -> bool:
    return error.code == "context_length_exceeded" or bool(_CONTEXT_LENGTH.search(_server_message(error)))


def _server_message(error: openai.APIError) -> str:
    body = error.body
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message or error.message or "no details")
    return text if len(text) <= 300 else text[:299] + "…"


class _TranslatingStream:
    """The SDK stream, with its mid-stream failures translated like the opening ones."""

    def __init__(self, stream: openai.Stream[object], owner: OpenAIChatModel, model: str) -> None:
        self._stream = stream
        self._owner = owner
        self._model = model

    def __iter__(self) -> Iterator[Chunk]:
        try:
            for data in self._stream:
                yield read_chunk(data)
        except openai.APIConnectionError as error:
            if isinstance(error, openai.APITimeoutError):
                raise self._owner.translate(error, model=self._model) from error
            raise UpstreamError(
                "The connection to the model server was lost in the middle of the reply.",
                kind="connection_lost",
            ) from error
        except Exception as error:
            raise self._owner.translate(error, model=self._model) from error

    def close(self) -> None:
        """End the stream from another thread, also while it waits for a silent server: closing a
        socket does not wake a thread blocked reading it (the read would go on to its timeout, a
        minute), shutting it down does. The socket is the network stream httpx names in the
        response's documented `network_stream` extension."""
        network = self._stream.response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # closed already, or never connected
                sock.shutdown(socket.SHUT_RDWR)
        self._stream.close()


# --- the offline demo model --------------------------------------------------------------


class DemoChatModel:
    """A deterministic model that needs no network, for trying Parley without a key."""

    def __init__(self, token_delay: float = 0.02) -> None:
        self.token_delay = token_delay

    def stream(
        self, messages: Sequence[RequestMessage], *, model: str, sampling: Sampling = DEFAULT_SAMPLING
    ) -> ChunkStream:
        if messages and messages[-1]["content"] == TITLE_REQUEST:  # Parley asks it to name a conversation
            prompt = next((text_of(m["content"]) for m in messages if m["role"] == "user"), "")
            return _DemoStream(demo_title(prompt), messages, self.token_delay)
        return _DemoStream(demo_reply(messages), messages, self.token_delay)

    def list_models(self) -> list[str]:
        return [DEMO_MODEL]


def demo_reply(messages: Sequence[RequestMessage]) -> str:
    """The offline demo model's answer: the same for the same prompt, and showing what Parley
    draws (a heading, a list, a code block, a table, a formula) before saying how to connect a
    real model."""
    prompts = [m for m in messages if m["role"] == "user"]
    content = prompts[-1]["content"] if prompts else ""
    # A prompt with files: its documents' text parts first, its own text last (chat/domain/context.py).
    parts: list[ContentPart] = content if isinstance(content, list) else [{"type": "text", "text": content}]
    texts = [part["text"] for part in parts if part["type"] == "text"]
    words = (texts[-1] if texts else "").split()
    count = len(words)
    quoted = " ".join(words[:60])
    files = _files_said(len(texts) - 1, sum(part["type"] == "image_url" for part in parts))
    return (
        "### Parley's offline demo model\n\n"
        f"This is Parley's offline demo model, so this reply is canned. You wrote {count} "
        f"word{'s' if count != 1 else ''} in message {len(prompts)} of this chat:\n\n"
        f"> {quoted}\n\n{files}"
        "A real model's replies are drawn the same way:\n\n"
        "- **lists** and *emphasis*, as Markdown;\n"
        "- code, highlighted, with its own copy button:\n\n"
        "```python\n"
        f"words = {count}\n"
        'print(f"{words} words")\n'
        "```\n\n"
        "| Message | Words |\n"
        "|---|---|\n"
        f"| {len(prompts)} | {count} |\n\n"
        "- and mathematics: $$e^{i\\pi} + 1 = 0$$\n\n"
        "Connect a real model by setting `OPENAI_API_KEY` (or `OPENAI_BASE_URL` for a local "
        "server such as Ollama) in `.env`, then restart Parley."
    )


def _files_said(documents: int, pictures: int) -> str:
    """The demo model's word on a prompt's files, which it does not read."""
    if documents <= 0 and pictures <= 0:
        return ""
    named = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in ((pictures, "picture"), (documents, "document")) if n]
    return f"You attached {' and '.join(named)}: a real model would read them; this one does not.\n\n"


def _words(text: str) -> list[str]:
    pieces: list[str] = []
    for line in text.split("\n"):
        pieces.extend(word + " " for word in line.split(" "))
        pieces[-1] = pieces[-1][:-1] + "\n"
    pieces[-1] = pieces[-1][:-1]
    return [piece for piece in pieces if piece]


class _DemoStream:
    def __init__(self, text: str, messages: Sequence[RequestMessage], delay: float) -> None:
        self._pieces = _words(text)
        self._prompt_tokens = sum(len(text_of(m.get("content", "")).split()) + 4 for m in messages)
        self._delay = delay
        self._closed = False

    def __iter__(self) -> Iterator[Chunk]:
        for piece in self._pieces:
            if self._closed:
                return
            if self._delay:
                time.sleep(self._delay)
            yield Chunk(content=piece)
        yield Chunk(finish_reason="stop")
        yield Chunk(usage=TokenUsage(self._prompt_tokens, len(self._pieces)))

    def close(self) -> None:
        self._closed = True


def build_model(settings: Settings) -> ChatModel:
    if settings.demo_mode:
        return DemoChatModel(settings.demo_token_delay)
    return OpenAIChatModel(settings)
