"""Plain HTTP against a running Parley, as a browser's requests would be, redirects never
followed: `http.client` from the standard library (no httpx here)."""

from __future__ import annotations

import base64
import html
import http.client
import os
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from tests.conftest import PASSWORDS
from tests.e2e.conftest import COOKIES_SEEN

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    attributes: dict[str, str]  # lower-cased names; a flag (HttpOnly, Secure) has ""

    @classmethod
    def parse(cls, header: str) -> Cookie:
        first, *rest = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        attributes = {}
        for part in rest:
            key, _, val = part.partition("=")
            attributes[key.strip().lower()] = val.strip()
        return cls(name, value, attributes)

    @property
    def cleared(self) -> bool:
        return self.value in ("", '""') and (
            self.attributes.get("max-age") == "0" or "1970" in self.attributes.get("expires", "")
        )


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: str
    cookies: dict[str, Cookie] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def location(self) -> str | None:
        return self.header("location")

    def hidden(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.body)
        assert found, f"no hidden field {name!r} in:\n{self.body[:2000]}"
        return found.group(1)

    def message(self) -> str:
        """The sign-in page's `#signin-message`, or ""."""
        found = re.search(r'id="signin-message">([^<]*)<', self.body)
        return html.unescape(found.group(1)) if found else ""


def request(
    url: str,
    method: str = "GET",
    path: str = "/",
    *,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        sent = dict(headers or {})
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = FORM
        connection.request(method, path, body=body, headers=sent)
        answer = connection.getresponse()
        text = answer.read().decode(errors="replace")
        pairs = answer.getheaders()
    finally:
        connection.close()
    cookies = {}
    for key, value in pairs:
        if key.lower() == "set-cookie":
            cookie = Cookie.parse(value)
            cookies[cookie.name] = cookie
            if "session" in cookie.name and not cookie.cleared and cookie.value.strip('"'):
                COOKIES_SEEN.add(cookie.value)  # checked against logs, databases and pages at the end
    return Response(answer.status, pairs, text, cookies)


def raw_get(url: str, path: str, cookie: str) -> Response:
    """A GET whose Cookie header is sent byte for byte (http.client would refuse some)."""
    parts = urlsplit(url)
    head = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(head.encode("latin-1"))
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        text = answer.read().decode(errors="replace")
        pairs = answer.getheaders()
    cookies = {cookie.name: cookie for cookie in (Cookie.parse(v) for k, v in pairs if k.lower() == "set-cookie")}
    return Response(answer.status, pairs, text, cookies)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


@dataclass
class Visitor:
    """One browser, as far as Parley can tell: its cookies, its origin, its proxy headers."""

    url: str
    jar: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    origin: str | None = None  # default: the server's own

    def send(self, method: str, path: str, *, form: dict[str, str] | None = None, **headers: str) -> Response:
        sent = {**self.extra, **{key.replace("_", "-"): value for key, value in headers.items()}}
        if self.jar:
            sent["Cookie"] = cookie_header(self.jar)
        if method == "POST" and "Origin" not in sent:
            sent["Origin"] = self.origin or self.url
        response = request(self.url, method, path, headers=sent, form=form)
        for name, cookie in response.cookies.items():
            if cookie.cleared:
                self.jar.pop(name, None)
            else:
                self.jar[name] = cookie.value
        return response

    def signin_form(self, path: str = "/signin") -> Response:
        page = self.send("GET", path)
        assert page.status == 200, (page.status, page.body[:500])
        return page

    def sign_in(
        self, username: str = "alice", password: str | None = None, *, next: str = "/", csrf: str | None = None
    ) -> Response:
        token = csrf if csrf is not None else self.signin_form().hidden("csrf")
        password = PASSWORDS[username] if password is None else password
        return self.send(
            "POST", "/signin", form={"username": username, "password": password, "csrf": token, "next": next}
        )


def websocket_handshake(url: str, cookie: str | None) -> str:
    """The status line a WebSocket upgrade of `/_stcore/stream` gets."""
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {parts.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {url}",
    ]
    if cookie is not None:
        lines.append(f"Cookie: {cookie}")
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()
