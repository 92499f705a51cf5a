"""Who is on the other end: the client address the sign-in throttle counts by.

Parley's rule: the TCP peer's address, unless the peer is one of
`PARLEY_TRUSTED_PROXIES`; then the nearest hop of X-Forwarded-For that is not a
trusted proxy (read right to left: only hops our own proxies appended can be
believed). IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, what an IPv4 client is
on Streamlit's default dual-stack bind) count as the IPv4 address they carry.

Streamlit serves on uvicorn, which applies a rule of its own before Parley runs:
for a peer in `FORWARDED_ALLOW_IPS` (read from the process environment when the
server starts; unset means "127.0.0.1,::1", "*" means everyone, empty means
nobody) it replaces the peer with an X-Forwarded-For hop, and the real peer is
lost. `ForwardingRule` says whether uvicorn's rewrite can change Parley's answer,
and when it can, which requests Parley cannot place. No Streamlit here.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from chat.errors import InputError

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# What uvicorn trusts when FORWARDED_ALLOW_IPS is not set at all.
UVICORN_DEFAULT = "127.0.0.1,::1"
# The address of a client Parley cannot name (no peer, or a hop that is not an address).
UNKNOWN = "unknown"
# Where IPv4-mapped IPv6 addresses live (::ffff:a.b.c.d).
MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
# Streamlit reports these peers as "no address" (`st.context.ip_address` is None).
LOOPBACK_NAMES = ("127.0.0.1", "::1")

PEER_UNKNOWN = (
    "Parley cannot tell where this sign-in comes from: the server was started so that it believes "
    "any X-Forwarded-For header from {trusted}, and this request carries one. Start Parley with "
    "`make run` (or `make prod`), or start Streamlit with FORWARDED_ALLOW_IPS= (empty) in its environment."
)


def parse_address(text: str) -> Address | None:
    """An address as a proxy may write it (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`),
    read exactly as uvicorn reads a hop, IPv4-mapped IPv6 as IPv4; None if it is not one."""
    try:
        parsed = ipaddress.ip_address(_uvicorn_host(text.strip()))
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def normalise(text: str) -> str:
    """The canonical spelling of an address (`::ffff:10.0.0.1` -> `10.0.0.1`). Anything that
    is not an address is UNKNOWN: a header's junk must not give a guesser a fresh name per try."""
    parsed = parse_address(text)
    return str(parsed) if parsed is not None else UNKNOWN


def as_network(text: str) -> Network:
    """A trusted proxy's network, an IPv4-mapped one as the IPv4 network it carries."""
    network = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(MAPPED):
        first = network.network_address.ipv4_mapped
        assert first is not None
        return ipaddress.ip_network(f"{first}/{network.prefixlen - 96}")
    return network


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The client's address by Parley's rule (see the module's docstring).

    Walking right to left, the first hop that is not a trusted proxy is the client;
    a hop that is not an address is not a trusted proxy either, so the walk stops
    there, at UNKNOWN. If every hop is trusted the leftmost is the client. This is the
    same walk uvicorn makes with its own set, which is what lets `ForwardingRule`
    prove the two agree."""
    if not peer:
        return UNKNOWN
    networks = [as_network(proxy) for proxy in trusted_proxies]
    if not forwarded_for or not _trusted(peer, networks):
        return normalise(peer)
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return normalise(hop)
    return normalise(hops[0]) if hops else normalise(peer)


def is_trusted_proxy(peer: str | None, trusted_proxies: Sequence[str]) -> bool:
    """Whether a peer is one of PARLEY_TRUSTED_PROXIES: only such a peer's forwarded headers
    (the client's address, whether the client used HTTPS) are believed."""
    return bool(peer) and _trusted(peer or "", [as_network(proxy) for proxy in trusted_proxies])


def _trusted(text: str, networks: Sequence[Network]) -> bool:
    parsed = parse_address(text)
    return parsed is not None and any(parsed in network for network in networks)


@dataclass(frozen=True)
class UvicornTrust:
    """What uvicorn's ProxyHeadersMiddleware trusts, parsed the way it parses
    FORWARDED_ALLOW_IPS (uvicorn/middleware/proxy_headers.py, `_TrustedHosts`)."""

    everyone: bool
    hosts: frozenset[Address]
    networks: frozenset[Network]
    # Entries that are neither an address nor a network: uvicorn compares them as text
    # with a peer or a hop (e.g. "localhost", or a network written with host bits set).
    literals: frozenset[str]

    @classmethod
    def from_setting(cls, value: str | None) -> UvicornTrust:
        value = UVICORN_DEFAULT if value is None else value
        if value == "*":
            return cls(everyone=True, hosts=frozenset(), networks=frozenset(), literals=frozenset())
        hosts: set[Address] = set()
        networks: set[Network] = set()
        literals: set[str] = set()
        for entry in (item.strip() for item in value.split(",")):
            try:
                if "/" in entry:
                    networks.add(ipaddress.ip_network(entry))
                else:
                    hosts.add(ipaddress.ip_address(entry))
            except ValueError:
                if entry:  # an empty literal matches nothing: uvicorn never trusts an empty host
                    literals.add(entry)
        return cls(everyone=False, hosts=frozenset(hosts), networks=frozenset(networks), literals=frozenset(literals))

    @property
    def nobody(self) -> bool:
        return not (self.everyone or self.hosts or self.networks or self.literals)

    def trusts(self, host: str) -> bool:
        """uvicorn's own test: exact address objects, so `::ffff:127.0.0.1` is not `127.0.0.1`."""
        if self.everyone:
            return True
        if not host:
            return False
        try:
            parsed = ipaddress.ip_address(host)
        except ValueError:
            return host in self.literals
        return parsed in self.hosts or any(parsed in network for network in self.networks)

    def client_from(self, forwarded_for: str) -> str:
        """The host uvicorn puts in place of a trusted peer, given the request's
        X-Forwarded-For lines joined by ", " ("" when it leaves the peer alone)."""
        hops = [item.strip() for item in forwarded_for.split(",")]
        if self.everyone:
            return _uvicorn_host(hops[0])
        for hop in reversed(hops):
            host = _uvicorn_host(hop)
            if not self.trusts(host):
                return host
        return _uvicorn_host(hops[0])

    def describe(self) -> str:
        if self.everyone:
            return "every address"
        names = sorted(map(str, self.hosts)) + sorted(map(str, self.networks)) + sorted(self.literals)
        return ", ".join(names)


def _uvicorn_host(value: str) -> str:
    """uvicorn's `_parse_host_port`, host only: `[v6]:port`, `v4:port` or the text as is."""
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value
        rest = value[end + 1 :]
        return value[1:end] if not rest or rest.startswith(":") else value
    if value.count(":") == 1:
        host, port = value.rsplit(":", 1)
        try:
            int(port)
        except ValueError:
            return value
        return host
    return value


@dataclass(frozen=True)
class ForwardingRule:
    """uvicorn's trusted set beside Parley's, and what follows for a request."""

    uvicorn: UvicornTrust
    trusted_proxies: tuple[str, ...]

    @classmethod
    def of(cls, forwarded_allow_ips: str | None, trusted_proxies: Sequence[str]) -> ForwardingRule:
        return cls(UvicornTrust.from_setting(forwarded_allow_ips), tuple(trusted_proxies))

    @property
    def agrees(self) -> bool:
        """True when everything uvicorn trusts Parley trusts too.

        Why that is enough: for a peer uvicorn trusts, uvicorn walks X-Forwarded-For
        right to left and hands on the first hop it does not trust (or the leftmost,
        all being trusted). Every hop it walked past is one Parley trusts as well. If
        Parley does not trust the hop handed on, Parley's own walk from the real peer
        would also have stopped right there: same answer. If Parley does trust it,
        Parley (seeing a trusted "peer" and the unchanged header) walks the whole
        header again from the right, past the same trusted hops, and stops where its
        walk from the real peer would have: same answer again. A peer uvicorn does
        not trust is left alone, and Parley sees the real one. So the rewrite never
        changes what Parley decides, and Parley's rule is the only rule."""
        if self.uvicorn.nobody:
            return True
        ours = [as_network(proxy) for proxy in self.trusted_proxies]

        def covered(network: Network) -> bool:
            if isinstance(network, ipaddress.IPv6Network) and network.overlaps(MAPPED):
                if not network.subnet_of(MAPPED):
                    # Both IPv6 addresses and IPv4-mapped ones: both spellings must be trusted.
                    return covered(ipaddress.ip_network("0.0.0.0/0")) and _within(network, ours)
                network = as_network(str(network))
            return _within(network, ours)

        if self.uvicorn.everyone:
            return covered(ipaddress.ip_network("0.0.0.0/0")) and covered(ipaddress.ip_network("::/0"))
        if self.uvicorn.literals:
            return False  # uvicorn trusts a hop spelt that way; Parley trusts no hop that is not an address
        return all(covered(ipaddress.ip_network(host)) for host in self.uvicorn.hosts) and all(
            covered(network) for network in self.uvicorn.networks
        )

    def warning(self) -> str | None:
        """The start-up warning when uvicorn believes more than Parley does."""
        if self.agrees:
            return None
        return (
            f"uvicorn (Streamlit's server) believes X-Forwarded-For from {self.uvicorn.describe()} "
            f"(FORWARDED_ALLOW_IPS), more than PARLEY_TRUSTED_PROXIES does: sign-ins that carry that header "
            f"will be refused, as Parley cannot tell where they come from. Start with `make run` or set "
            f"FORWARDED_ALLOW_IPS= (empty)."
        )

    def may_be_rewritten(self, visible_peer: str | None, forwarded_for: str | None) -> bool:
        """Whether uvicorn may have replaced this request's peer, given the peer the app
        sees (None: Streamlit's loopback, 127.0.0.1 or ::1) and its X-Forwarded-For.

        A rewritten peer is exactly the hop uvicorn picks from the header; a peer that is
        anything else was left alone and is the real one."""
        if self.agrees or not forwarded_for:
            return False
        picked = self.uvicorn.client_from(forwarded_for)
        if not picked:
            return False  # uvicorn keeps the peer when the header names no host
        return picked in LOOPBACK_NAMES if visible_peer is None else picked == visible_peer

    def address(self, visible_peer: str | None, forwarded_for: str | None) -> str:
        """The client's address by Parley's rule; raises InputError (a sentence naming
        the fix) when uvicorn may have rewritten the peer and the real one is lost."""
        if self.may_be_rewritten(visible_peer, forwarded_for):
            _log_refusal_once(self.uvicorn.describe())
            raise InputError(PEER_UNKNOWN.format(trusted=self.uvicorn.describe()))
        return client_address(visible_peer or self._loopback(), forwarded_for, self.trusted_proxies)

    def _loopback(self) -> str:
        # Streamlit names neither 127.0.0.1 nor ::1: either is the peer, so a proxy on this
        # host is believed if either spelling of it is trusted.
        trusted = [as_network(proxy) for proxy in self.trusted_proxies]
        return "::1" if any(ipaddress.ip_address("::1") in network for network in trusted) else "127.0.0.1"


def _within(network: Network, ours: Sequence[Network]) -> bool:
    return any(network.version == mine.version and network.subnet_of(mine) for mine in ours)  # type: ignore[arg-type]


_refusals_logged: set[str] = set()


def _log_refusal_once(trusted: str) -> None:
    # Once per process and setting: an attacker's every attempt must not flood the log.
    if trusted not in _refusals_logged:
        _refusals_logged.add(trusted)
        log.warning(
            "a sign-in carrying X-Forwarded-For was refused: uvicorn believes that header from %s "
            "(FORWARDED_ALLOW_IPS) and Parley cannot tell the real peer; start with `make run` or set "
            "FORWARDED_ALLOW_IPS= (empty). Further refusals are not logged.",
            trusted,
        )
