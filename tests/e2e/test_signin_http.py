"""Sign-in, sign-out and the gate over real HTTP against a running `streamlit run app.py`
(issue 18): the cookie's flags (plain HTTP and HTTPS behind a trusted proxy), CSRF and
Origin checks, `next`, the generic wrong-password and throttle messages, the gate on
pages, the WebSocket, uploads, media and `/_stcore/`, and sign-out.

Requests go through `http.client` with redirects never followed, so each answer is seen
as the browser would first get it.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import bcrypt
import pytest
from sqlalchemy import create_engine, func, select

from chat.accounts.authfile import edit_auth_file
from chat.accounts.signins import token_hash
from chat.db.tables import AuthSession
from tests.e2e.conftest import Server, running_server
from tests.e2e.web_client import Visitor, raw_get, request, websocket_handshake
from tests.fake_openai import FakeOpenAI
from tests.unit.test_auth import BENT_TOKENS

WRONG = "Incorrect username or password."
THROTTLED = "Too many failed sign-ins for this username."
FORM_EXPIRED = "This form came from somewhere else or has expired. Please try again."
NO_FORM_COOKIE = "Your browser did not send back this form's cookie. Allow cookies for this site and try again."
SESSION = "parley_session"
SECURE_SESSION = "__Host-parley_session"


def session_rows(server: Server) -> list[AuthSession]:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(AuthSession)))  # type: ignore[arg-type]
    finally:
        engine.dispose()


def session_count(server: Server) -> int:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(AuthSession)).scalar_one())
    finally:
        engine.dispose()


def row_of(server: Server, token: str) -> AuthSession:
    return next(row for row in session_rows(server) if row.token_hash == token_hash(token))


# Single sign-on configured beside the passwords: the password sign-in must hold exactly as without
# it (issue 21). The provider is never asked here (only its button's route would).
SSO_ON = {
    "PARLEY_OIDC_ISSUER": "https://id.example.com",
    "PARLEY_OIDC_CLIENT_ID": "parley",
    "PARLEY_OIDC_CLIENT_SECRET": "sso-client-secret-not-used-here",
    "PARLEY_PUBLIC_URL": "https://parley.example.com",
}


@pytest.fixture(scope="module", params=["sso off", "sso on"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI
) -> Iterator[Server]:
    """This module's server, once without single sign-on and once with it."""
    env = SSO_ON if request.param == "sso on" else {}
    with running_server(tmp_path_factory.mktemp("server"), fake_model, env_extra=env) as (server, _process):
        yield server


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI) -> Iterator[Server]:
    """Behind a TLS-terminating proxy on this host, which Parley is told to trust."""
    env = {"PARLEY_TRUSTED_PROXIES": "127.0.0.1/32", "FORWARDED_ALLOW_IPS": ""}
    with running_server(tmp_path_factory.mktemp("proxied"), fake_model, env_extra=env) as (server, _process):
        yield server


# --- the cookies ---------------------------------------------------------------------------------


def test_the_session_cookie_over_plain_http_is_httponly_lax_and_not_secure(server: Server) -> None:
    visitor = Visitor(server.url)
    form = visitor.signin_form()
    binding = form.cookies["parley_form"]  # the sign-in form's CSRF binding
    assert {"httponly", "path"} <= binding.attributes.keys() and binding.attributes["samesite"].lower() == "strict"
    assert "secure" not in binding.attributes
    assert form.header("cache-control") == "no-store"

    signed_in = visitor.sign_in()
    assert (signed_in.status, signed_in.location) == (303, "/")
    cookie = signed_in.cookies[SESSION]
    assert SECURE_SESSION not in signed_in.cookies
    assert "httponly" in cookie.attributes
    assert cookie.attributes["samesite"].lower() == "lax"
    assert cookie.attributes["path"] == "/"
    assert "secure" not in cookie.attributes and "domain" not in cookie.attributes
    assert int(cookie.attributes["max-age"]) > 0
    # An opaque token: 32 random bytes, nothing about the user in it.
    assert len(cookie.value) == 43 and "alice" not in cookie.value
    row = row_of(server, cookie.value)
    assert row.username == "alice" and row.revoked_at is None
    # It opens the app.
    assert visitor.send("GET", "/").status == 200


