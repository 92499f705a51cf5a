"""Sign-in checks that need no Streamlit.

streamlit-authenticator 0.4.2 raises, instead of showing the login form, on some
cookies it cannot use (another algorithm, a missing or non-numeric expiry, an
unknown user). Parley checks the cookie the same way first and keeps the library
from reading one that would fail.
"""

from __future__ import annotations

import time
from collections.abc import Container

import jwt

COOKIE_ALGORITHM = "HS256"


def cookie_username(token: str, key: str, users: Container[str], *, now: float | None = None) -> str | None:
    """The username a sign-in cookie vouches for, or None if it must not be trusted."""
    try:
        claims = jwt.decode(token, key, algorithms=[COOKIE_ALGORITHM])
    except jwt.PyJWTError:
        return None
    username = claims.get("username")
    expires = claims.get("exp_date")
    if not isinstance(username, str) or isinstance(expires, bool) or not isinstance(expires, int | float):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return username if username in users else None
