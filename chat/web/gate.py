"""The gate: a pure ASGI middleware in front of everything Streamlit serves.

Without a live session, a page request is redirected to `/signin`, and the WebSocket,
uploads, media, components and every `/_stcore/` endpoint but health are refused.
Streamlit's static assets stay public. A request that passes carries who it is for to
the page script in two headers only the gate writes (any a client sent are dropped):
the session's hash, and this process's mark, which proves the gate was there.
"""

from __future__ import annotations

import enum
import logging
import secrets
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chat.accounts import signins
from chat.errors import ChatError
from chat.web.context import ContextSource, WebContext
from chat.web.cookies import clear_session, session_cookie_name, session_token

log = logging.getLogger(__name__)

# Headers the gate hands the page script (`chat/ui/identity.py` reads them).
SESSION_HEADER = "x-parley-session"
MARK_HEADER = "x-parley-gate"
# Made anew by each process: a page run whose request has it went through this gate.
PROCESS_MARK = secrets.token_urlsafe(24)
_OURS = (SESSION_HEADER.encode(), MARK_HEADER.encode())

OWN_ROUTES = ("/signin", "/signout", "/healthz", "/readyz")
PUBLIC_FILES = ("/favicon.png", "/manifest.json", "/_stcore/health")
PRIVATE_PREFIXES = ("/_stcore/", "/media/", "/component/")
STREAM = "/_stcore/stream"


class Kind(enum.Enum):
    PUBLIC = "public"  # Parley's own routes (they check for themselves) and static assets
    PAGE = "page"  # the app's pages: redirected to /signin
    PRIVATE = "private"  # the WebSocket and Streamlit's endpoints: refused


def kind_of(path: str) -> Kind:
    if path in OWN_ROUTES or path in PUBLIC_FILES or path.startswith("/static/"):
        return Kind.PUBLIC
    if path.startswith(PRIVATE_PREFIXES):
        return Kind.PRIVATE
    return Kind.PAGE


def signin_url(scope: Scope, reason: str | None = None) -> str:
    """`/signin`, with where the visitor was going (`next`) and why they are there."""
    url = URL(scope=scope)
    target = url.path + (f"?{url.query}" if url.query else "")
    query = [] if target == "/" else [f"next={quote(target, safe='')}"]
    if reason:
        query.append(f"reason={reason}")
    return "/signin" + ("?" + "&".join(query) if query else "")


class Gate:
    def __init__(self, app: ASGIApp, source: ContextSource) -> None:
        self.app = app
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = _without_our_headers(scope)
        kind = kind_of(scope["path"])
        if kind is Kind.PUBLIC:
            await self.app(scope, receive, send)
            return
        try:
            context = await run_in_threadpool(self.source)
            hashed, had_cookie = await run_in_threadpool(_live_session, context, scope)
        except ChatError as error:
            await _refuse(scope, receive, send, error.message, status=503)
            return
        if hashed is not None:
            await self.app(_with_identity(scope, hashed), receive, send)
        elif kind is Kind.PAGE and scope["type"] == "http":
            response = RedirectResponse(signin_url(scope, "expired" if had_cookie else None), status_code=303)
            if had_cookie:  # a dead session's cookie goes, so the next request is a plain visitor's
                clear_session(response, context.settings.cookie_name, https=context.judge.is_https(scope))
            await response(scope, receive, send)
        else:
            await _refuse(scope, receive, send, "Sign in first.", status=401)


def _live_session(context: WebContext, scope: Scope) -> tuple[str | None, bool]:
    """The hash of the request's live session, and whether it carried a session cookie at all."""
    https = context.judge.is_https(scope)
    cookies = HTTPConnection(scope).cookies
    token = session_token(cookies, context.settings.cookie_name, https=https)
    if token is None:  # an empty session cookie is a bent one too: named expired, and cleared
        return None, session_cookie_name(context.settings.cookie_name, https=https) in cookies
    user = context.accounts.from_cookie(token)  # a StorageError if the database cannot say
    return (signins.token_hash(token) if user is not None else None), True


def _without_our_headers(scope: Scope) -> Scope:
    headers = [(name, value) for name, value in scope.get("headers", []) if name.lower() not in _OURS]
    return {**scope, "headers": headers}


def _with_identity(scope: Scope, hashed: str) -> Scope:
    headers = [
        *scope["headers"],
        (SESSION_HEADER.encode(), hashed.encode()),
        (MARK_HEADER.encode(), PROCESS_MARK.encode()),
    ]
    return {**scope, "headers": headers}


async def _refuse(scope: Scope, receive: Receive, send: Send, message: str, *, status: int) -> None:
    if scope["type"] == "websocket":
        # Closed before it is accepted: the handshake is answered 403.
        await send({"type": "websocket.close", "code": 1008})
        return
    response: Response = PlainTextResponse(message, status_code=status, headers={"Cache-Control": "no-store"})
    await response(scope, receive, send)
