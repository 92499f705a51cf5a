"""A real OpenID Connect provider on 127.0.0.1 for the tests (issue 21): the PyPI package
oidc-provider-mock, run in a thread. It signs ID tokens with its own RSA key, publishes its
discovery document and keys, and signs in whichever subject its form is posted; a test sets
each user's claims first (`set_claims`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
from oidc_provider_mock import run_server_in_thread


@dataclass(frozen=True)
class Provider:
    issuer: str

    def set_claims(self, sub: str, **claims: object) -> None:
        httpx2.put(f"{self.issuer}/users/{sub}", json=claims).raise_for_status()

    def authorize(self, authorization_url: str, sub: str, *, deny: bool = False) -> dict[str, str]:
        """The provider's form posted as the user `sub` would (or denied): the query of the
        callback it redirects to."""
        form = {"action": "deny"} if deny else {"sub": sub}
        response = httpx2.post(authorization_url, data=form, follow_redirects=False)
        assert response.status_code in (302, 303), (response.status_code, response.text[:300])
        query = parse_qs(urlsplit(response.headers["location"]).query)
        return {key: values[0] for key, values in query.items()}


@contextmanager
def provider(*, token_lifetime: timedelta = timedelta(hours=1)) -> Iterator[Provider]:
    with run_server_in_thread(require_nonce=True, access_token_max_age=token_lifetime) as server:
        yield Provider(f"http://localhost:{server.server_port}")
