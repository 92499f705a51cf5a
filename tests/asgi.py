"""Calling an ASGI app in-process, with a hand-made scope: the web layer's unit tests use it
(httpx, which Starlette's TestClient needs, is not a dependency)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Scope


@dataclass
class Reply:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    messages: list[Message] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]


def scope_of(
    path: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    client: str = "127.0.0.1",
    scheme: str = "http",
    kind: str = "http",
    query: str = "",
) -> Scope:
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if not any(name.lower() == "host" for name, _ in pairs):
        pairs.append(("host", "parley.test"))
    return {
        "type": kind,
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "scheme": scheme if kind == "http" else ("wss" if scheme == "https" else "ws"),
        "headers": [(name.lower().encode(), value.encode()) for name, value in pairs],
        "client": (client, 50000),
        "server": ("parley.test", 80),
        "http_version": "1.1",
    }


def call(app: ASGIApp, scope: Scope, body: bytes = b"") -> Reply:
    """Run one request through `app` and collect what it sent back."""
    reply = Reply()
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if scope["type"] == "websocket":
            return {"type": "websocket.connect"}
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        reply.messages.append(message)
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = [(k.decode().lower(), v.decode()) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            reply.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return reply


def recorder() -> tuple[ASGIApp, list[Scope]]:
    """A downstream app that answers 200 and keeps the scopes it was given."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"streamlit"})

    return app, seen
