"""A fake OpenAI-compatible server for tests and benchmarks: real HTTP, real SSE.

It speaks `/v1/chat/completions` (streaming) and `/v1/models` on 127.0.0.1 the
way OpenAI does: a first chunk with only the role, one token per chunk, a chunk
with `finish_reason`, a usage chunk with empty `choices` when the request asks
for it, and `data: [DONE]`. Tests script replies with `enqueue(FakeReply(...))`,
including every failure Parley must survive, and read back `requests`.

Run it alone for manual tries and benchmarks:
    python -m tests.fake_openai --port 8900 --tokens-per-second 60
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import re
import socket
import struct
import termios
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chat.domain.titles import TITLE_REQUEST

DEFAULT_TEXT = "Hello! I am the fake model. This reply streams one word at a time."


def is_title_request(body: dict[str, Any]) -> bool:
    """Parley asking for a conversation's title (chat/domain/titles.py): its last message asks."""
    messages = body.get("messages") or [{}]
    return bool(messages[-1].get("content") == TITLE_REQUEST)


def tokenize(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


@dataclass
class FakeReply:
    text: str = DEFAULT_TEXT
    delay: float = 0.0  # seconds between tokens
    first_delay: float = 0.0  # before the first token
    status: int = 200  # anything else answers with an OpenAI-style JSON error
    error_message: str = "fake failure"
    finish_reason: str | None = "stop"  # None: close cleanly without one
    reset_after: int | None = None  # send N tokens, then reset the connection
    stall_after: int | None = None  # send N tokens, then pause for `stall_seconds`
    stall_seconds: float = 30.0
    keepalive_every: float | None = None  # while stalled, send ": keep-alive" this often
    error_event_after: int | None = None  # send N tokens, then an error event
    hang_before_headers: float | None = None  # sleep before answering at all
    usage: bool = True  # send usage when the request asks for it
    prompt_tokens: int | None = None  # report this many prompt tokens instead of the fake's own count
    reasoning: str | None = None  # sent first, as `reasoning_content` deltas (DeepSeek, vLLM)
    echo: bool = False  # the reply says what the last user message carried (`echo_of`), instead of `text`


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


class FakeOpenAI:
    """Start with `with FakeOpenAI() as server:`; `server.base_url` ends in /v1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: FakeReply | None = None) -> None:
        self.default = default or FakeReply()
        self.requests: list[RecordedRequest] = []
        self.models = ["fake-model", "gpt-4o-mini"]
        # Like a real model: a request over this many prompt tokens (the fake's own
        # count) gets OpenAI's 400 `context_length_exceeded`.
        self.context_window: int | None = None
        # Parameters this "model" refuses with OpenAI's 400, as o-series models refuse
        # `temperature` and `max_tokens`.
        self.refuses: set[str] = set()
        # False: a text-only model, which answers a request with a picture with OpenAI's 400.
        self.sees_images = True
        self._queue: deque[FakeReply] = deque()
        self._titles: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, paid by every test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: FakeReply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def enqueue_title(self, *replies: FakeReply) -> None:
        """Answers to Parley's requests for a conversation's title (`title_requests`), which never
        take a reply queued for a turn. With none queued, a title request gets an empty answer,
        so the conversation keeps its first words, as every other test expects."""
        with self._lock:
            self._titles.extend(replies)

    def next_title(self) -> FakeReply:
        with self._lock:
            if self._titles:
                return self._titles.popleft()
        return FakeReply(text="")

    def next_reply(self) -> FakeReply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The requests for a turn's reply (not those for a conversation's title)."""
        return [r for r in self.requests if r.path.endswith("/chat/completions") and not is_title_request(r.body)]

    @property
    def title_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions") and is_title_request(r.body)]

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return type("Handler", (_Handler,), {"fake": self})


class _Handler(BaseHTTPRequestHandler):
    """One request to the fake: `fake` is the server it belongs to (set by `FakeOpenAI._handler`)."""

    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _record(self, body: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}  # HTTP header names ignore case
        self.fake.requests.append(RecordedRequest(self.command, self.path, headers, body))

    def do_GET(self) -> None:
        self._record({})
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.models]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, _error("not found", "not_found"))

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, _error("not found", "not_found"))
            return
        refusal = self._refusal_of(body)
        if refusal is not None:
            self._json(400, refusal)
            return
        reply = self.fake.next_title() if is_title_request(body) else self.fake.next_reply()
        if reply.hang_before_headers:
            time.sleep(reply.hang_before_headers)
        if reply.status != 200:
            self._json(reply.status, _failure(reply))
            return
        self._stream(reply, body)

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = {}
        return body

    def _refusal_of(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The 400 the model answers a request with before any reply: a refused parameter, a prompt too long."""
        refused = sorted(name for name in self.fake.refuses if name in body)
        if refused:
            return _refusal(refused[0], body[refused[0]])
        if not self.fake.sees_images and any(part.get("type") == "image_url" for part in _parts(body)):
            return _error("Invalid content type. image_url is only supported by certain models.", None)
        window = self.fake.context_window
        size = prompt_tokens(body)
        if window is not None and size > window:
            message = (
                f"This model's maximum context length is {window} tokens. However, your messages "
                f"resulted in {size} tokens. Please reduce the length of the messages."
            )
            return _error(message, "context_length_exceeded")
        return None

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: FakeReply, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        stream = _Chunks(self, str(body.get("model", "fake-model")))
        try:
            stream.delta({"role": "assistant", "content": ""})
            for piece in tokenize(reply.reasoning or ""):
                stream.delta({"reasoning_content": piece})
            if reply.first_delay:
                time.sleep(reply.first_delay)
            if self._tokens(reply, stream, body):
                self._finish(reply, body, stream)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (a stop): nothing to do

    def _tokens(self, reply: FakeReply, stream: _Chunks, body: dict[str, Any]) -> bool:
        """The reply's text, a token per chunk, with the failure it asks for: whether the stream goes on."""
        for index, token in enumerate(tokenize(echo_of(body) if reply.echo else reply.text)):
            if index == reply.reset_after:
                self._reset()
                return False
            if index == reply.error_event_after:
                error = _error(reply.error_message, "server_error")
                self._send(f"event: error\ndata: {json.dumps(error)}\n\n")
                return False
            if index == reply.stall_after:
                self._stall(reply)  # then carry on, as a slow model would
            if index and reply.delay:
                time.sleep(reply.delay)
            stream.delta({"content": token})
        return True

    def _finish(self, reply: FakeReply, body: dict[str, Any], stream: _Chunks) -> None:
        """`finish_reason`, the usage chunk when the request asks for it, and `[DONE]`."""
        if reply.finish_reason is None:
            return  # a clean close with no finish_reason: an incomplete reply
        stream.chunk([{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}])
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if reply.usage and wants_usage:
            completion = len(tokenize(reply.text))
            reported = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_tokens(body)
            usage = {"prompt_tokens": reported, "completion_tokens": completion, "total_tokens": reported + completion}
            stream.chunk([], usage=usage)
        self._send("data: [DONE]\n\n")

    def _send(self, text: str) -> None:
        self.wfile.write(text.encode())
        self.wfile.flush()

    def _stall(self, reply: FakeReply) -> None:
        deadline = time.monotonic() + reply.stall_seconds
        while time.monotonic() < deadline:
            step = reply.keepalive_every or 0.05
            time.sleep(min(step, max(0.0, deadline - time.monotonic())))
            if reply.keepalive_every:
                self._send(": keep-alive\n\n")

    def _reset(self) -> None:
        # A drop after what was sent arrived, as a real one would: the client's kernel has
        # acknowledged every byte (Linux keeps them readable after the RST); then SO_LINGER
        # with a zero timeout makes close() send RST, which discards anything not yet sent.
        deadline = time.monotonic() + 5
        while _unacknowledged(self.connection) and time.monotonic() < deadline:
            time.sleep(0.005)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


@dataclass
class _Chunks:
    """The SSE chunks of one streamed reply, as OpenAI words them."""

    handler: _Handler
    model: str

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> None:
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            **extra,
        }
        self.handler._send(f"data: {json.dumps(payload)}\n\n")

    def delta(self, delta: dict[str, Any]) -> None:
        self.chunk([{"index": 0, "delta": delta, "finish_reason": None}])


