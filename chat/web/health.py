"""Health over HTTP: `/healthz` (is the process answering?) and `/readyz` (can it serve?).

`/healthz` touches nothing: no context, no database, so it answers while the database is
down (Docker's HEALTHCHECK asks it). `/readyz` needs the configuration, the process's
context and a read round trip to the database (`chat.ops.health.check_database` without
its write: no SQLite write lock); it is 503 when one fails. The model server's state is
reported but never fails readiness: Parley tells its users when the model is down.

Which check failed and why is told only to a caller on this machine (a loopback peer with
no proxy's forwarding headers) or to a signed-in admin; anyone else gets the status alone,
and never makes Parley call the model server.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Scope

from chat.errors import ChatError, StorageError
from chat.ops import health
from chat.web.context import ContextSource, WebContext
from chat.web.cookies import session_token

READY, NOT_READY = "ready", "not ready"
OK, FAILED, NOT_CHECKED = "ok", "failed", "not checked"
# The model probe's own timeout (one try), and the most readiness waits for it.
MODEL_TIMEOUT_SECONDS = 2.0
MODEL_WAIT_SECONDS = MODEL_TIMEOUT_SECONDS + 0.5
NO_STORE = {"Cache-Control": "no-store"}
# A request a proxy passed on is not from this machine, whatever the peer's address.
_FORWARDING = ("x-forwarded-for", "forwarded", "x-real-ip")

Check = dict[str, str]


def _answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def is_local(request: Request) -> bool:
    """A caller on this machine: a loopback peer (`::ffff:127.0.0.1` too), not via a proxy."""
    client = request.scope.get("client")
    if not client or any(name in request.headers for name in _FORWARDING):
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def _is_admin(context: WebContext, scope: Scope) -> bool:
    cookies = Request(scope).cookies
    token = session_token(cookies, context.settings.cookie_name, https=context.judge.is_https(scope))
    if token is None:
        return False
    try:
        user = context.accounts.from_cookie(token)
    except ChatError:  # the database cannot say: the database check reports why
        return False
    return user is not None and user.is_admin


def _database(context: WebContext) -> Check:
    try:
        return {"status": OK, "detail": health.check_database(context.settings.database_url, write=False)}
    except health.Unhealthy as error:
        return {"status": FAILED, "detail": error.message.removeprefix("unhealthy: ")}


def _model(context: WebContext) -> Check:
    found = health.model_state(context.settings, timeout=MODEL_TIMEOUT_SECONDS)
    return {"status": found.state.value, "detail": found.sentence}


class HealthRoutes:
    def __init__(self, source: ContextSource) -> None:
        self.source = source

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET", "HEAD"]),
            Route("/readyz", self.readyz, methods=["GET", "HEAD"]),
        ]

    async def healthz(self, _request: Request) -> JSONResponse:
        return _answer({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        checks: dict[str, Check] = {}
        context: WebContext | None = None
        try:
            context = await run_in_threadpool(self.source)
            checks["configuration"] = {"status": OK}
            checks["database"] = await run_in_threadpool(_database, context)
        except StorageError as error:  # the settings were read; the database could not be opened
            checks["configuration"] = {"status": OK}
            checks["database"] = {"status": FAILED, "detail": error.message}
        except ChatError as error:
            checks["configuration"] = {"status": FAILED, "detail": error.message}
            checks["database"] = {"status": NOT_CHECKED}
        ready = all(check["status"] == OK for check in checks.values())
        status = 200 if ready else 503
        if not await self._may_see_reasons(context, request):
            return _answer({"status": READY if ready else NOT_READY}, status)
        checks["model"] = await _model_within_bound(context) if context else {"status": NOT_CHECKED}
        return _answer({"status": READY if ready else NOT_READY, "checks": checks}, status)

    @staticmethod
    async def _may_see_reasons(context: WebContext | None, request: Request) -> bool:
        if is_local(request):
            return True
        return context is not None and await run_in_threadpool(_is_admin, context, request.scope)


async def _model_within_bound(context: WebContext) -> Check:
    """The model's state, or `unreachable` once MODEL_WAIT_SECONDS have passed (the probe's
    thread is left to end on its own timeout)."""
    with anyio.move_on_after(MODEL_WAIT_SECONDS):
        return await anyio.to_thread.run_sync(_model, context, abandon_on_cancel=True)
    server = context.settings.openai_base_url or "the OpenAI API"
    return {"status": health.Model.UNREACHABLE.value, "detail": f"the model server ({server}) does not answer"}
