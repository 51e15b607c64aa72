"""Split tokens: a public id and a secret of which only a hash is stored.

The cookie value is ``<id>.<secret>``. The id (128 bits) finds the row and is
safe to show in URLs and forms; the secret (256 bits) proves possession. Only
SHA-256(secret) is stored, so a leaked table cannot be replayed as cookies, and
a fast hash suffices because the secret has full entropy (no dictionary attack).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import typing as t

ID_BYTES = 16
SECRET_BYTES = 32
#: base64url lengths without padding: 16 bytes -> 22 chars, 32 bytes -> 43 chars.
ID_LENGTH = 22
SECRET_LENGTH = 43
_TOKEN_RE = re.compile(r"([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})")
_ID_RE = re.compile(r"[A-Za-z0-9_-]{22}")


class Token(t.NamedTuple):
    session_id: str
    secret: str

    @property
    def value(self) -> str:
        """The cookie value."""
        return f"{self.session_id}.{self.secret}"


def generate() -> Token:
    return Token(secrets.token_urlsafe(ID_BYTES), secrets.token_urlsafe(SECRET_BYTES))


def parse(value: str | None) -> Token | None:
    """Return the token in a cookie value, or ``None`` for anything malformed.

    Strict full-match parsing means oversized, multi-part, NUL or non-ASCII
    values never reach the database.
    """
    if not value or len(value) != ID_LENGTH + 1 + SECRET_LENGTH:
        return None
    match = _TOKEN_RE.fullmatch(value)
    if match is None:
        return None
    return Token(match.group(1), match.group(2))


def is_session_id(value: object) -> bool:
    """Whether ``value`` has the shape of a public session id."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def verify_secret(secret: str, secret_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)
