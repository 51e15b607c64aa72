"""Client addresses as rate-limit buckets: what one client (or one network)
can be held to, however the address is written.

An attacker must not be able to multiply buckets cheaply, so an address is
reduced to what a client actually owns:

* an IPv4 address, however written: plain, with a ``:port``, IPv4-mapped
  (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``) or NAT64 (the
  well-known ``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``, where
  the IPv4 client is the last 32 bits, RFC 6052's /96 format);
* an IPv6 address as its /64 (one subscriber's LAN) **and** its /48 (one
  site's allocation: an attacker holding a /48 has 65,536 /64s, but only
  one /48 bucket);
* ``[…]`` brackets, a ``:port`` and a ``%zone`` are stripped;
* no address at all is :data:`UNKNOWN`; anything else unparsable is the
  single bucket :data:`UNPARSABLE` (a garbled proxy header must not give
  every request a fresh bucket).
"""

from __future__ import annotations

import ipaddress
import typing as t

UNKNOWN = "unknown"
UNPARSABLE = "unparsable"
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class Buckets(t.NamedTuple):
    """The buckets of one client address: its own (an IPv4 address, an IPv6
    /64 or a sentinel) and, for IPv6, the /48 around it."""

    client: str
    network: str | None = None


def host_part(address: str) -> str | None:
    """``address`` without ``[…]``, ``:port`` or ``%zone``; ``None`` if it
    cannot be a host."""
    text = address.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        text = host
    elif text.count(":") == 1:  # IPv4 with a port (IPv6 has at least two colons)
        text, _, port = text.partition(":")
        if not port.isdigit():
            return None
    return text.split("%", 1)[0]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 client an IPv6 address stands for, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    value = int(ip)
    # IPv4-compatible ``::a.b.c.d``; ``::`` and ``::1`` stay IPv6.
    if value >> 32 == 0 and value > 1:
        return ipaddress.IPv4Address(value)
    if any(ip in network for network in _NAT64):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def buckets(address: str | None) -> Buckets:
    """The rate-limit buckets of a client address (see the module docstring)."""
    if not address or not address.strip():
        return Buckets(UNKNOWN)
    host = host_part(address)
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return Buckets(UNPARSABLE)
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = embedded_ipv4(ip)
        if v4 is None:
            net64 = ipaddress.ip_network(f"{ip}/64", strict=False)
            return Buckets(str(net64), str(ipaddress.ip_network(f"{ip}/48", strict=False)))
        ip = v4
    return Buckets(str(ip))
