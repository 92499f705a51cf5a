"""Parley as an OpenID Connect relying party: the authorization code flow with PKCE (issue 21).

Built on Authlib (the Python standard for OAuth and OpenID Connect, and what Streamlit's own
`st.login` stands on): its OAuth 2 client makes the authorization URL (state, nonce, the S256
code challenge) and redeems the code; joserfc, Authlib's JOSE library, checks the ID token's
signature against the provider's published keys, and Authlib's `CodeIDToken` its issuer,
audience, expiry (with `LEEWAY`) and nonce. What the claims then mean is chat/domain/sso.py's.

The state, nonce and code verifier of a sign-in under way are kept in the database
(`SignInFlow`), keyed by the state's hash, so that the callback may reach any replica; the first
callback takes them, so a replayed or forged one finds nothing. Nothing here knows HTTP routes
or cookies (chat/web/).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2 import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db.failures import error_detail
from chat.db.tables import SignInFlow, utcnow
from chat.errors import ChatError

log = logging.getLogger(__name__)

FLOW_LIFETIME = timedelta(minutes=10)  # from the redirect to the provider to its callback
LEEWAY = 60  # seconds of clock difference allowed on the ID token's times
METADATA_TTL = 3600.0  # seconds the provider's discovery document and keys are kept
RETRY_AFTER = 10.0  # seconds a failed discovery is remembered before the provider is asked again
MAX_DOCUMENT = 1_000_000  # bytes: a discovery document or key set larger than this is refused
TIMEOUT = 10.0  # seconds for each request to the provider
UNREACHABLE = "The identity provider could not be reached ({reason}). Try again in a moment, or ask your administrator."
NO_DATABASE = "Parley cannot reach its database to sign you in. Try again in a moment."
NEXT_LENGTH = 2000  # what `sign_in_flows.next_path` holds
EXPIRED = "This sign-in link has expired or was already used. Start again from the sign-in page."
OTHER_BROWSER = (
    "This sign-in was started in another browser (or this one's cookies were cleared meanwhile), so it "
    "was not finished here. Start again from the sign-in page."
)


DOWN = "sso_down"  # the kind of an SsoError that is the provider's (or the network's), not the sign-in's


class SsoError(ChatError):
    """A sign-in through the provider that did not succeed; `message` is the sentence to show."""

    kind = "sso"


@dataclass(frozen=True)
class Client:
    """Parley as the provider knows it."""

    issuer: str  # discovery: {issuer}/.well-known/openid-configuration
    client_id: str
    client_secret: str
    redirect_uri: str  # {public URL}/signin/sso/callback
    scopes: str = "openid email profile"


@dataclass(frozen=True)
class Verified:
    """A callback that checked out: the ID token's claims, and where the user was going."""

    claims: dict[str, Any]
    next_path: str


@dataclass(frozen=True)
class _Flow:
    binding_hash: str
    nonce: str
    code_verifier: str
    next_path: str
    created_at: datetime


