"""Signing in and out over HTTP: `GET`/`POST /signin`, `GET`/`POST /signout`.

The password is checked off the event loop (bcrypt takes a quarter of a second on
purpose). Both POSTs need the page's CSRF token and an `Origin` of Parley's own.
"""

from __future__ import annotations

import logging
import re
import secrets
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chat.accounts.auth import DATABASE_DOWN
from chat.errors import ChatError
from chat.web import cookies, csrf
from chat.web.context import ContextSource, WebContext
from chat.web.pages import FORM_EXPIRED, NO_FORM_COOKIE, REASONS, render
from chat.web.sessions import live_user_or_none, sign_browser_in

log = logging.getLogger(__name__)

SIGNIN, SIGNOUT = "signin", "signout"  # the CSRF tokens' purposes
NO_PASSWORDS = "This Parley signs people in through the identity provider only: use the button below."
# Password checks have threads of their own: one may wait its turn for up to 30 s (the throttle's
# per-address delay), and in Starlette's shared pool (28 threads, which also serve Streamlit's
# static files) a burst of them would hold up every page load.
PASSWORD_CHECKS = anyio.CapacityLimiter(64)
_MAX_NEXT = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: one of Parley's own paths, never another site."""
    if not value or len(value) > _MAX_NEXT or _CONTROL.search(value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    if parts.path in ("/signin", "/signout"):
        return "/"
    return value


class SignInRoutes:
    def __init__(self, source: ContextSource) -> None:
        self.source = source

    def routes(self) -> list[Route]:
        return [
            Route("/signin", self.signin_page, methods=["GET", "HEAD"]),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", self.signout_page, methods=["GET", "HEAD"]),
            Route("/signout", self.signout, methods=["POST"]),
        ]

    async def _context(self) -> WebContext:
        return await run_in_threadpool(self.source)

    async def signin_page(self, request: Request) -> Response:
        context = await self._context()
        if await live_hash(context, request) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        notice = REASONS.get(request.query_params.get("reason", ""))
        return signin_form(context, request, notice=notice)

    async def signin(self, request: Request) -> Response:
        context = await self._context()
        if not context.settings.password_signin:
            return signin_form(context, request, error=NO_PASSWORDS, status=403)
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = safe_next(str(form.get("next", "")))
        https = context.judge.is_https(request.scope)
        binding = cookies.form_cookie(request.cookies, csrf.FORM_COOKIE, https=https)
        if binding is None:
            return signin_form(context, request, error=NO_FORM_COOKIE, username=username, target=target, status=403)
        if not context.judge.same_origin(request.scope) or not context.csrf.check(
            SIGNIN, binding, str(form.get(csrf.FIELD, ""))
        ):
            return signin_form(context, request, error=FORM_EXPIRED, username=username, target=target, status=403)
        try:
            address = context.judge.address(request.scope)
        except ChatError as error:
            return signin_form(context, request, error=error.message, username=username, target=target, status=400)
        result = await anyio.to_thread.run_sync(
            context.accounts.sign_in, username, password, address, limiter=PASSWORD_CHECKS
        )
        if result.token is None or result.expires_at is None:
            status = 503 if result.error == DATABASE_DOWN else 401
            return signin_form(context, request, error=result.error, username=username, target=target, status=status)
        previous = await live_hash(context, request)
        if previous is not None:  # another sign-in of this browser ends: one cookie, one session
            await run_in_threadpool(end_earlier_sign_in, context, previous)
        response = RedirectResponse(target, status_code=303)
        sign_browser_in(response, context, request.scope, result.token)
        return response

    async def signout_page(self, request: Request) -> Response:
        context = await self._context()
        hashed = await live_hash(context, request)
        if hashed is None:
            return RedirectResponse("/signin", status_code=303)
        return render("signout.html", title="Sign out", csrf=context.csrf.token(SIGNOUT, hashed))

    async def signout(self, request: Request) -> Response:
        context = await self._context()
        form = await request.form()
        hashed = await live_hash(context, request)
        if hashed is None:
            return _signed_out(context, request)
        if not context.judge.same_origin(request.scope) or not context.csrf.check(
            SIGNOUT, hashed, str(form.get(csrf.FIELD, ""))
        ):
            # Not from Parley's page: ask, on a page of Parley's own.
            token = context.csrf.token(SIGNOUT, hashed)
            return render("signout.html", status=403, title="Sign out", csrf=token, notice=FORM_EXPIRED)
        try:
            await run_in_threadpool(context.accounts.sign_out, hashed)
        except ChatError as error:
            token = context.csrf.token(SIGNOUT, hashed)
            return render("signout.html", status=503, title="Sign out", csrf=token, notice=error.message)
        return _signed_out(context, request)


async def live_hash(context: WebContext, request: Request) -> str | None:
    """The hash of the request's session if it is live (a database that cannot say: not live)."""
    user = await live_user_or_none(context, request.scope)
    return user.session_hash if user is not None else None


def end_earlier_sign_in(context: WebContext, hashed: str) -> None:
    try:
        context.accounts.sign_out(hashed)
    except ChatError:
        log.warning("an earlier sign-in of a browser signing in again could not be ended")


def signin_form(
    context: WebContext,
    request: Request,
    *,
    notice: str | None = None,
    error: str | None = None,
    username: str = "",
    target: str | None = None,
    status: int = 200,
) -> Response:
    """The sign-in page, with a CSRF token bound to this browser's form cookie (set if missing)."""
    https = context.judge.is_https(request.scope)
    binding = cookies.form_cookie(request.cookies, csrf.FORM_COOKIE, https=https) or secrets.token_urlsafe(24)
    response = render(
        "signin.html",
        status=status,
        title="Sign in",
        csrf=context.csrf.token(SIGNIN, binding),
        next=target if target is not None else safe_next(request.query_params.get("next")),
        username=username[:256],
        sso_label=context.settings.oidc_label if context.settings.sso_enabled else None,
        passwords=context.settings.password_signin,
        notice=notice,
        error=error,
    )
    cookies.set_form_cookie(response, csrf.FORM_COOKIE, binding, https=https)
    return response


def _signed_out(context: WebContext, request: Request) -> Response:
    response = RedirectResponse("/signin?reason=signedout", status_code=303)
    cookies.clear_session(response, context.settings.cookie_name, https=context.judge.is_https(request.scope))
    return response
