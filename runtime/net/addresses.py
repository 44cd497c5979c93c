"""Which IP addresses an outgoing request may reach: public unicast only.

An IPv6 address that carries an IPv4 address is judged by that IPv4 address: IPv4-mapped
(``::ffff:0:0/96``), NAT64 (``64:ff9b::/96``) and 6to4 (``2002::/16``), so ``2002:7f00:1::``
(6to4 of 127.0.0.1) and ``64:ff9b::a00:1`` (NAT64 of 10.0.0.1) are refused while the same forms
of a public address pass. Teredo (``2001::/32``) is refused whatever it carries: its embedded
addresses are a relay and a client behind a NAT, never an API. The rest of ``::/8`` (IPv4-
compatible, IPv4-translated, local-use NAT64 ``64:ff9b:1::/48``, ...) is refused outright.

Besides the ranges listed here, anything Python's ``ipaddress`` calls non-global is refused,
so the check is never weaker than the interpreter's own table.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

_V4_REFUSED = tuple(IPv4Network(n) for n in (
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "198.18.0.0/15",  # benchmarking
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, broadcast
))
_V6_REFUSED = tuple(IPv6Network(n) for n in (
    "::/8",  # unspecified, loopback, IPv4-compatible/-translated, local-use NAT64 (after the embedded forms)
    "100::/64",  # discard
    "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, ORCHID
    "2001:db8::/32", "3fff::/20",  # documentation
    "5f00::/16",  # segment routing
    "fc00::/7",  # unique local
    "fe80::/10", "fec0::/10",  # link-local, site-local
    "ff00::/8",  # multicast
))
TEREDO = IPv6Network("2001::/32")
NAT64 = IPv6Network("64:ff9b::/96")


def embedded_ipv4(ip: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the form's name, if it is one."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in NAT64:
        return "NAT64", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None


def refusal(address: str) -> str | None:
    """Why ``address`` must not be reached (a short phrase), or ``None`` when it may be.

    A scope (``fe80::1%eth0``) is ignored; text that is not an IP address is refused.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            form, inner = embedded
            why = _refusal_v4(inner)
            return f"the {form} form of {inner}, {why}" if why else None
        if ip in TEREDO:
            return "a Teredo tunnel address"
        if any(ip in net for net in _V6_REFUSED) or not ip.is_global:
            return "a loopback, private, link-local, multicast or reserved address"
        return None
    return _refusal_v4(ip)


def _refusal_v4(ip: IPv4Address) -> str | None:
    if any(ip in net for net in _V4_REFUSED) or not ip.is_global:
        if ip == IPv4Address("169.254.169.254"):
            return "the cloud metadata address"
        return "a loopback, private, link-local, multicast or reserved address"
    return None


def blocked(address: str) -> bool:
    """True when ``address`` must not be reached (see :func:`refusal`)."""
    return refusal(address) is not None


# --- resolving -------------------------------------------------------------------------------
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``await resolve(host, port)``: the host's IP addresses, in the order to try them."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo`` in the loop's thread pool)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))  # its order, each address once
