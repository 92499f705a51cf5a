"""The client address: IPv4-mapped peers, and uvicorn's X-Forwarded-For rule beside Parley's (chat/accounts/peer.py).

uvicorn's own ProxyHeadersMiddleware rewrites a real ASGI scope here, so the tests hold
Parley's reasoning to what the pinned uvicorn actually does."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chat.accounts.peer import ForwardingRule, UvicornTrust, client_address, normalise
from chat.errors import InputError


def uvicorn_client(forwarded_allow_ips: str, peer: str, forwarded_for: list[str]) -> str:
    """The client host uvicorn hands the app for a request from `peer` with these X-Forwarded-For lines."""
    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["client"][0])

    scope = {
        "type": "http",
        "client": (peer, 50000),
        "headers": [(b"x-forwarded-for", line.encode("latin1")) for line in forwarded_for],
    }
    asyncio.run(ProxyHeadersMiddleware(app, trusted_hosts=forwarded_allow_ips)(scope, None, None))  # type: ignore[arg-type]
    return seen[0]


def streamlit_peer(host: str) -> str | None:
    return None if host in ("127.0.0.1", "::1") else host  # what st.context.ip_address reports


def loopback_as_one(address: str) -> str:
    # Streamlit names neither loopback peer (both are None): Parley counts them as one client.
    return "127.0.0.1" if address == "::1" else address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("[::ffff:10.1.2.3]:443", "10.1.2.3"),
        ("10.1.2.3:8080", "10.1.2.3"),
        ("2001:db8::1", "2001:db8::1"),
        ("10.1.2.3", "10.1.2.3"),
        ("10.1.2.3:http", "unknown"),
        ("evil.example", "unknown"),
    ],
)
def test_addresses_are_normalised_ipv4_mapped_ones_to_ipv4(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # The dual-stack bind's IPv4 peer is the proxy named 127.0.0.1: its header is believed.
        ("::ffff:127.0.0.1", "203.0.113.7", ("127.0.0.1",), "203.0.113.7"),
        ("::ffff:127.0.0.1", "::ffff:203.0.113.7", ("127.0.0.1",), "203.0.113.7"),
        ("::ffff:10.0.0.2", "6.6.6.6, 203.0.113.7, ::ffff:10.0.0.3", ("10.0.0.0/8",), "203.0.113.7"),
        ("127.0.0.1", "203.0.113.7", ("::ffff:127.0.0.1",), "203.0.113.7"),  # a mapped proxy setting too
        ("::ffff:203.0.113.9", "1.2.3.4", (), "203.0.113.9"),  # no trusted proxy: the peer, as IPv4
    ],
)
def test_ipv4_mapped_peers_and_hops_match_ipv4_trusted_proxies(
    peer: str, forwarded: str, trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, forwarded, trusted) == expected


@pytest.mark.parametrize(
    "setting", [None, "", "*", "127.0.0.1", "10.0.0.0/8, ::1", "::ffff:127.0.0.1", "proxy.local", "10.0.0.1/8"]
)
def test_uvicorn_trust_is_read_as_uvicorn_reads_it(setting: str | None) -> None:
    trust = UvicornTrust.from_setting(setting)
    effective = "127.0.0.1,::1" if setting is None else setting
    for host in ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.9.8.7", "203.0.113.7", "proxy.local", "10.0.0.1/8"]:
        rewritten = uvicorn_client(effective, host, ["198.51.100.1"]) == "198.51.100.1"
        assert trust.trusts(host) == rewritten, host


HEADERS = [
    ["198.51.100.1"],
    ["6.6.6.6, 198.51.100.1, 10.0.0.3"],
    ["6.6.6.6, 127.0.0.1"],
    ["::ffff:198.51.100.1, ::1"],
    ["198.51.100.1:4444", "10.0.0.3"],  # two lines, a port
    ["junk, 10.0.0.3"],
    ["10.0.0.4, 10.0.0.3"],  # every hop a proxy
]
PEERS = ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.2", "203.0.113.5"]


@pytest.mark.parametrize(
    ("uvicorn", "parley"),
    [
        ("", ()),
        ("127.0.0.1,::1", ("127.0.0.1", "::1")),
        ("127.0.0.1", ("127.0.0.0/8", "::1")),
        ("10.0.0.0/8", ("10.0.0.0/8",)),
        ("127.0.0.1,::1", ("127.0.0.1", "::1", "10.0.0.0/8")),
        ("*", ("0.0.0.0/0", "::/0")),
    ],
)
def test_when_parley_trusts_all_uvicorn_does_the_rewrite_never_changes_the_answer(
    uvicorn: str, parley: tuple[str, ...]
) -> None:
    rule = ForwardingRule.of(uvicorn, parley)
    assert rule.agrees and rule.warning() is None
    for peer, lines in itertools.product(PEERS, HEADERS):
        truth = client_address(peer, ", ".join(lines), parley)
        seen = uvicorn_client(uvicorn, peer, lines)
        assert loopback_as_one(rule.address(streamlit_peer(seen), ", ".join(lines))) == loopback_as_one(truth)


@pytest.mark.parametrize(
    ("uvicorn", "parley"),
    [
        (None, ()),  # a bare `streamlit run`: uvicorn's default, Parley believes nobody
        ("127.0.0.1,::1", ("127.0.0.1",)),
        ("10.0.0.0/8", ("10.0.0.0/9",)),
        ("*", ("0.0.0.0/0",)),
        ("127.0.0.1,proxy.local", ("127.0.0.1",)),
    ],
)
def test_when_uvicorn_trusts_more_a_rewritten_request_is_refused_and_others_are_placed(
    uvicorn: str | None, parley: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    rule = ForwardingRule.of(uvicorn, parley)
    assert not rule.agrees and "FORWARDED_ALLOW_IPS" in (rule.warning() or "")
    effective = "127.0.0.1,::1" if uvicorn is None else uvicorn
    refused = 0
    for peer, lines in itertools.product(PEERS, HEADERS):
        seen = uvicorn_client(effective, peer, lines)
        if seen != peer:  # uvicorn rewrote it: Parley must not guess
            with pytest.raises(InputError, match="make run"):
                rule.address(streamlit_peer(seen), ", ".join(lines))
            refused += 1
    assert refused
    # Without the header nothing is rewritten, and the peer is the client.
    assert rule.address("203.0.113.5", None) == "203.0.113.5" and rule.address(None, None) == "127.0.0.1"
    # Left alone by uvicorn (the peer is not one it trusts), the peer is known and Parley's rule applies.
    assert rule.address("203.0.113.5", "198.51.100.1") == client_address("203.0.113.5", "198.51.100.1", parley)


def test_a_refusal_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    rule = ForwardingRule.of("10.99.0.0/16", ())
    with caplog.at_level(logging.WARNING, logger="chat.accounts.peer"):
        for _ in range(3):
            with pytest.raises(InputError):
                rule.address("198.51.100.1", "198.51.100.1")
    assert len([r for r in caplog.records if "X-Forwarded-For" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", "1.2.3.4", (), "203.0.113.5"),  # no trusted proxy: the header is ignored
        ("10.0.0.2", "1.2.3.4", ("10.0.0.0/8",), "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.3", ("10.0.0.0/8",), "1.2.3.4"),  # a spoofed left hop
        ("203.0.113.5", "1.2.3.4", ("10.0.0.0/8",), "203.0.113.5"),  # the peer is not our proxy
        ("10.0.0.2", "not-an-ip", ("10.0.0.0/8",), "unknown"),  # not an address: one name for all such junk
        ("10.0.0.2", None, ("10.0.0.0/8",), "10.0.0.2"),
        (None, "1.2.3.4", ("10.0.0.0/8",), "unknown"),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str | None, forwarded: str | None, trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, forwarded, trusted) == expected
