"""What Parley believes about a request: the client's address, whether it came over HTTPS,
and whether a form was posted from Parley's own pages.

A proxy's word (X-Forwarded-For, -Proto, -Host) counts only when the peer is one of
PARLEY_TRUSTED_PROXIES: the same rule for the throttle's address and the cookie's flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from chat.accounts.peer import ForwardingRule, is_trusted_proxy
from chat.settings import Settings


def _last(headers: Headers, name: str) -> str | None:
    """The hop nearest this server of a header a proxy may append to."""
    values = [item.strip() for line in headers.getlist(name) for item in line.split(",") if item.strip()]
    return values[-1] if values else None


@dataclass(frozen=True)
class RequestJudge:
    rule: ForwardingRule

    @classmethod
    def of(cls, settings: Settings) -> RequestJudge:
        return cls(ForwardingRule.of(settings.forwarded_allow_ips, settings.trusted_proxies))

    @staticmethod
    def peer(scope: Scope) -> str | None:
        client = scope.get("client")
        return str(client[0]) if client else None

    def _via_proxy(self, scope: Scope) -> bool:
        return is_trusted_proxy(self.peer(scope), self.rule.trusted_proxies)

    def is_https(self, scope: Scope) -> bool:
        if scope.get("scheme") in ("https", "wss"):
            return True
        return self._via_proxy(scope) and _last(Headers(scope=scope), "x-forwarded-proto") == "https"

    def address(self, scope: Scope) -> str:
        """The client's address by Parley's rule; InputError when it cannot be told."""
        forwarded = ", ".join(Headers(scope=scope).getlist("x-forwarded-for"))
        return self.rule.address(self.peer(scope), forwarded or None)

    def origin(self, scope: Scope) -> str:
        """This server's origin as the browser sees it: scheme and host."""
        headers = Headers(scope=scope)
        host = (_last(headers, "x-forwarded-host") if self._via_proxy(scope) else None) or headers.get("host", "")
        return f"{'https' if self.is_https(scope) else 'http'}://{host.lower()}"

    def same_origin(self, scope: Scope) -> bool:
        """Whether a POST came from one of Parley's own pages (its Origin header, which browsers
        send with every form POST; one without it is refused)."""
        origin = Headers(scope=scope).get("origin")
        if not origin or origin == "null":
            return False
        parts = urlsplit(origin.lower())
        return f"{parts.scheme}://{parts.netloc}" == self.origin(scope)
