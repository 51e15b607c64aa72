"""Password formats outside passlib's schemes, verified like any other.

Besides the passlib schemes, Werkzeug's ``generate_password_hash`` formats
(``scrypt:32768:8:1$salt$hex``, ``pbkdf2:sha256:600000$salt$hex``, the
Flask-Login default) verify through Werkzeug's own constant-time
``check_password_hash`` and always ask for an upgrade. An app adds its own
format with::

    hasher.register_legacy(
        identify=lambda stored: stored.startswith("md5$"),   # is this hash mine?
        verify=lambda password, stored: my_check(password, stored),  # constant-time!
        name="md5-salted",
        cost_key=None,    # or stored -> hashable cost parameters, one floor class each
        max_bytes=None,   # the longest password (UTF-8 bytes) the format takes without truncating
    )

or passes ``LegacyVerifier`` objects as ``legacy_verifiers=``. App-registered
verifiers are tried, in order, before the built-in Werkzeug one and after
the configured passlib schemes. A legacy verifier must compare in constant
time; its cost is measured and padded like every other. It may raise (that
is a logged failure); it must not truncate passwords.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

import werkzeug.security


@dataclasses.dataclass(frozen=True)
class LegacyVerifier:
    """A password format outside passlib's configured schemes.

    ``identify(stored)`` says whether a stored hash is in this format (it must
    be cheap and must not raise for foreign input; if it does, the verifier is
    skipped). ``verify(password, stored)`` checks a password in constant time.
    ``cost_key(stored)`` returns the format's cost parameters so hashes of
    different strength are timed as separate classes (default: one class).
    ``max_bytes`` is the longest UTF-8 password the format verifies without
    truncating; longer ones fail at the cost of a wrong password.
    """

    name: str
    identify: t.Callable[[str], bool]
    verify: t.Callable[[str, str], bool]
    cost_key: t.Callable[[str], t.Hashable] | None = None
    max_bytes: int | None = None


# Werkzeug: ``method$salt$hexdigest``; the caps keep a corrupt row from asking
# for gigabytes of scrypt memory or hours of PBKDF2 (it fails closed instead).
_WERKZEUG = re.compile(
    r"(?P<method>scrypt(?::(?P<n>\d{1,8}):(?P<r>\d{1,3}):(?P<p>\d{1,3}))?"
    r"|pbkdf2(?::[A-Za-z0-9_]{1,20}(?::(?P<iterations>\d{1,9}))?)?)"
    r"\$[^$]{1,128}\$[0-9a-f]{16,256}"
)


def _werkzeug_identify(stored: str) -> bool:
    match = _WERKZEUG.fullmatch(stored)
    if match is None:
        return False
    n, r, p, iterations = (int(match[g] or 0) for g in ("n", "r", "p", "iterations"))
    return n <= 2**20 and r <= 32 and p <= 16 and iterations <= 10_000_000


def _werkzeug_verify(password: str, stored: str) -> bool:
    return bool(werkzeug.security.check_password_hash(stored, password))


def _werkzeug_cost(stored: str) -> t.Hashable:
    return stored.split("$", 1)[0]


#: Werkzeug's ``generate_password_hash`` formats (Flask-Login apps), built in.
WERKZEUG = LegacyVerifier("werkzeug", _werkzeug_identify, _werkzeug_verify, cost_key=_werkzeug_cost)


def werkzeug_hash(password: str, method: str = "scrypt") -> str:
    """A hash in Werkzeug's format, for apps whose own code still calls
    ``check_password_hash`` (``SESSIONAUTH_PASSWORD_UPGRADE`` off)."""
    return werkzeug.security.generate_password_hash(password, method)
