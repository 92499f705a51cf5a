"""What `app.py` hands `st.App`: Parley's routes, its middleware and its error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from chat.errors import ChatError
from chat.turns import wiring
from chat.web.context import ContextSource, ContextWithJudge, ProcessContext
from chat.web.gate import Gate
from chat.web.headers import SecurityHeaders
from chat.web.health import HealthRoutes
from chat.web.pages import render
from chat.web.password import PasswordRoutes
from chat.web.signin import SignInRoutes
from chat.web.sso import SsoRoutes

# One per process: the routes and the gate share it.
CONTEXT = ProcessContext()


def routes(source: ContextSource = CONTEXT) -> list[BaseRoute]:
    return [
        *SignInRoutes(source).routes(),
        *SsoRoutes(source).routes(),
        *PasswordRoutes(source).routes(),
        *HealthRoutes(source).routes(),
    ]


def middleware(source: ContextWithJudge = CONTEXT) -> list[Middleware]:
    # Outermost first: the security headers wrap everything, the gate's redirects and refusals too.
    return [Middleware(SecurityHeaders, judge=source.judge), Middleware(Gate, source=source)]


async def _cannot_work(_request: Request, error: ChatError) -> Response:
    """A wrong setting or a database that cannot be opened, as the sentence that names it."""
    return render("message.html", status=503, title="Parley cannot start", message=error.message)


def exception_handlers() -> dict[Any, Any]:
    return {ChatError: _cannot_work}


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """The server's life: when it stops, the replies still being written end, saved as
    `interrupted` (uvicorn re-raises SIGTERM once its shutdown is done, so `atexit` never runs)."""
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(wiring.forget_shared)
