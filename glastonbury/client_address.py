"""Who a request comes from: the one rule every limit keyed by a client's address reads.

The address is the peer's (the TCP connection's other end), unless that peer is one of the
`TRUSTED_PROXIES`: then it is the rightmost `X-Forwarded-For` hop that is not itself a trusted
proxy. Each proxy appends the address it was connected from, so the hops right of the first
untrusted one were written by our proxies and everything left of it by the client, who may
write anything: only those hops are believed. `X-Real-Ip`, `Forwarded` and `X-Forwarded-For`
from any other peer are ignored, whatever the HTTP server's own options say.

No framework here: the order service (Flask) and the dashboard (Tornado) each hand in the
peer and the header's values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
FORWARDED_FOR = "X-Forwarded-For"
# One IPv6 customer is given a /64 and may use any address in it: counted as one client.
IPV6_CLIENT_PREFIX = 64


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES`' addresses and networks (`10.0.0.5`, `172.18.0.0/16`); ValueError
    naming an entry that is neither."""
    networks = []
    for entry in (entry.strip() for entry in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an address or a network "
                             "(CIDR)") from None
    return tuple(networks)


def client_address(peer: str, forwarded_for: Sequence[str],
                   proxies: tuple[Network, ...]) -> str:
    """The client's address: `peer`, or, when `peer` is a trusted proxy, the rightmost hop of
    the `X-Forwarded-For` values (each header line as sent, in order) that is no trusted proxy.

    A hop that is not an address stops the walk: the hop right of it (a proxy of ours) is then
    the client, as when every hop is a trusted proxy."""
    if not proxies or not _is_trusted(peer, proxies):
        return peer
    client = peer
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return client
        client = str(address)
        if not any(address in network for network in proxies):
            return client
    return client


def limit_key(address: str) -> str:
    """What limits count a client by: its IPv4 address, or its IPv6 address's /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


def _is_trusted(peer: str, proxies: tuple[Network, ...]) -> bool:
    try:
        address: Address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in proxies)
