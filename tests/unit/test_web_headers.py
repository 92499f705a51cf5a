"""The security headers middleware (chat/web/headers.py), driven as ASGI: a tiny app behind
it, a request scope in, the response's start message out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat.errors import ConfigError
from chat.settings import Settings
from chat.web import headers as web_headers
from chat.web.app import middleware
from chat.web.context import ProcessContext
from chat.web.gate import Gate
from chat.web.headers import CSP, SecurityHeaders, content_security_policy, inline_script_hashes
from tests.asgi import call, scope_of
from tests.conftest import make_settings

PROXY = "10.0.0.7"


async def tiny_app(scope: Scope, receive: Receive, send: Send) -> None:
    """What Streamlit would answer, with a Cache-Control of its own."""
    response = PlainTextResponse("hello", headers={"Cache-Control": "public"})
    await response(scope, receive, send)


def http_scope(
    path: str = "/", *, scheme: str = "http", client: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> Scope:
    return scope_of(path, scheme=scheme, client=client, headers=headers)


def respond(app: ASGIApp, scope: Scope) -> tuple[int, Headers]:
    """The status and headers the app sends for one request."""
    reply = call(app, scope)
    return reply.status, Headers(raw=[(name.encode(), value.encode()) for name, value in reply.headers])


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


@pytest.fixture
def context(tmp_path: Path, auth_file: Path) -> ProcessContext:
    """The real context source, with one trusted proxy."""
    return ProcessContext(
        lambda: make_settings(tmp_path, PARLEY_AUTH_FILE=str(auth_file), PARLEY_TRUSTED_PROXIES=PROXY)
    )


@pytest.fixture
def broken_context() -> ProcessContext:
    """A context that cannot be made: no cookie key, so a ConfigError on every request."""
    return ProcessContext(lambda: Settings.from_env({}, env_file=None))


def test_the_broken_context_really_fails(broken_context: ProcessContext) -> None:
    with pytest.raises(ConfigError):
        broken_context()


def test_every_header_on_a_plain_response(context: ProcessContext) -> None:
    status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), http_scope("/"))
    assert status == 200
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers  # plain HTTP
    assert headers["cache-control"] == "public"  # the app's own, left alone off downloads
    assert headers.getlist("content-security-policy") == [CSP]  # once, not added twice


def test_the_policy_directive_by_directive() -> None:
    policy = directives(CSP)
    assert policy["default-src"] == ["'self'"]
    scripts = policy["script-src"]
    assert scripts[:2] == ["'self'", "'wasm-unsafe-eval'"]
    assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", source) for source in scripts[2:])
    assert len(scripts) >= 3  # Streamlit's bootstrap script, by hash
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    for name in ("font-src", "media-src", "worker-src"):
        assert policy[name][0] == "'self'"
    everything = " ".join(source for sources in policy.values() for source in sources)
    assert "'unsafe-eval'" not in everything.split()
    assert "unsafe-inline" not in " ".join(policy["script-src"])
    # No outside host anywhere: every source is a keyword, a hash or a scheme of the page's own.
    assert all(source.startswith("'") or source in ("data:", "blob:") for source in everything.split())


def test_the_hash_is_that_of_streamlits_inline_bootstrap_script() -> None:
    index = (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    # Found independently of the module's parser: the text between a bare <script> and </script>.
    bodies = re.findall(r"<script>(.*?)</script>", index, flags=re.DOTALL)
    assert bodies and all("src=" not in body for body in bodies)
    expected = ["'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in bodies]
    assert directives(CSP)["script-src"][2:] == expected
    assert web_headers.STREAMLIT_INDEX.read_text(encoding="utf-8") == index


def test_the_parser_hashes_only_inline_scripts_and_keeps_their_text_exact() -> None:
    html = (
        '<script src="/static/a.js"></script><script type="module" src="b.js"></script>'
        "<script>\n  window.x = 1 < 2 && '&amp;'\n</script><p>not <script>a script</p>"
        "<script>second()</script>"
    )
    first = "\n  window.x = 1 < 2 && '&amp;'\n"
    assert inline_script_hashes(html)[0] == (
        "'sha256-" + base64.b64encode(hashlib.sha256(first.encode()).digest()).decode() + "'"
    )
    assert len(inline_script_hashes(html)) == 2
    assert inline_script_hashes("<p>no scripts</p>") == []
    assert "script-src 'self' 'wasm-unsafe-eval';" in content_security_policy([])


def test_hsts_over_https_itself(context: ProcessContext) -> None:
    _status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), http_scope(scheme="https"))
    assert headers["strict-transport-security"] == "max-age=31536000"


def test_hsts_over_https_via_a_trusted_proxy(context: ProcessContext) -> None:
    scope = http_scope(client=PROXY, headers={"X-Forwarded-Proto": "https"})
    _status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), scope)
    assert headers["strict-transport-security"] == "max-age=31536000"


def test_no_hsts_for_an_untrusted_x_forwarded_proto(context: ProcessContext) -> None:
    for client in ("10.0.0.8", "127.0.0.1"):
        scope = http_scope(client=client, headers={"X-Forwarded-Proto": "https"})
        _status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), scope)
        assert "strict-transport-security" not in headers, client
        assert headers["content-security-policy"] == CSP


def test_no_hsts_when_the_trusted_proxy_says_http(context: ProcessContext) -> None:
    scope = http_scope(client=PROXY, headers={"X-Forwarded-Proto": "http"})
    _status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), scope)
    assert "strict-transport-security" not in headers


def test_a_broken_context_still_gets_every_header(broken_context: ProcessContext) -> None:
    app = SecurityHeaders(tiny_app, judge=broken_context.judge)
    _status, headers = respond(app, http_scope())
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers
    # Without the proxy rule only the connection's own scheme says HTTPS.
    _status, headers = respond(app, http_scope(scheme="https"))
    assert headers["strict-transport-security"] == "max-age=31536000"
    _status, headers = respond(app, http_scope(client=PROXY, headers={"X-Forwarded-Proto": "https"}))
    assert "strict-transport-security" not in headers


@pytest.mark.parametrize("path", ["/media/3f2a9c.csv", "/media/export-1.json", "/signin", "/signout"])
def test_no_store_on_downloads_and_the_sign_in_pages(context: ProcessContext, path: str) -> None:
    _status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), http_scope(path))
    assert headers.getlist("cache-control") == ["no-store"]  # the app's `public` replaced


@pytest.mark.parametrize("path", ["/", "/static/js/index.js", "/signin-help", "/mediafoo"])
def test_other_responses_keep_their_cache_control(context: ProcessContext, path: str) -> None:
    _status, headers = respond(SecurityHeaders(tiny_app, judge=context.judge), http_scope(path))
    assert headers["cache-control"] == "public"


def test_a_websocket_passes_untouched(context: ProcessContext) -> None:
    seen: list[Scope] = []
    sent: list[Message] = []

    async def socket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "websocket.accept", "headers": [(b"x-own", b"1")]})

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {**http_scope("/_stcore/stream"), "type": "websocket", "scheme": "ws"}
    asyncio.run(SecurityHeaders(socket_app, judge=context.judge)(scope, receive, send))
    assert seen == [scope]
    assert sent == [{"type": "websocket.accept", "headers": [(b"x-own", b"1")]}]


def test_the_headers_wrap_the_gate_its_redirects_and_refusals(context: ProcessContext) -> None:
    stack = middleware(context)
    assert [entry.cls for entry in stack] == [SecurityHeaders, Gate]  # outermost first
    app: Callable[[Scope, Receive, Send], object] = tiny_app
    for entry in reversed(stack):
        app = entry.cls(app, *entry.args, **entry.kwargs)  # type: ignore[call-arg]
    status, headers = respond(app, http_scope("/"))  # no session: to /signin
    assert status == 303 and headers["location"] == "/signin"
    assert headers["content-security-policy"] == CSP and headers["referrer-policy"] == "same-origin"
    status, headers = respond(app, http_scope("/media/abc.csv"))  # a download without a session
    assert status == 401
    assert headers["content-security-policy"] == CSP and headers["cache-control"] == "no-store"


def test_the_gates_503_on_a_broken_context_has_the_headers(broken_context: ProcessContext) -> None:
    app = SecurityHeaders(Gate(tiny_app, source=broken_context), judge=broken_context.judge)
    status, headers = respond(app, http_scope("/", scheme="https"))
    assert status == 503
    assert headers["content-security-policy"] == CSP
    assert headers["strict-transport-security"] == "max-age=31536000"
