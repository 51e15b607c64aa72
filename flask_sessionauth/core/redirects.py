"""Open-redirect protection for ``next`` parameters."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

_F = t.TypeVar("_F", str, None)


def is_safe_redirect(target: str | None) -> bool:
    """Only same-site absolute paths are followed: ``/x`` but not ``//evil``, ``/\\evil``
    or ``https://evil``. Browsers treat backslashes as slashes and drop tabs and
    newlines, so those are refused outright.
    """
    if not target or not isinstance(target, str) or len(target) > 2048:
        return False
    if any(c in target for c in "\\\t\r\n\x00") or any(ord(c) < 32 for c in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_redirect(target: str | None, fallback: _F) -> str | _F:
    """``target`` if it is safe to redirect to, else ``fallback``."""
    return target if target is not None and is_safe_redirect(target) else fallback