def _failure(reply: FakeReply) -> dict[str, Any]:
    """The JSON error a reply with a status other than 200 answers with."""
    code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
    return _error(reply.error_message, code.get(reply.status, "server_error"))


def _unacknowledged(connection: socket.socket) -> int:
    """Bytes sent on `connection` that its peer has not acknowledged yet (Linux's SIOCOUTQ)."""
    return int(struct.unpack("i", fcntl.ioctl(connection.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0])


def prompt_tokens(body: dict[str, Any]) -> int:
    """The fake's own count of a request's prompt tokens (its tokens, 4 per message, 100 per picture)."""
    return sum(len(tokenize(text_of(m.get("content")))) + 4 + 100 * _pictures(m) for m in body.get("messages", []))


def text_of(content: Any) -> str:
    """A message's text: a string, or its content parts' text joined."""
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _pictures(message: dict[str, Any]) -> int:
    content = message.get("content")
    return sum(1 for part in content if part.get("type") == "image_url") if isinstance(content, list) else 0


def _parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for m in body.get("messages", []) if isinstance(m.get("content"), list) for part in m["content"]]


def echo_of(body: dict[str, Any]) -> str:
    """What the last user message carried, one line per part: `text: <its first 60 characters>`,
    `image: <media type>, <bytes> bytes`."""
    last = next((m for m in reversed(body.get("messages", [])) if m.get("role") == "user"), {})
    content = last.get("content")
    parts = content if isinstance(content, list) else [{"type": "text", "text": str(content or "")}]
    lines = []
    for part in parts:
        if part.get("type") == "image_url":
            header, _, data = str(part["image_url"]["url"]).partition(",")
            media_type = header.removeprefix("data:").removesuffix(";base64")
            lines.append(f"image: {media_type}, {len(base64.b64decode(data))} bytes")
        else:
            lines.append("text: " + " ".join(str(part.get("text", "")).split())[:60])
    return "\n\n".join(lines)


def _refusal(name: str, value: Any) -> dict[str, Any]:
    """OpenAI's own wording for the parameters o-series models refuse."""
    if name == "max_tokens":
        message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'"
        message += " instead."
        code = "unsupported_parameter"
    else:
        message = f"Unsupported value: '{name}' does not support {value} with this model. Only the default (1) value"
        message += " is supported."
        code = "unsupported_value"
    return {"error": {"message": message, "type": "invalid_request_error", "param": name, "code": code}}


def _error(message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake OpenAI-compatible server.")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--tokens-per-second", type=float, default=30.0, help="0 sends as fast as possible")
    parser.add_argument("--text", default=DEFAULT_TEXT * 5)
    args = parser.parse_args()
    delay = 1 / args.tokens_per_second if args.tokens_per_second else 0.0
    server = FakeOpenAI(port=args.port, default=FakeReply(text=args.text, delay=delay))
    print(f"fake OpenAI server on {server.base_url}", flush=True)
    server.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
