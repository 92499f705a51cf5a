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
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chat.errors import ChatError
from chat.web.context import ContextSource
from chat.web.cookies import clear_session
from chat.web.sessions import carries_cookie, live_user

log = logging.getLogger(__name__)

# Headers the gate hands the page script (`chat/ui/identity.py` reads them).
SESSION_HEADER = "x-parley-session"
MARK_HEADER = "x-parley-gate"
# Made anew by each process: a page run whose request has it went through this gate.
PROCESS_MARK = secrets.token_urlsafe(24)
_OURS = (SESSION_HEADER.encode(), MARK_HEADER.encode())

OWN_ROUTES = ("/signin", "/signin/sso", "/signin/sso/callback", "/signout", "/password", "/healthz", "/readyz")
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
            had_cookie = carries_cookie(context, scope)
            user = await run_in_threadpool(live_user, context, scope)
        except ChatError as error:
            await _refuse(scope, receive, send, error.message, status=503)
            return
        if user is not None and user.must_change_password and kind is Kind.PAGE and scope["type"] == "http":
            # A printed password is changed before anything else of Parley is served.
            await RedirectResponse("/password", status_code=303)(scope, receive, send)
        elif user is not None:
            await self.app(_with_identity(scope, user.session_hash), receive, send)
        elif kind is Kind.PAGE and scope["type"] == "http":
            response = RedirectResponse(signin_url(scope, "expired" if had_cookie else None), status_code=303)
            if had_cookie:  # a dead session's cookie goes, so the next request is a plain visitor's
                clear_session(response, context.settings.cookie_name, https=context.judge.is_https(scope))
            await response(scope, receive, send)
        else:
            await _refuse(scope, receive, send, "Sign in first.", status=401)


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
