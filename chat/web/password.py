"""Changing one's own password over HTTP: `GET`/`POST /password`.

A password change ends every session of the user, this one included, and signs this browser
in again under a new token: only an HTTP response can set the new (HttpOnly) cookie, which is
why the form is a page of Parley's own and not a Streamlit form. A user whose password was
printed when the account was made is sent here by the gate before anything else.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chat.accounts.auth import SignedIn
from chat.accounts.sso import NO_PASSWORD
from chat.errors import ChatError
from chat.web import csrf
from chat.web.context import ContextSource, WebContext
from chat.web.pages import FORM_EXPIRED, render
from chat.web.sessions import live_user_or_none, sign_browser_in
from chat.web.signin import PASSWORD_CHECKS

PASSWORD = "password"  # the CSRF token's purpose
FORCED_NOTICE = "Your password was printed when your account was made: choose your own before anything else."
# The page the app shows once the password is changed (`chat/ui/signin.py` says so there).
CHANGED = "/account?changed=password"


class PasswordRoutes:
    def __init__(self, source: ContextSource) -> None:
        self.source = source

    def routes(self) -> list[Route]:
        return [
            Route("/password", self.page, methods=["GET", "HEAD"]),
            Route("/password", self.change, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        context = await run_in_threadpool(self.source)
        user = await live_user_or_none(context, request.scope)
        if user is None:
            return RedirectResponse("/signin?next=%2Fpassword", status_code=303)
        if user.sso:
            return render("message.html", title="No password in Parley", message=NO_PASSWORD)
        return _form(context, user)

    async def change(self, request: Request) -> Response:
        context = await run_in_threadpool(self.source)
        form = await request.form()
        user = await live_user_or_none(context, request.scope)
        if user is None:
            return RedirectResponse("/signin?next=%2Fpassword&reason=ended", status_code=303)
        if user.sso:
            return render("message.html", status=403, title="No password in Parley", message=NO_PASSWORD)
        presented = str(form.get(csrf.FIELD, ""))
        if not context.judge.same_origin(request.scope) or not context.csrf.check(
            PASSWORD, user.session_hash, presented
        ):
            return _form(context, user, error=FORM_EXPIRED, status=403)
        current, new, repeat = (str(form.get(name, "")) for name in ("current", "new", "repeat"))
        try:
            address = context.judge.address(request.scope)
            result = await anyio.to_thread.run_sync(
                context.accounts.change_password, user, current, new, repeat, address, limiter=PASSWORD_CHECKS
            )
        except ChatError as error:
            return _form(context, user, error=error.message, status=400)
        assert result.token is not None and result.expires_at is not None
        response = RedirectResponse(CHANGED, status_code=303)
        sign_browser_in(response, context, request.scope, result.token)
        return response


def _form(context: WebContext, user: SignedIn, *, error: str | None = None, status: int = 200) -> Response:
    forced = user.must_change_password
    return render(
        "password.html",
        status=status,
        title="Change your password",
        heading="Choose your own password" if forced else "Change your password",
        notice=FORCED_NOTICE if forced else None,
        forced=forced,
        error=error,
        username=user.username,
        csrf=context.csrf.token(PASSWORD, user.session_hash),
    )
