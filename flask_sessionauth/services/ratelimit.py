"""Brute-force limits on password guesses, shaped so an attacker cannot lock
the owner out (OWASP Authentication Cheat Sheet, "account lockout", and
"device cookies").

Fixed-window failure counters, checked before any hashing so a locked-out
client costs nothing:

* per **(account, client address)**, tight (``SESSIONAUTH_RATE_LIMIT_ACCOUNT``,
  5): guessing one account from one place stops quickly;
* per **account**, loose (``SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL``, 100): a
  distributed guess stops too;
* per **client address** (``SESSIONAUTH_RATE_LIMIT_IP``, 20), and for IPv6
  per /48 as well (``SESSIONAUTH_RATE_LIMIT_IPV6_48``, 60): one client, or
  one network, spraying many accounts;
* per **known device** (``SESSIONAUTH_RATE_LIMIT_DEVICE``, 10): a browser
  holding a device cookie of the account (:mod:`..core.devices`) is judged
  by its own counter only, never by the counters above that strangers can
  fill. Over its limit the cookie is not trusted for the rest of the window
  and the ordinary limits apply.

A signed-in owner re-entering the password (sudo confirm, password change) is
limited per **(account, session)** and, with a higher limit, per address
(``SESSIONAUTH_RATE_LIMIT_REAUTH_IP``, 50). New sessions are counted per
address (``SESSIONAUTH_RATE_LIMIT_SESSIONS_IP``, 30); a known device is
refused only by its own count (``SESSIONAUTH_RATE_LIMIT_DEVICE``). Nonces come
from sign-ins, so one address gets at most 30 new devices, and
30 × (1 + 10) sessions, per window.

Only failures (and new sessions) count; a correct password clears that
account's pair, session and device counters. Keys are HMAC-SHA256 under a key
derived from ``SECRET_KEY``, so the counter table holds nothing a dump could
reverse into emails or addresses. Addresses are reduced to buckets first
(:mod:`..core.addresses`): a request with no address is keyed ``unknown``
and an unparsable one ``unparsable``, each logged once.

Guesses already in flight when a limit is reached still get their answer: a
burst can exceed a limit by at most the server's concurrency, once per window.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import logging
import math
import time
import typing as t

from ..core.addresses import UNKNOWN
from ..core.addresses import UNPARSABLE
from ..core.addresses import buckets
from ..core.errors import RateLimited
from ..core.records import Client
from ..core.records import normalize_email

if t.TYPE_CHECKING:
    from ..storage.throttle import Counters

log = logging.getLogger("flask_sessionauth")

PAIR = "pair"
ACCOUNT = "account"
ADDRESS = "ip"
NETWORK = "ip48"
SESSION = "session"
DEVICE = "device"
REAUTH_ADDRESS = "reauth_ip"
REAUTH_NETWORK = "reauth_ip48"
NEW_SESSIONS = "sessions_ip"
DEVICE_SESSIONS = "device_sessions"
UNKNOWN_ADDRESS = UNKNOWN
#: Counters anyone can fill: a trusted known device is not refused by them.
FILLABLE = frozenset({PAIR, ACCOUNT, ADDRESS, NETWORK, REAUTH_ADDRESS, REAUTH_NETWORK, NEW_SESSIONS})
#: Kinds whose limit is another kind's.
SHARED_LIMIT = {SESSION: PAIR, DEVICE_SESSIONS: DEVICE, REAUTH_NETWORK: NETWORK}
_WARNINGS = {
    UNKNOWN: "a request has no client address (a UNIX socket?); all such requests share one rate-limit bucket. "
    "Behind a proxy, set SESSIONAUTH_TRUSTED_PROXIES (Werkzeug's ProxyFix).",
    UNPARSABLE: "a client address could not be parsed; all such requests share one rate-limit bucket. "
    "Check what your proxy or server puts in REMOTE_ADDR (SESSIONAUTH_TRUSTED_PROXIES).",
}
#: Failures remembered (per process) to notice one address carrying most of them.
RECENT_FAILURES = 200


class Key(t.NamedTuple):
    """One counter: its kind, its storage key (an HMAC) and, for address
    counters, the bucket (for a log line, never stored)."""

    kind: str
    name: str
    label: str = ""


def client_bucket(address: str | None) -> str:
    """The bucket of a client address (see :mod:`..core.addresses`)."""
    return buckets(address).client


class Limiter:
    """The policy above over storage :class:`Counters`."""

    def __init__(self, counters: Counters, limits: t.Mapping[str, int | None], window: int, secret: bytes) -> None:
        self.counters = counters
        self.limits = {kind: int(limit) for kind, limit in limits.items() if limit}
        self.window = int(window)
        self._secret = secret
        self._warned: set[str] = set()
        self._recent: collections.deque[str] = collections.deque(maxlen=RECENT_FAILURES)

    def key(self, kind: str, *parts: str) -> Key:
        message = "\x00".join((kind, *parts)).encode("utf-8", "surrogatepass")
        label = parts[-1] if kind in (ADDRESS, REAUTH_ADDRESS) and parts else ""
        return Key(kind, f"{kind}:{hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:48]}", label)

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("flask-sessionauth: %s", message)

    def _buckets(self, client: Client | None) -> tuple[str, str | None]:
        found = buckets(client.ip_address if client is not None else None)
        if found.client in _WARNINGS:
            self._warn_once(found.client, _WARNINGS[found.client])
        return found.client, found.network

    def _address_keys(self, client: Client | None, kinds: tuple[str, str]) -> list[Key]:
        own, network = self._buckets(client)
        keys = [self.key(kinds[0], own)]
        if network is not None:
            keys.append(self.key(kinds[1], network))
        return keys

    def _device_key(self, kind: str, account: str, device: str | None) -> list[Key]:
        return [self.key(kind, account, device)] if device else []

    def sign_in_keys(self, identity: str | None, client: Client, device: str | None = None) -> list[Key]:
        """``device``: the nonce of a device cookie already verified for ``identity``."""
        keys = self._address_keys(client, (ADDRESS, NETWORK))
        if isinstance(identity, str) and identity.strip():
            account = normalize_email(identity)
            keys += [self.key(PAIR, account, keys[0].label), self.key(ACCOUNT, account)]
            keys += self._device_key(DEVICE, account, device)
        return keys

    def reauth_keys(self, identity: str, session_id: str | None, client: Client | None = None) -> list[Key]:
        """Per session, and per address with its own limit. No device exemption
        here: nonces are cheap for a signed-in attacker (one per sign-in), and
        a fresh sign-in, which a known device always gets, satisfies sudo mode."""
        if session_id is None:
            return []
        keys = [self.key(SESSION, normalize_email(identity), session_id)]
        if client is not None:
            keys += self._address_keys(client, (REAUTH_ADDRESS, REAUTH_NETWORK))
        return keys

    def session_keys(self, identity: str, client: Client, device: str | None = None) -> list[Key]:
        """The counters of a new session: per address, or per known device."""
        keys = [self.key(NEW_SESSIONS, self._buckets(client)[0])]
        return keys + self._device_key(DEVICE_SESSIONS, normalize_email(identity), device)

    def check(self, keys: list[Key]) -> list[Key]:
        """Raise :class:`RateLimited` if a counter that applies reached its
        limit; else the keys for :meth:`failed` or :meth:`succeeded`. Call
        before hashing. A device key under its limit makes the fillable
        counters not apply (they still count); over it, it is dropped."""
        keys = [key for key in keys if self._limit(key) is not None]
        if not keys:
            return keys
        counts = self.counters.peek([k.name for k in keys], time.time())
        over = {
            key: wait for key, (count, wait) in zip(keys, counts, strict=True) if count >= t.cast(int, self._limit(key))
        }
        devices = [key for key in keys if key.kind in (DEVICE, DEVICE_SESSIONS)]
        trusted = bool(devices) and not any(key in over for key in devices)
        if not trusted:
            keys = [key for key in keys if key not in devices]
        waits = [wait for key, wait in over.items() if key in keys and not (trusted and key.kind in FILLABLE)]
        if waits:
            raise RateLimited(max(1, math.ceil(max(waits))))
        return keys

    def _limit(self, key: Key) -> int | None:
        return self.limits.get(SHARED_LIMIT.get(key.kind, key.kind))

    def failed(self, keys: list[Key]) -> list[Key]:
        """Count a failure (or, for the session counters, a new session); the
        keys this failure just brought to their limit (``rate_limited`` is sent
        for those, once: the refused attempts after it cost no write)."""
        if not keys:
            return []
        counts = self.counters.increment([k.name for k in keys], time.time())
        reached = [key for key, (count, _) in zip(keys, counts, strict=True) if count == self._limit(key)]
        for key, (count, _) in zip(keys, counts, strict=True):
            if key.kind == ADDRESS:
                self._recent.append(key.label)
                if count == self.limits.get(ADDRESS) and key.label not in _WARNINGS:
                    self._notice_hot_address(key.label)
        return reached

    def _notice_hot_address(self, label: str) -> None:
        """One address at its limit and carrying most recent failures is often
        a proxy whose clients all share its bucket: say so, once."""
        share = self._recent.count(label)
        if share * 2 > len(self._recent):
            self._warn_once(
                "hot",
                f"client address {label} reached the per-address limit and carries {share} of the last "
                f"{len(self._recent)} failed password checks. If it is a reverse proxy, every client behind it "
                "is now refused: set SESSIONAUTH_TRUSTED_PROXIES.",
            )

    def succeeded(self, keys: list[Key]) -> None:
        """A right password forgives this client's (session's, device's)
        failures on the account. The account-wide and address counters keep
        theirs: those failures were real, whoever made them."""
        clear = [k.name for k in keys if k.kind in (PAIR, SESSION, DEVICE)]
        if clear:
            self.counters.clear(clear)

    def cleanup(self) -> int:
        return self.counters.cleanup(time.time())