class RelyingParty:
    def __init__(self, client: Client, sessions: sessionmaker[Session]) -> None:
        self.client = client
        self._sessions = sessions
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._failure: SsoError | None = None
        self._failed_at = 0.0

    def begin(self, next_path: str, binding: str) -> str:
        """The provider's authorization URL for a new sign-in going on to `next_path`, bound to
        the browser that holds `binding` (a random value in a cookie of its own)."""
        metadata = self.metadata()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        try:
            with self._sessions.begin() as session:
                session.execute(delete(SignInFlow).where(SignInFlow.created_at < utcnow() - FLOW_LIFETIME))
                session.add(
                    SignInFlow(
                        state_hash=_hash(state),
                        binding_hash=_hash(binding),
                        nonce=nonce,
                        code_verifier=verifier,
                        next_path=next_path[:NEXT_LENGTH],
                    )
                )
        except SQLAlchemyError as error:
            log.error("a sign-in through the identity provider could not be recorded: %s", error_detail(error))
            raise SsoError(NO_DATABASE, kind=DOWN) from None
        with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return str(url)

    def finish(self, params: Mapping[str, str], binding: str | None) -> Verified:
        """The callback's query, in the browser holding `binding`: its code redeemed and its ID
        token verified. `SsoError` with the sentence to show for a denial, a state that matches no
        sign-in under way of this browser, an unreachable provider or a token failing any check."""
        if "error" in params:  # a provider may leave the state off an error: nothing is signed in either way
            if params.get("state"):
                with contextlib.suppress(SsoError):
                    self._take(params["state"])
            raise SsoError(_denied(params))
        flow = self._take(params.get("state", ""))
        if binding is None or not secrets.compare_digest(flow.binding_hash, _hash(binding)):
            raise SsoError(OTHER_BROWSER)
        code = params.get("code")
        if not code:
            raise SsoError("The identity provider sent no authorization code. Start again from the sign-in page.")
        token = self._redeem(code, flow.code_verifier)
        return Verified(self._verify(token, flow.nonce), flow.next_path)

    # --- the provider's documents --------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched at most once an hour. A failure is remembered
        for `RETRY_AFTER` seconds, so a provider that is down is not asked by every visitor; the
        fetch holds no lock (a slow provider holds up its own callers only)."""
        with self._lock:
            if self._failure is not None and time.monotonic() - self._failed_at < RETRY_AFTER:
                raise self._failure
            if self._metadata is not None and time.monotonic() - self._fetched_at <= METADATA_TTL:
                return self._metadata
        try:
            metadata = self._discover()
        except SsoError as failure:
            with self._lock:
                self._failure, self._failed_at = failure, time.monotonic()
            raise
        with self._lock:
            self._metadata, self._keys, self._failure = metadata, None, None
            self._fetched_at = time.monotonic()
            return metadata

    def _discover(self) -> dict[str, Any]:
        url = self.client.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = _get_json(url)
        if document.get("issuer") != self.client.issuer:
            raise SsoError(
                f"The identity provider at {self.client.issuer} calls itself {str(document.get('issuer'))[:200]!r}: "
                "the issuer setting must be exactly its issuer. Ask your administrator."
            )
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in document]
        if missing:
            raise SsoError(f"The identity provider's configuration lacks {', '.join(missing)}. Ask your administrator.")
        return document

    def _key_set(self, *, refresh: bool = False) -> KeySet:
        metadata = self.metadata()
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        keys = KeySet.import_key_set(_get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
        with self._lock:
            self._keys = keys
            return keys

    # --- the callback ---------------------------------------------------------------------
    def _take(self, state: str) -> _Flow:
        """The sign-in under way that `state` names, taken: the next callback naming it finds nothing."""
        if not state:
            raise SsoError(EXPIRED)
        try:
            with self._sessions.begin() as session:
                row = session.get(SignInFlow, _hash(state))
                if row is None:
                    raise SsoError(EXPIRED)
                flow = _Flow(row.binding_hash, row.nonce, row.code_verifier, row.next_path, row.created_at)
                session.delete(row)
        except SQLAlchemyError as error:
            log.error("a sign-in under way could not be read: %s", error_detail(error))
            raise SsoError(NO_DATABASE, kind=DOWN) from None
        if flow.created_at < utcnow() - FLOW_LIFETIME:
            raise SsoError(EXPIRED)
        return flow

    def _redeem(self, code: str, verifier: str) -> dict[str, Any]:
        metadata = self.metadata()
        try:
            with self._oauth() as oauth:
                return dict(oauth.fetch_token(metadata["token_endpoint"], code=code, code_verifier=verifier))
        except (OAuth2Error, OAuthError) as error:
            log.warning("the identity provider refused the code: %s", error.error)
            raise SsoError(
                "The identity provider refused this sign-in's code (it may have been used already). "
                "Start again from the sign-in page."
            ) from None
        except httpx2.HTTPError as error:
            raise SsoError(UNREACHABLE.format(reason=type(error).__name__), kind=DOWN) from None

    def _verify(self, token: Mapping[str, Any], nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature, issuer, audience, times and nonce check out."""
        raw = token.get("id_token")
        if not isinstance(raw, str):
            raise SsoError("The identity provider sent no ID token. Ask your administrator to check its set-up.")
        algorithms = [a for a in self.metadata().get("id_token_signing_alg_values_supported", ["RS256"]) if a != "none"]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                decoded = jwt.decode(raw, self._key_set(), registry=registry)
            except InvalidKeyIdError:  # a key rotated in since the keys were fetched: once more, fresh
                decoded = jwt.decode(raw, self._key_set(refresh=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "values": [self.client.issuer]},
                    "aud": {"essential": True, "values": [self.client.client_id]},
                },
                {"nonce": nonce, "client_id": self.client.client_id, "access_token": token.get("access_token")},
            )
            claims.validate(leeway=LEEWAY)
        except (JoseError, ValueError) as error:
            log.warning("an ID token failed verification: %s", error)
            raise SsoError(
                "The sign-in could not be verified (the identity provider's token failed a check). "
                "Start again from the sign-in page; if it keeps failing, ask your administrator."
            ) from None
        return dict(claims)

    def _oauth(self) -> OAuth2Client:
        client = self.client
        return OAuth2Client(
            client_id=client.client_id,
            client_secret=client.client_secret,
            scope=client.scopes,
            redirect_uri=client.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )


def _get_json(url: str) -> dict[str, Any]:
    try:
        with httpx2.stream("GET", url, timeout=TIMEOUT, follow_redirects=False) as response:
            response.raise_for_status()
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT:
                    raise SsoError(UNREACHABLE.format(reason=f"{url} answered with over a megabyte"), kind=DOWN)
        document = json.loads(body)
    except httpx2.HTTPStatusError as error:
        raise SsoError(UNREACHABLE.format(reason=f"HTTP {error.response.status_code} from {url}"), kind=DOWN) from None
    except httpx2.HTTPError as error:
        raise SsoError(UNREACHABLE.format(reason=type(error).__name__), kind=DOWN) from None
    except ValueError:
        raise SsoError(UNREACHABLE.format(reason=f"{url} did not answer with JSON"), kind=DOWN) from None
    if not isinstance(document, dict):
        raise SsoError(UNREACHABLE.format(reason=f"{url} did not answer with a JSON object"), kind=DOWN)
    return document


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _denied(params: Mapping[str, str]) -> str:
    """The sentence for an error the callback carries. Its own words are logged, never shown: anyone
    can make a link to the callback saying anything."""
    if params.get("error") == "access_denied":
        return "You did not allow Parley to sign you in at the identity provider. Try again if that was a mistake."
    log.warning("the identity provider answered %r: %r", params.get("error", "")[:100],
                params.get("error_description", "")[:300])  # fmt: skip
    return "The identity provider did not sign you in. Try again, or ask your administrator."
