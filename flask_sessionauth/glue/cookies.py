"""Writing our cookies: the session cookie and the cookie-cache cookie share
one writer, so their attributes can never drift apart."""

from __future__ import annotations

import typing as t

from flask.wrappers import Response

from ..core.config import Settings
from ..storage.cookie_cache import CachedRecord
from ..storage.cookie_cache import CookieCache

if t.TYPE_CHECKING:
    from .state import RequestState


def write_cookie(
    response: Response, settings: Settings, name: str, value: str | None, max_age: int | None = None
) -> None:
    """Set (or, for ``None``, clear) one of our cookies with the session
    cookie's attributes; such a response must never be cached."""
    if value is None:
        response.delete_cookie(
            name, path="/", secure=settings.cookie_secure, httponly=True, samesite=settings.cookie_samesite
        )
    else:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=settings.cookie_secure,
            httponly=True,
            samesite=settings.cookie_samesite,
        )
    response.headers["Cache-Control"] = "no-store"
    vary_cookie(response)


def vary_cookie(response: Response) -> None:
    """Add ``Vary: Cookie`` without ``response.vary`` (trick #10: that property
    parses the header into a callback-backed set and re-serialises it, ~17k
    instructions per request; this reads one header)."""
    headers = response.headers
    vary = headers.get("Vary")
    if not vary:
        headers["Vary"] = "Cookie"
    elif vary.strip() != "*" and "cookie" not in (v.strip().lower() for v in vary.split(",")):
        headers["Vary"] = f"{vary}, Cookie"


def write_cache_cookie(
    response: Response, state: RequestState, cache: CookieCache, cookies: t.Mapping[str, str]
) -> None:
    """Issue the cache cookie after a storage-verified request; drop it with the
    session. It lives like the session cookie: a browser-session cookie when
    the session is not remembered (its signature still expires in ``max_age``)."""
    settings = state.app_state.settings
    record = state.record
    if isinstance(record, CachedRecord):
        return
    if record is None:
        # Only with the session cookie itself: requests that never looked at
        # the session (static files, an outage) leave the cache cookie alone.
        if cache.name not in cookies or state.cookie is None or state.cookie.value is not None:
            return
        write_cookie(response, settings, cache.name, None)
    else:
        write_cookie(response, settings, cache.name, cache.dump(record), cache.max_age if record.remember else None)
