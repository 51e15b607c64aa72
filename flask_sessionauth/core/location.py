"""Approximate locations of sessions, and what of the client is stored.

A :class:`Location` is resolved once, when a session is created (never per
request), from the full client address, then stored on the session row as
``country`` (ISO 3166-1 alpha-2), ``region`` and ``city``. Loopback and
private addresses are stored as the country code :data:`LOCAL_NETWORK`
(``"ZZ"``, CLDR's "Unknown Region", which no resolver reports) and read
"Local network". The privacy switches (:func:`stored_address`) apply after:
the address kept on the row may be truncated or left out entirely.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from .countries import country_name
from .i18n import _
from .i18n import _l
from .i18n import formatter

#: The ``country`` stored for loopback, private and link-local addresses.
LOCAL_NETWORK = "ZZ"
LOCAL_NETWORK_TEXT = _l("Local network")
#: Longest region or city name kept (the columns' width).
PLACE_LENGTH = 80
#: What ``SESSIONAUTH_STORE_IP`` accepts.
IP_MODES = ("full", "truncated", "none")
_CODE = re.compile(r"[A-Z]{2}")
#: Codes CDNs send for "unknown" (Cloudflare ``XX``, ``T1`` = Tor) or that mean local here.
_NOT_COUNTRIES = frozenset({"XX", "T1", LOCAL_NETWORK})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Location(t.NamedTuple):
    """Where a session was signed in from, as far as the data tells:
    ``country`` (ISO alpha-2), and ``region`` / ``city`` where known."""

    country: str | None
    region: str | None = None
    city: str | None = None


LOCAL = Location(LOCAL_NETWORK)


def parse_address(value: str | None) -> IPAddress | None:
    """``value`` as an address (an IPv4-mapped IPv6 one as its IPv4), or ``None``."""
    try:
        ip = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_local(ip: IPAddress) -> bool:
    """Not a global address (loopback, private, link-local, carrier NAT,
    documentation ranges...): no place on a map."""
    return not ip.is_global


def country_code(value: object) -> str | None:
    """A two-letter country code (any case, e.g. a CDN header), upper-cased,
    or ``None`` for anything else (``XX``/``T1`` included)."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if _CODE.fullmatch(code) and code not in _NOT_COUNTRIES else None


def _place(value: object) -> str | None:
    """A region or city name fit to store: text without control characters, bounded."""
    if not isinstance(value, str):
        return None
    text = " ".join("".join(c for c in value if c.isprintable()).split())
    return text[:PLACE_LENGTH] or None


def checked(value: object) -> Location | None:
    """What a resolver returned, made safe to store: a :class:`Location` (or a
    tuple like one) with a valid country code; anything else is no location."""
    if value == LOCAL:
        return LOCAL
    if not isinstance(value, tuple) or not value:
        return None
    code = country_code(value[0])
    if code is None:
        return None
    rest = [*value[1:3], None, None]
    return Location(code, _place(rest[0]), _place(rest[1]))


def describe(country: str | None, region: str | None = None, city: str | None = None) -> str | None:
    """ "near Lyon, France", "in France", "Local network", or ``None`` (unknown)."""
    if not country:
        return None
    if country == LOCAL_NETWORK:
        return str(LOCAL_NETWORK_TEXT)
    name = local_country_name(country)
    place = city or region
    # TRANSLATORS: where a session signed in from: a city (or region), then a country.
    return _("near %(place)s, %(country)s", place=place, country=name) if place else _("in %(country)s", country=name)


def local_country_name(code: str) -> str:
    """The country's name in the current locale (CLDR's, by Babel, when installed),
    else its English name, else the code itself."""
    f = formatter()
    return (f.country(code) if f is not None else None) or country_name(code) or code


def stored_address(value: str | None, mode: str) -> str | None:
    """The client address as ``SESSIONAUTH_STORE_IP`` keeps it: ``"full"``,
    ``"truncated"`` (IPv4 /24, IPv6 /48: the network, never the host) or ``"none"``."""
    if mode == "none" or not value:
        return None
    if mode == "full":
        return value
    ip = parse_address(value)
    if ip is None:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
