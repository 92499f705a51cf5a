"""The sign-in session a request carries, if it is live: for the gate and Parley's own routes."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope

from chat.accounts.auth import SignedIn
from chat.errors import ChatError
from chat.web import cookies
from chat.web.context import WebContext


def request_token(context: WebContext, scope: Scope) -> str | None:
    """The session cookie's token, under the name this request's scheme calls for."""
    https = context.judge.is_https(scope)
    return cookies.session_token(HTTPConnection(scope).cookies, context.settings.cookie_name, https=https)


def carries_cookie(context: WebContext, scope: Scope) -> bool:
    """Whether the request has a session cookie at all (an empty one too: a bent cookie, to clear)."""
    name = cookies.session_cookie_name(context.settings.cookie_name, https=context.judge.is_https(scope))
    return name in HTTPConnection(scope).cookies


def live_user(context: WebContext, scope: Scope) -> SignedIn | None:
    """The user whose live session the request's cookie names. Blocking (the database): call it
    in a thread. Raises StorageError when the database cannot say."""
    token = request_token(context, scope)
    return context.accounts.from_cookie(token) if token is not None else None


async def live_user_or_none(context: WebContext, scope: Scope) -> SignedIn | None:
    """`live_user` off the event loop, a database that cannot say counting as no session."""
    try:
        return await run_in_threadpool(live_user, context, scope)
    except ChatError:
        return None


def sign_browser_in(response: Response, context: WebContext, scope: Scope, token: str) -> None:
    """The session cookie of a new sign-in (a password checked, or changed) on `response`."""
    max_age = int(context.accounts.session_policy.absolute.total_seconds())
    https = context.judge.is_https(scope)
    cookies.set_session(response, context.settings.cookie_name, token, max_age=max_age, https=https)
