"""CSRF tokens for Parley's own forms: an HMAC, so any replica can check one another made.

A token is bound to what the form acts for: the sign-in form to a random cookie set with
the page (a login CSRF would need it), the sign-out form to the session it ends. Nothing
is stored; the key is derived from PARLEY_COOKIE_KEY, which every replica shares.
"""

from __future__ import annotations

import hashlib
import hmac

# The sign-in form's own cookie, the binding of its token before anyone is signed in.
FORM_COOKIE = "parley_form"
FIELD = "csrf"


class CsrfKey:
    def __init__(self, secret: str) -> None:
        # Derived, not the secret itself: the same secret keys other things (the throttle's records).
        self._key = hmac.new(secret.encode(), b"parley csrf v1", hashlib.sha256).digest()

    def token(self, purpose: str, binding: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{binding}".encode(), hashlib.sha256).hexdigest()

    def check(self, purpose: str, binding: str | None, presented: str | None) -> bool:
        if not binding or not presented:
            return False
        return hmac.compare_digest(self.token(purpose, binding), presented)
