"""The cookie cache (``SESSIONAUTH_COOKIE_CACHE_MAX_AGE`` seconds, 0 = off).

A second cookie, ``<session cookie name>_cache`` with the same attributes,
carries a signed copy of the session record, so a request presenting a fresh
one skips storage entirely. It is:

* authenticated with keyed BLAKE2b under a key derived from the app's
  ``SECRET_KEY``; keys listed in ``SECRET_KEY_FALLBACKS`` still verify
  (rotation: the new key signs);
* bound to the session cookie: it names the session id, and its MAC covers
  the hash of the session's secret, so it verifies only beside the session
  cookie it was issued with. It holds neither the secret nor its hash;
* short-lived: its issue time (inside the MAC) must be at most ``max_age`` old;
* bound to the deployment: the key derivation takes the deployment id
  (:mod:`.deployment`: one per database and tables, the same in every
  process whatever its URL spelling or key set) with the secret key, so a
  cache cookie of another app, even one sharing the ``SECRET_KEY`` (current
  or fallback), never verifies here, while every process of this one does.

**Enabling the cache makes ``SECRET_KEY`` (and every key in
``SECRET_KEY_FALLBACKS``) an impersonation key**: whoever holds one can mint a
cache cookie for any user that is accepted without a database row for up to
``max_age`` seconds. Keep the cache off unless storage latency matters, keep
``max_age`` short, and retire fallback keys promptly.

The price is the revocation delay: a revoked session keeps working on a
device that holds a fresh cache cookie for at most ``max_age`` seconds
(documented, and tested). Sensitive actions never rely on it: the
extension's own pages and API always read storage, and so do
:meth:`SessionAuth.is_fresh` (sudo mode) and the management calls acting on
the current user (see :func:`flask_sessionauth.glue.hook.verify_with_storage`),
and so does every view marked :func:`flask_sessionauth.sensitive`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import time
import typing as t

from ..core import tokens
from ..core.records import SessionRecord

SALT = b"flask-sessionauth.cookie-cache.v2"  # the BLAKE2b key of the key derivation
_MAC_BYTES = 16  # 128-bit tag
_VERSION = "3"  # 3: location and device name (version 2 cookies are misses)
_new = tuple.__new__  # a NamedTuple from a tuple, without the keyword constructor
_fromisoformat = dt.datetime.fromisoformat


class CachedRecord(SessionRecord):
    """A record taken from the cookie cache: not checked against storage in
    this request (so it may be up to ``max_age`` seconds stale)."""

    __slots__ = ()


class CookieCache:
    """Reads and writes the cache cookie of one app.

    The value is ``payload . MAC``: ``payload`` is the record as
    ``~``-separated fields (issue time first; timestamps in ISO form; IP,
    User-Agent, region, city and device name base64url; no secret hash), all cookie-safe characters, and
    the MAC is keyed BLAKE2b (128 bits, under a key derived once per
    ``SECRET_KEY`` and deployment id) over the payload *and* SHA-256 of
    the session cookie's secret.

    Trick #13 (vs itsdangerous over base64 JSON): ~100k instructions per
    hit: no per-call key derivation, a one-call keyed hash instead of an HMAC
    construction, and ``str.split`` plus ``fromisoformat`` instead of base64
    + JSON + list fix-ups.
    """

    def __init__(self, session_cookie_name: str, max_age: int, identity: str | t.Callable[[], str]) -> None:
        self.name = f"{session_cookie_name}_cache"
        self.max_age = max_age
        #: The deployment id, or how to get it (asked once, on first use).
        self._identity_of = identity
        self._secrets: tuple[t.Any, ...] = ()
        self._keys: list[bytes] = []

    def set_keys(self, secrets: tuple[t.Any, ...]) -> None:
        """The app's ``SECRET_KEY`` then its fallbacks; MAC keys are derived
        again only when they change (key rotation), not per request. The
        first derivation reads the deployment id (may raise ``StorageUnavailable``)."""
        if secrets != self._secrets:
            if not secrets or not secrets[0]:
                raise RuntimeError("SESSIONAUTH_COOKIE_CACHE_MAX_AGE needs the app's SECRET_KEY.")
            found = self._identity_of
            raw = (found if isinstance(found, str) else found()).encode()
            identity = b"%d:%s" % (len(raw), raw)
            self._keys = [
                hashlib.blake2b(
                    identity + (k.encode() if isinstance(k, str) else bytes(k)), key=SALT, digest_size=64
                ).digest()
                for k in secrets
            ]
            self._secrets = secrets

    def load(self, value: str | None, token: tokens.Token) -> CachedRecord | None:
        """The record in ``value`` if it is genuine, fresh and was issued with
        ``token``'s session cookie; else ``None``."""
        if not value or len(value) > 4096:
            return None
        payload, _, mac = value.rpartition(".")
        secret_hash = tokens.hash_secret(token.secret)
        message = f"{payload}.{secret_hash}".encode()
        presented = _strict_mac(mac)
        if presented is None:
            return None
        for key in self._keys:
            if hmac.compare_digest(_mac(key, message), presented):
                break
        else:
            return None
        f = payload.split("~")
        if len(f) != 16 or f[0] != _VERSION:
            return None
        try:
            if not 0 <= time.time() - int(f[1]) <= self.max_age:
                return None
            uid = f[3]
            record = _new(
                CachedRecord,
                (
                    f[2],
                    int(uid) if uid[:1] != "'" else _unb64(uid[1:]),
                    secret_hash,  # the MAC proved it: evaluate() checks the secret against it
                    f[4] == "1",
                    _fromisoformat(f[5]),
                    _fromisoformat(f[6]),
                    _fromisoformat(f[7]),
                    _fromisoformat(f[8]) if f[8] else None,
                    _fromisoformat(f[9]) if f[9] else None,
                    _unb64(f[10]) if f[10] else None,
                    _unb64(f[11]) if f[11] else None,
                    f[12] or None,
                    _unb64(f[13]) if f[13] else None,
                    _unb64(f[14]) if f[14] else None,
                    _unb64(f[15][:-1]) if len(f[15]) > 1 else None,
                    f[15][-1:] == "1",
                ),
            )
        except (TypeError, ValueError, binascii.Error):
            return None
        # Bound to this session cookie: the id must match here (the MAC
        # already covered the secret's hash).
        if record.id != token.session_id:
            return None
        return record

    def dump(self, record: SessionRecord) -> str:
        uid = record.user_id
        fields = [
            _VERSION,
            str(int(time.time())),
            record.id,
            str(uid) if isinstance(uid, int) and not isinstance(uid, bool) else "'" + _b64(str(uid)),
            "1" if record.remember else "0",
            record.expires_at.isoformat(),
            record.created_at.isoformat(),
            record.updated_at.isoformat(),
            record.last_active_at.isoformat() if record.last_active_at else "",
            record.authenticated_at.isoformat() if record.authenticated_at else "",
            _b64(record.ip_address) if record.ip_address else "",
            _b64(record.user_agent) if record.user_agent else "",
            record.country or "",
            _b64(record.region) if record.region else "",
            _b64(record.city) if record.city else "",
            # The active flag rides on the last field (one split fewer).
            (_b64(record.device_name) if record.device_name else "") + ("1" if record.user_active else "0"),
        ]
        payload = "~".join(fields)
        mac = _mac(self._keys[0], f"{payload}.{record.secret_hash}".encode())
        return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


#: Unpadded base64url of a 16-byte MAC: 22 characters, the last of which
#: carries 2 bits of the MAC and 4 zero bits (so only A, Q, g or w).
_MAC_CHARS = 22


def _strict_mac(text: str) -> bytes | None:
    """The MAC in ``text`` if ``text`` is exactly what :meth:`CookieCache.dump`
    writes, else ``None``. ``urlsafe_b64decode`` alone would also take padding,
    other trailing bits and stray characters (it skips them), so one MAC would
    have many spellings; decoding then encoding again allows only one."""
    if len(text) != _MAC_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "==")
    except (binascii.Error, ValueError):
        return None
    return raw if base64.urlsafe_b64encode(raw).rstrip(b"=") == text.encode() else None


def _mac(key: bytes, message: bytes) -> bytes:
    return hashlib.blake2b(message, key=key, digest_size=_MAC_BYTES).digest()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