def test_over_https_through_a_trusted_proxy_the_cookie_is_host_prefixed_and_secure(proxied: Server) -> None:
    port = urlsplit(proxied.url).port
    https = Visitor(proxied.url, extra={"X-Forwarded-Proto": "https"}, origin=f"https://127.0.0.1:{port}")
    form = https.signin_form()
    assert "__Host-parley_form" in form.cookies and "secure" in form.cookies["__Host-parley_form"].attributes

    signed_in = https.sign_in()
    assert (signed_in.status, signed_in.location) == (303, "/"), signed_in.body[:500]
    assert SESSION not in signed_in.cookies
    cookie = signed_in.cookies[SECURE_SESSION]
    assert {"httponly", "secure"} <= cookie.attributes.keys()
    assert cookie.attributes["samesite"].lower() == "lax" and cookie.attributes["path"] == "/"
    assert "domain" not in cookie.attributes  # what `__Host-` requires
    assert https.send("GET", "/").status == 200

    # Over HTTPS only the `__Host-` cookie counts: one of the plain name (which a plain-HTTP
    # page or another port could have set) opens nothing.
    planted = Visitor(
        proxied.url, jar={SESSION: cookie.value}, extra={"X-Forwarded-Proto": "https"}, origin=https.origin
    )
    assert planted.send("GET", "/").status == 303
    # The HTTPS form's origin is https://: an http:// Origin is someone else's.
    wrong_scheme = Visitor(proxied.url, extra={"X-Forwarded-Proto": "https"}, origin=f"http://127.0.0.1:{port}")
    refused = wrong_scheme.sign_in()
    assert refused.status == 403 and refused.message() == FORM_EXPIRED


def test_a_forwarded_proto_from_an_untrusted_peer_changes_nothing(server: Server) -> None:
    """The default server trusts no proxy: a client's own X-Forwarded-Proto is not believed."""
    port = urlsplit(server.url).port
    claimed = Visitor(server.url, extra={"X-Forwarded-Proto": "https"})
    form = claimed.signin_form()
    assert "parley_form" in form.cookies and "__Host-parley_form" not in form.cookies
    signed_in = claimed.sign_in("bob")
    assert signed_in.status == 303 and SESSION in signed_in.cookies and SECURE_SESSION not in signed_in.cookies
    assert "secure" not in signed_in.cookies[SESSION].attributes
    # And an https:// Origin is not this server's.
    https_origin = Visitor(server.url, extra={"X-Forwarded-Proto": "https"}, origin=f"https://127.0.0.1:{port}")
    assert https_origin.sign_in("bob").status == 403


# --- CSRF and Origin -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["no token", "a wrong token", "a token of another form cookie", "no form cookie", "no Origin", "a foreign Origin"],
)
def test_a_sign_in_without_its_csrf_token_or_origin_is_refused(server: Server, case: str) -> None:
    visitor = Visitor(server.url)
    token = visitor.signin_form().hidden("csrf")
    before = session_count(server)
    form = {"username": "alice", "password": "alice-password-1", "csrf": token, "next": "/"}
    headers = {"Origin": server.url}
    if case == "no token":
        del form["csrf"]
    elif case == "a wrong token":
        form["csrf"] = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    elif case == "a token of another form cookie":
        form["csrf"] = Visitor(server.url).signin_form().hidden("csrf")
    elif case == "no form cookie":
        visitor.jar.clear()
    elif case == "no Origin":
        headers = {}
    elif case == "a foreign Origin":
        headers = {"Origin": "http://evil.example"}
    sent = {"Cookie": "; ".join(f"{k}={v}" for k, v in visitor.jar.items())} if visitor.jar else {}
    answer = request(server.url, "POST", "/signin", headers={**sent, **headers}, form=form)
    assert answer.status == 403
    assert SESSION not in answer.cookies
    assert answer.message() == (NO_FORM_COOKIE if case == "no form cookie" else FORM_EXPIRED)
    assert 'value="alice"' in answer.body  # the username is kept for the next try
    assert "alice-password-1" not in answer.body
    assert session_count(server) == before  # no session was made


def test_a_null_origin_is_refused(server: Server) -> None:
    visitor = Visitor(server.url, origin="null")
    before = session_count(server)
    answer = visitor.sign_in()
    assert answer.status == 403 and SESSION not in answer.cookies and session_count(server) == before


# --- next ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://evil", "/"),
        ("//evil", "/"),
        ("/\\evil", "/"),
        ("http://127.0.0.1/", "/"),
        ("javascript:alert(1)", "/"),
        ("/signout", "/"),
        ("/history?c=abc", "/history?c=abc"),
    ],
)
def test_next_leads_only_to_parleys_own_paths(server: Server, target: str, expected: str) -> None:
    answer = Visitor(server.url).sign_in("bob", next=target)
    assert (answer.status, answer.location) == (303, expected)


