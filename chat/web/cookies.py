"""The session cookie: HttpOnly, SameSite=Lax, Path=/, and Secure with the `__Host-` prefix
when the browser reached Parley over HTTPS.

Lax, not Strict: the gate looks at the page request itself, and a Strict cookie is not
sent when a link in mail or chat opens Parley, so everyone following one would see the
sign-in page although signed in.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

SECURE_PREFIX = "__Host-"


def session_cookie_name(base: str, *, https: bool) -> str:
    """A cookie's name as set on this request's scheme (the form cookie's too)."""
    return f"{SECURE_PREFIX}{base}" if https else base


def session_token(cookies: Mapping[str, str], base: str, *, https: bool) -> str | None:
    """The token the request's session cookie holds (over HTTPS only the `__Host-` one,
    which no other site, port or plain-HTTP page could have set)."""
    return cookies.get(session_cookie_name(base, https=https)) or None


def set_session(response: Response, base: str, token: str, *, max_age: int, https: bool) -> None:
    response.set_cookie(
        session_cookie_name(base, https=https),
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=https,
    )


def clear_session(response: Response, base: str, *, https: bool) -> None:
    response.delete_cookie(
        session_cookie_name(base, https=https), path="/", httponly=True, samesite="lax", secure=https
    )


def set_form_cookie(response: Response, name: str, value: str, *, https: bool) -> None:
    """The sign-in form's CSRF binding: only ever sent back to Parley's own form posts."""
    response.set_cookie(
        session_cookie_name(name, https=https),
        value,
        path="/",
        httponly=True,
        samesite="strict",
        secure=https,
    )


def form_cookie(cookies: Mapping[str, str], name: str, *, https: bool) -> str | None:
    return cookies.get(session_cookie_name(name, https=https)) or None
