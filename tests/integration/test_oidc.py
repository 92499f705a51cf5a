"""Parley as an OpenID Connect relying party (chat/accounts/oidc.py, issue 21), against a real
provider on loopback (`tests/oidc_provider.py`): the code flow with PKCE, state and nonce, and
an ID token verified by signature, issuer, audience and expiry."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts.oidc import Client, RelyingParty, SsoError
from chat.db.tables import SignInFlow
from tests.e2e.conftest import free_port
from tests.oidc_provider import Provider, provider

CALLBACK = "http://127.0.0.1:8501/signin/sso/callback"
BROWSER = "the-browser-binding"  # what the sign-in's cookie would hold


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with provider() as running:
        yield running


def party(idp: Provider, sessions: sessionmaker[Session], client_id: str = "parley") -> RelyingParty:
    return RelyingParty(Client(idp.issuer, client_id, "client-secret", CALLBACK), sessions)


def signed_in(idp: Provider, rp: RelyingParty, sub: str, next_path: str = "/") -> dict[str, str]:
    return idp.authorize(rp.begin(next_path, BROWSER), sub)


def test_a_sign_in_goes_through_the_provider_with_pkce_state_and_nonce(
    idp: Provider, sessions: sessionmaker[Session]
) -> None:
    idp.set_claims("ann", email="ann@example.com", email_verified=True, name="Ann", groups=["staff"])
    rp = party(idp, sessions)
    url = rp.begin("/?c=abc", BROWSER)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["response_type"] == "code" and asked["redirect_uri"] == CALLBACK and asked["nonce"]
    assert asked["scope"] == "openid email profile" and len(asked["state"]) >= 40

    verified = rp.finish(idp.authorize(url, "ann"), BROWSER)

    assert verified.next_path == "/?c=abc"
    claims = verified.claims
    assert (claims["iss"], claims["sub"], claims["aud"]) == (idp.issuer, "ann", ["parley"])
    assert claims["nonce"] == asked["nonce"]
    assert claims["email"] == "ann@example.com" and claims["email_verified"] is True
    with sessions() as session:  # the sign-in under way is gone with its callback
        assert session.scalar(select(func.count()).select_from(SignInFlow)) == 0


def test_a_replayed_or_forged_callback_is_refused(idp: Provider, sessions: sessionmaker[Session]) -> None:
    idp.set_claims("bob", email="bob@example.com", email_verified=True)
    rp = party(idp, sessions)
    callback = signed_in(idp, rp, "bob")
    rp.finish(callback, BROWSER)
    with pytest.raises(SsoError, match="expired or was already used"):
        rp.finish(callback, BROWSER)  # replayed
    with pytest.raises(SsoError, match="expired or was already used"):
        rp.finish({**signed_in(idp, rp, "bob"), "state": "forged"}, BROWSER)
    with pytest.raises(SsoError, match="expired or was already used"):
        rp.finish({"code": "x"}, BROWSER)  # no state at all


def test_a_callback_brought_to_another_browser_is_refused(idp: Provider, sessions: sessionmaker[Session]) -> None:
    """Login CSRF: someone's own code and state, sent to you to sign you in as them."""
    idp.set_claims("mallory", email="mallory@example.com", email_verified=True)
    rp = party(idp, sessions)
    callback = signed_in(idp, rp, "mallory")
    for other in ("another-browser", None):
        with pytest.raises(SsoError, match="started in another browser"):
            rp.finish(callback, other)
        callback = signed_in(idp, rp, "mallory")


def test_a_callback_reaches_another_replica(idp: Provider, sessions: sessionmaker[Session]) -> None:
    """The sign-in under way is in the database: a second Parley process (another relying
    party on the same database) finishes what the first began."""
    idp.set_claims("cy", email="cy@example.com", email_verified=True)
    callback = signed_in(idp, party(idp, sessions), "cy")
    assert party(idp, sessions).finish(callback, BROWSER).claims["sub"] == "cy"


def test_consent_denied_at_the_provider_is_a_sentence(idp: Provider, sessions: sessionmaker[Session]) -> None:
    rp = party(idp, sessions)
    callback = idp.authorize(rp.begin("/", BROWSER), "ann", deny=True)
    with pytest.raises(SsoError, match="did not allow Parley to sign you in"):
        rp.finish(callback, BROWSER)
    # Another error's own words are not shown: anyone can make a link to the callback saying anything.
    crafted = {"error": "server_error", "error_description": "Call +1 555 0100 to restore access"}
    with pytest.raises(SsoError) as refused:
        rp.finish(crafted, BROWSER)
    assert refused.value.message == "The identity provider did not sign you in. Try again, or ask your administrator."


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(token: str) -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    return f"{header}.{token.split('.')[1]}."


def test_a_tampered_id_token_a_wrong_nonce_or_audience_is_refused(
    idp: Provider, sessions: sessionmaker[Session]
) -> None:
    idp.set_claims("dee", email="dee@example.com", email_verified=True)
    rp = party(idp, sessions)
    callback = signed_in(idp, rp, "dee")
    flow_nonce = parse_qs(urlsplit(rp.begin("/", BROWSER)).query)["nonce"][0]  # another sign-in's nonce
    flow = rp._take(callback["state"])
    token = rp._redeem(callback["code"], flow.code_verifier)
    assert rp._verify(token, flow.nonce)["sub"] == "dee"  # as it came, it checks out

    for bent, nonce, checker in (
        ({**token, "id_token": _tampered(token["id_token"])}, flow.nonce, rp),
        (token, flow_nonce, rp),
        (token, flow.nonce, party(idp, sessions, client_id="another-app")),
        ({**token, "id_token": token["id_token"].rsplit(".", 1)[0] + "."}, flow.nonce, rp),  # unsigned
        ({**token, "id_token": _unsigned(token["id_token"])}, flow.nonce, rp),  # alg "none"
    ):
        with pytest.raises(SsoError, match="could not be verified"):
            checker._verify(bent, nonce)


def test_an_expired_id_token_is_refused(sessions: sessionmaker[Session]) -> None:
    with provider(token_lifetime=timedelta(minutes=-5)) as stale:  # past the minute of leeway
        stale.set_claims("eve", email="eve@example.com", email_verified=True)
        rp = party(stale, sessions)
        with pytest.raises(SsoError, match="could not be verified"):
            rp.finish(signed_in(stale, rp, "eve"), BROWSER)


def test_a_provider_that_is_down_or_is_not_the_issuer_named_is_a_sentence(
    idp: Provider, sessions: sessionmaker[Session]
) -> None:
    down = RelyingParty(Client(f"http://127.0.0.1:{free_port()}", "parley", "s", CALLBACK), sessions)
    with pytest.raises(SsoError, match="could not be reached"):
        down.begin("/", BROWSER)
    wrong = RelyingParty(Client(idp.issuer + "/", "parley", "s", CALLBACK), sessions)  # not its exact name
    with pytest.raises(SsoError, match="must be exactly its issuer"):
        wrong.begin("/", BROWSER)
