"""Brute-force limits on password guesses, shaped so an attacker cannot lock
the owner out (OWASP Authentication Cheat Sheet, "account lockout").

Three fixed-window failure counters, checked before any hashing so a
locked-out client costs nothing:

* per **(account, client address)**, tight (``SESSIONAUTH_RATE_LIMIT_ACCOUNT``,
  5): guessing one account from one place stops quickly;
* per **account**, loose (``SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL``, 100): a
  distributed guess stops too, but five failures from elsewhere never block
  the owner;
* per **client address** (``SESSIONAUTH_RATE_LIMIT_IP``, 20): one client
  spraying many accounts.

A signed-in owner re-entering the password (sudo confirm, password change) is
limited per **(account, session)** only: failures anywhere else, or from the
same network, never block their own re-authentication.

Only failures count; a correct password clears that account's pair and
session counters. Keys are HMAC-SHA256 under a key derived from ``SECRET_KEY``,
so the counter table holds nothing a dump could reverse into emails or
addresses. Addresses are normalised first: IPv4-mapped (``::ffff:a.b.c.d``)
and NAT64 (``64:ff9b::a.b.c.d``) addresses count as their IPv4 client, other
IPv6 addresses per /64, and a request with no address (a UNIX socket without
``ProxyFix``) is keyed ``unknown`` and logged once.

Guesses already in flight when a limit is reached still get their answer: a
burst can exceed a limit by at most the server's concurrency, once per window.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
import typing as t

from ..core.errors import RateLimited
from ..core.records import Client
from ..core.records import normalize_email

if t.TYPE_CHECKING:
    from ..storage.throttle import Counters

log = logging.getLogger("flask_sessionauth")

PAIR = "pair"
ACCOUNT = "account"
ADDRESS = "ip"
SESSION = "session"
UNKNOWN_ADDRESS = "unknown"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Key(t.NamedTuple):
    """One counter: its kind and its storage key (an HMAC)."""

    kind: str
    name: str


def client_bucket(address: str | None) -> str:
    """The bucket of a client address, as people own addresses: an IPv4
    address (however it is written), or an IPv6 /64."""
    if not address:
        return UNKNOWN_ADDRESS
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip in _NAT64:
            return str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Limiter:
    """The policy above over storage :class:`Counters`."""

    def __init__(self, counters: Counters, limits: t.Mapping[str, int | None], window: int, secret: bytes) -> None:
        self.counters = counters
        self.limits = {kind: int(limit) for kind, limit in limits.items() if limit}
        self.window = int(window)
        self._secret = secret
        self._warned_unknown = False

    def key(self, kind: str, *parts: str) -> Key:
        message = "\x00".join((kind, *parts)).encode("utf-8", "surrogatepass")
        return Key(kind, f"{kind}:{hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:48]}")

    def _address(self, client: Client) -> str:
        bucket = client_bucket(client.ip_address)
        if bucket == UNKNOWN_ADDRESS and not self._warned_unknown:
            self._warned_unknown = True
            log.warning(
                "flask-sessionauth: a request has no client address (a UNIX socket?); all such requests share "
                "one rate-limit bucket. Behind a proxy, install werkzeug.middleware.proxy_fix.ProxyFix."
            )
        return bucket

    def sign_in_keys(self, identity: str | None, client: Client) -> list[Key]:
        address = self._address(client)
        keys = [self.key(ADDRESS, address)]
        if isinstance(identity, str) and identity.strip():
            account = normalize_email(identity)
            keys += [self.key(PAIR, account, address), self.key(ACCOUNT, account)]
        return keys

    def reauth_keys(self, identity: str, session_id: str | None) -> list[Key]:
        if session_id is None:
            return []
        return [self.key(SESSION, normalize_email(identity), session_id)]

    def check(self, keys: list[Key]) -> list[Key]:
        """Raise :class:`RateLimited` if any counter reached its limit; else the
        keys for :meth:`failed` or :meth:`succeeded`. Call before hashing."""
        keys = [key for key in keys if self._limit(key) is not None]
        if not keys:
            return keys
        counts = self.counters.peek([k.name for k in keys], time.time())
        waits = [
            wait for key, (count, wait) in zip(keys, counts, strict=True) if count >= t.cast(int, self._limit(key))
        ]
        if waits:
            raise RateLimited(max(1, math.ceil(max(waits))))
        return keys

    def _limit(self, key: Key) -> int | None:
        # The session counter uses the per-account-and-client limit.
        return self.limits.get(PAIR if key.kind == SESSION else key.kind)

    def failed(self, keys: list[Key]) -> None:
        if keys:
            self.counters.increment([k.name for k in keys], time.time())

    def succeeded(self, keys: list[Key]) -> None:
        """A right password forgives this client's (or session's) failures on
        the account. The account-wide and address counters keep theirs: those
        failures were real, whoever made them."""
        clear = [k.name for k in keys if k.kind in (PAIR, SESSION)]
        if clear:
            self.counters.clear(clear)

    def cleanup(self) -> int:
        return self.counters.cleanup(time.time())
