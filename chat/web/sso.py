"""Single sign-on over HTTP (issue 21): `GET /signin/sso` sends the browser to the identity
provider, `GET /signin/sso/callback` takes it back and signs it in as a password sign-in would
(the same server-side session and HttpOnly cookie).

The sign-in under way is bound to the browser by a cookie of its own (`parley_sso`, HttpOnly,
SameSite=Lax so that it comes back with the provider's redirect, ten minutes): a callback brought
to another browser, someone's own code to sign you in as them, is refused. A link, not a form,
leads to the provider: a form's redirect elsewhere would meet the page's `form-action 'self'`.
"""

from __future__ import annotations

import logging
import secrets

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chat.accounts.auth import DATABASE_DOWN
from chat.accounts.oidc import DOWN, FLOW_LIFETIME, RelyingParty, SsoError
from chat.accounts.sso import policy_of
from chat.domain.sso import Refused, judge
from chat.errors import ChatError
from chat.web import cookies
from chat.web.context import ContextSource, WebContext
from chat.web.sessions import sign_browser_in
from chat.web.signin import end_earlier_sign_in, live_hash, safe_next, signin_form

log = logging.getLogger(__name__)

BINDING_COOKIE = "parley_sso"
# Requests to the identity provider have threads of their own: a provider that is slow or down must
# not take Starlette's shared pool, which serves every page and the password sign-in too.
PROVIDER_CALLS = anyio.CapacityLimiter(16)


class SsoRoutes:
    def __init__(self, source: ContextSource) -> None:
        self.source = source

    def routes(self) -> list[Route]:
        return [
            Route("/signin/sso", self.start, methods=["GET"]),
            Route("/signin/sso/callback", self.callback, methods=["GET"]),
        ]

    async def start(self, request: Request) -> Response:
        context = await run_in_threadpool(self.source)
        party = context.sso
        if party is None:
            return RedirectResponse("/signin", status_code=303)
        binding = secrets.token_urlsafe(32)
        target = safe_next(request.query_params.get("next"))
        try:
            url = await anyio.to_thread.run_sync(party.begin, target, binding, limiter=PROVIDER_CALLS)
        except ChatError as error:
            return signin_form(context, request, error=error.message, target=target, status=503)
        response = RedirectResponse(url, status_code=303)
        https = context.judge.is_https(request.scope)
        # The session cookie's own attributes (HttpOnly, Lax, `__Host-` over HTTPS), for ten minutes.
        max_age = int(FLOW_LIFETIME.total_seconds())
        cookies.set_session(response, BINDING_COOKIE, binding, max_age=max_age, https=https)
        return response

    async def callback(self, request: Request) -> Response:
        context = await run_in_threadpool(self.source)
        party = context.sso
        if party is None:
            return RedirectResponse("/signin", status_code=303)
        https = context.judge.is_https(request.scope)
        binding = cookies.session_token(request.cookies, BINDING_COOKIE, https=https)
        try:
            result = await anyio.to_thread.run_sync(_sign_in, context, party, request, binding, limiter=PROVIDER_CALLS)
        except ChatError as error:
            status = 503 if error.kind == DOWN or error.message == DATABASE_DOWN else 403
            response = signin_form(context, request, error=error.message, target="/", status=status)
        else:
            token, target = result
            previous_hash = await live_hash(context, request)
            if previous_hash is not None:
                await run_in_threadpool(end_earlier_sign_in, context, previous_hash)
            response = RedirectResponse(target, status_code=303)
            sign_browser_in(response, context, request.scope, token)
        cookies.clear_session(response, BINDING_COOKIE, https=https)
        return response


def _sign_in(context: WebContext, party: RelyingParty, request: Request, binding: str | None) -> tuple[str, str]:
    """The callback checked, the identity judged and signed in: the new session's token and where
    to go. Raises ChatError with the sentence to show (a refusal, an unreachable provider...)."""
    verified = party.finish(dict(request.query_params), binding)
    try:
        identity = judge(verified.claims, policy_of(context.settings))
    except Refused as refused:
        log.info("the identity provider signed in someone Parley refuses: %s", refused.message)
        raise SsoError(refused.message) from None
    address = context.judge.address(request.scope)
    result = context.accounts.sign_in_sso(identity, address)
    if result.token is None:
        raise SsoError(result.error or DATABASE_DOWN)
    return result.token, safe_next(verified.next_path)
