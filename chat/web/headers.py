"""Security headers on every HTTP response: a pure ASGI middleware, outermost, so the gate's
redirects and refusals, Parley's own pages and everything Streamlit serves carry them.

- A Content-Security-Policy that lets scripts come only from Parley's own origin, plus
  Streamlit's one inline bootstrap script by its SHA-256 (read from Streamlit's own
  `static/index.html` at start-up, so an upgrade of Streamlit cannot silently break the
  page: a changed script gets its new hash). No `unsafe-eval`, no inline scripts: component
  JavaScript is served as a file (`chat/ui/components.py`). Styles may be inline
  (Streamlit's are). Images, fonts and media come from Parley or `data:`/`blob:` URLs only:
  a Markdown image that got past the text guard (`chat/ui/markdown.py`) still cannot
  reach another host.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (a conversation's URL,
  `?c=...`, is never sent to another site), and HSTS when the browser came over HTTPS, by
  the same trusted-proxy rule as the session cookie's flags (`RequestJudge.is_https`).
- `Cache-Control: no-store` on downloads (`/media/...`, Streamlit's download buttons) and
  on Parley's sign-in and sign-out pages.

WebSocket scopes pass untouched: they have no response headers to add to.
"""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat.errors import ChatError
from chat.web.context import JudgeSource
from chat.web.requests import RequestJudge
from chat.web.streamlit_files import STREAMLIT_INDEX

HSTS = "max-age=31536000"
NO_STORE_PREFIXES = ("/media/",)
NO_STORE_PATHS = ("/signin", "/signout", "/password")


class _InlineScripts(HTMLParser):
    """The text of every `<script>` without a `src`, exactly as the browser hashes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions (`'sha256-...'`) for the page's inline scripts."""
    parser = _InlineScripts()
    parser.feed(html)
    parser.close()
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in parser.scripts
    ]


def content_security_policy(script_hashes: list[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        # 'wasm-unsafe-eval' lets WebAssembly compile, and nothing else (no `eval` of
        # JavaScript): Streamlit's protobuf bundle (long.js) compiles a tiny module for 64-bit
        # arithmetic on load, and reports a violation without it.
        "script-src": ["'self'", "'wasm-unsafe-eval'", *script_hashes],
        # Streamlit (emotion) writes its styles inline, and so do Parley's own pages.
        "style-src": ["'self'", "'unsafe-inline'"],
        # No outside host: the browser's own guarantee that no image can carry data away.
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "media-src": ["'self'", "data:", "blob:"],
        "worker-src": ["'self'", "blob:"],
        # 'self' covers the WebSocket to the same host (ws: and wss: alike in CSP 3).
        "connect-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


# Made once, at start-up: a Streamlit without its index.html fails here, loudly.
CSP = content_security_policy(inline_script_hashes(STREAMLIT_INDEX.read_text(encoding="utf-8")))


def _no_store(path: str) -> bool:
    return path in NO_STORE_PATHS or path.startswith(NO_STORE_PREFIXES)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, judge: JudgeSource, csp: str = CSP) -> None:
        self.app = app
        self.judge = judge
        self.csp = csp
        # The judge, once the settings could be read: they do not change while the process runs.
        self._judge: RequestJudge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = await self._is_https(scope)
        no_store = _no_store(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if https:
                    headers["Strict-Transport-Security"] = HSTS
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _is_https(self, scope: Scope) -> bool:
        judge = self._judge
        if judge is None:
            try:
                judge = self._judge = await run_in_threadpool(self.judge)
            except ChatError:
                # A wrong setting: the page says so (the gate, the error page), and still gets
                # its headers. Without the proxy rule only the connection itself can tell HTTPS.
                return _scheme_is_https(scope)
        return judge.is_https(scope)


def _scheme_is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"