def test_the_signin_page_carries_next_from_the_gate(server: Server) -> None:
    gated = request(server.url, "GET", "/history?c=abc")
    assert gated.status == 303
    location = urlsplit(gated.location or "")
    assert location.path == "/signin" and parse_qs(location.query) == {"next": ["/history?c=abc"]}
    visitor = Visitor(server.url)
    page = visitor.signin_form(gated.location or "")
    assert page.hidden("next") == "/history?c=abc"
    # A signed-in visitor asking for the sign-in page goes on to where it leads.
    assert visitor.sign_in("bob", next=page.hidden("next")).location == "/history?c=abc"
    again = visitor.send("GET", "/signin?next=%2Fhistory")
    assert (again.status, again.location) == (303, "/history")
    assert visitor.send("GET", "/signin?next=%2F%2Fevil").location == "/"


# --- wrong passwords and the throttle ------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "nobody-by-this-name"])
def test_a_wrong_password_keeps_the_username_and_says_only_the_generic_sentence(server: Server, username: str) -> None:
    before = session_count(server)
    answer = Visitor(server.url).sign_in(username, "not-the-password-9")
    assert answer.status == 401
    assert answer.message() == WRONG
    assert f'value="{username}"' in answer.body
    assert "not-the-password-9" not in answer.body
    assert SESSION not in answer.cookies and session_count(server) == before


def test_the_throttle_says_so_for_the_right_password_too(server: Server) -> None:
    with edit_auth_file(server.folder / "auth.yaml") as users:  # a user of this test alone
        users.add("dora", bcrypt.hashpw(b"dora-password-55", bcrypt.gensalt(4)).decode(), name="Dora", roles=["user"])
    visitor = Visitor(server.url)
    messages = []
    for _ in range(20):
        answer = visitor.sign_in("dora", "not-her-password")
        messages.append(answer.message())
        if answer.message() != WRONG:
            break
    assert messages[:-1] and set(messages[:-1]) == {WRONG}, messages  # some plain failures first
    assert messages[-1].startswith(THROTTLED) and "Try again in" in messages[-1]
    right = visitor.sign_in("dora", "dora-password-55")
    assert right.status == 401 and right.message().startswith(THROTTLED)
    assert SESSION not in right.cookies
    # Another user from the same address is not held up.
    assert visitor.sign_in("bob").status == 303


# --- the gate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "/signin"),
        ("/chat", "/signin?next=%2Fchat"),
        ("/admin", "/signin?next=%2Fadmin"),
        ("/history?c=1", "/signin?next=%2Fhistory%3Fc%3D1"),
        ("/no-such-page", "/signin?next=%2Fno-such-page"),
    ],
)
def test_a_page_without_a_session_is_redirected_to_signin(server: Server, path: str, location: str) -> None:
    answer = request(server.url, "GET", path)
    assert (answer.status, answer.location) == (303, location)
    assert "<script" not in answer.body  # nothing of Streamlit's page


def test_the_websocket_is_refused_without_a_session_and_accepted_with_one(server: Server) -> None:
    assert websocket_handshake(server.url, None).startswith("HTTP/1.1 403")
    assert websocket_handshake(server.url, f"{SESSION}=" + "a" * 43).startswith("HTTP/1.1 403")  # no such session
    visitor = Visitor(server.url)
    visitor.sign_in("bob")
    assert websocket_handshake(server.url, f"{SESSION}={visitor.jar[SESSION]}").startswith("HTTP/1.1 101")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/_stcore/upload_file/some-session/some-file"),
        ("GET", "/_stcore/upload_file/some-session/some-file"),
        ("GET", "/media/0123456789abcdef.json"),
        ("GET", "/_stcore/host-config"),
        ("GET", "/_stcore/allowlist"),
        ("GET", "/_stcore/metrics"),
        ("GET", "/_stcore/script-health-check"),
        ("GET", "/component/some.component/index.html"),
    ],
)
def test_streamlits_endpoints_are_refused_without_a_session(server: Server, method: str, path: str) -> None:
    answer = request(server.url, method, path, headers={"Content-Length": "0"} if method == "PUT" else None)
    assert answer.status == 401 and answer.body == "Sign in first."
    assert answer.header("cache-control") == "no-store"


def test_host_config_answers_a_signed_in_visitor(server: Server) -> None:
    """The control for the refusals above: the same endpoint, with a session, is Streamlit's."""
    visitor = Visitor(server.url)
    visitor.sign_in("bob")
    answer = visitor.send("GET", "/_stcore/host-config")
    assert answer.status == 200 and answer.body.startswith("{")


