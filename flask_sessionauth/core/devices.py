"""Known-device cookies (OWASP, "Slow down online guessing attacks with
device cookies"): proof that this browser signed in to an account before.

The value is ``<nonce>.<mac>``: a random nonce and
``HMAC-SHA256(key, SHA-256(account) || nonce)``, the key derived from
``SECRET_KEY``. The account is only hashed into the MAC, never written in the
cookie, so the cookie names nobody; it verifies only together with the
account being signed in to. The rate limiter gives a verified nonce its own
failure counter instead of the limits strangers can fill.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from .records import normalize_email

_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")
#: base64url of 32 bytes, no padding.
_MAC = re.compile(r"[A-Za-z0-9_-]{43}")


def _mac(key: bytes, nonce: str, identity: str) -> str:
    account = hashlib.sha256(normalize_email(identity).encode("utf-8", "surrogatepass")).digest()
    digest = hmac.new(key, b"device\x00" + account + nonce.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(key: bytes, identity: str, nonce: str | None = None) -> str:
    """A device cookie value for ``identity`` (a new nonce unless given)."""
    nonce = nonce or secrets.token_urlsafe(16)
    return f"{nonce}.{_mac(key, nonce, identity)}"


def nonce_of(key: bytes, value: object, identity: object) -> str | None:
    """The nonce of ``value`` if it is a device cookie for ``identity``
    (strictly parsed), else ``None``."""
    if not isinstance(value, str) or not isinstance(identity, str) or not identity.strip():
        return None
    nonce, _, mac = value.partition(".")
    if not _NONCE.fullmatch(nonce) or not _MAC.fullmatch(mac):
        return None
    if not hmac.compare_digest(_mac(key, nonce, identity), mac):
        return None
    return nonce