def test_health_and_static_files_are_public(server: Server) -> None:
    assert request(server.url, "GET", "/_stcore/health").status == 200
    assert request(server.url, "GET", "/favicon.png").status == 200
    # A real asset, named by the app's own page (as a signed-in browser gets it).
    visitor = Visitor(server.url)
    visitor.sign_in("bob")
    index = visitor.send("GET", "/")
    assets = [part.split('"', 1)[0] for part in index.body.split('src="./static/')[1:]]
    assert assets, index.body[:1000]
    answer = request(server.url, "GET", "/static/" + assets[0])
    assert answer.status == 200 and len(answer.body) > 100


def test_the_gate_drops_identity_headers_a_client_sends(server: Server) -> None:
    """The headers the gate hands the page script cannot be sent from outside to get in."""
    visitor = Visitor(server.url)
    visitor.sign_in("bob")
    hashed = token_hash(visitor.jar[SESSION])
    forged = request(server.url, "GET", "/", headers={"X-Parley-Session": hashed, "X-Parley-Gate": "anything"})
    assert forged.status == 303 and forged.location == "/signin"
    assert websocket_handshake(server.url, None).startswith("HTTP/1.1 403")


# --- sign-out ------------------------------------------------------------------------------------


def test_sign_out_needs_its_csrf_token_and_clears_the_cookie(server: Server) -> None:
    visitor = Visitor(server.url)
    visitor.sign_in("bob")
    token = visitor.jar[SESSION]
    page = visitor.send("GET", "/signout")
    assert page.status == 200 and page.header("cache-control") == "no-store"
    csrf = page.hidden("csrf")

    for form, origin in (({}, server.url), ({"csrf": "0" * 64}, server.url), ({"csrf": csrf}, "http://evil.example")):
        refused = visitor.send("POST", "/signout", form=form, Origin=origin)
        assert refused.status == 403 and SESSION not in refused.cookies
        assert FORM_EXPIRED in refused.body.replace("&#39;", "'")
        assert row_of(server, token).revoked_at is None  # still signed in
    # Another session's token does not end this one.
    other = Visitor(server.url)
    other.sign_in("bob")
    foreign = other.send("GET", "/signout").hidden("csrf")
    assert visitor.send("POST", "/signout", form={"csrf": foreign}).status == 403
    assert visitor.send("GET", "/").status == 200

    done = visitor.send("POST", "/signout", form={"csrf": csrf})
    assert (done.status, done.location) == (303, "/signin?reason=signedout")
    assert done.cookies[SESSION].cleared and "httponly" in done.cookies[SESSION].attributes
    assert row_of(server, token).revoked_at is not None
    assert SESSION not in visitor.jar
    landed = visitor.send("GET", "/signin?reason=signedout")
    assert landed.message() == "You have signed out."
    assert other.send("GET", "/").status == 200  # bob's other sign-in goes on


@pytest.mark.parametrize("name", BENT_TOKENS)
def test_a_bent_cookie_sent_raw_is_redirected_with_a_reason_and_cleared(server: Server, name: str) -> None:
    value = BENT_TOKENS[name]
    if "\n" in value:  # http.client refuses a newline in a header: it ends the header line here
        answer = raw_get(server.url, "/history", f"{SESSION}={value}")
    else:
        answer = request(server.url, "GET", "/history", headers={"Cookie": f"{SESSION}={value}"})
    if "\x00" in value:  # uvicorn refuses the request itself: it never reaches Parley
        assert answer.status == 400 and not answer.cookies
        return
    assert answer.status == 303
    assert answer.location == "/signin?next=%2Fhistory&reason=expired"
    assert answer.cookies[SESSION].cleared


def test_a_revoked_cookie_replayed_is_redirected_and_cleared(server: Server) -> None:
    visitor = Visitor(server.url)
    visitor.sign_in("bob")
    copied = visitor.jar[SESSION]
    visitor.send("POST", "/signout", form={"csrf": visitor.send("GET", "/signout").hidden("csrf")})
    replay = request(server.url, "GET", "/history", headers={"Cookie": f"{SESSION}={copied}"})
    assert replay.status == 303
    assert replay.location == "/signin?next=%2Fhistory&reason=expired"
    assert replay.cookies[SESSION].cleared
    assert websocket_handshake(server.url, f"{SESSION}={copied}").startswith("HTTP/1.1 403")
    page = request(server.url, "GET", replay.location or "")
    assert page.message() == "Your sign-in has expired or is no longer valid. Please sign in again."
    # Sign-out with it shows nothing to sign out of.
    gone = request(server.url, "GET", "/signout", headers={"Cookie": f"{SESSION}={copied}"})
    assert (gone.status, gone.location) == (303, "/signin")
