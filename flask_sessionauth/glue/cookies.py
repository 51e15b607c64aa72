"""Writing our cookies: the session cookie and the cookie-cache cookie share
one writer, so their attributes can never drift apart."""

from __future__ import annotations

import functools
import typing as t
from urllib.parse import quote

from flask.wrappers import Response

from ..core.config import Settings
from ..storage.cookie_cache import CachedRecord
from ..storage.cookie_cache import CookieCache

if t.TYPE_CHECKING:
    from .state import RequestState


@functools.lru_cache(maxsize=64)
def mounted_name(name: str, script_name: str) -> str:
    """``name`` for an app served under ``script_name`` (``request.script_root``).

    A ``__Host-`` cookie must have ``Path=/``, so two apps on one host (at
    ``/a`` and ``/b``: ``DispatcherMiddleware``, a proxy prefix) would share it
    and sign each other out. Under a mount point the name gains it, quoted:
    ``__Host-sessionauth-a``, ``__Host-session-a%2Fb`` for ``/a/b``. Quoting
    the path's bytes (all but letters, digits and ``_.-~`` as ``%XX``; ``%``
    is a cookie-name character) keeps distinct mount points apart and the
    name valid. The app at the root keeps ``name``. Cached: the mount point comes
    from the server, rarely more than a few per process (bounded all the same).
    """
    root = script_name.rstrip("/")
    if not root:
        return name
    raw = root[1:] if root[0] == "/" else root
    # WSGI strings carry the path's bytes as latin-1: quote those bytes.
    return f"{name}-{quote(raw.encode('latin-1', 'backslashreplace'), safe='')}"


def session_cookie_name(state: RequestState, environ: t.Mapping[str, t.Any]) -> str:
    """This request's session cookie name: per mount point unless the app set
    ``SESSIONAUTH_COOKIE_NAME`` (two mounts then share the session on purpose)."""
    app_state = state.app_state
    name = app_state.settings.cookie_name
    if app_state.cookie_name_per_mount:
        script_name = environ.get("SCRIPT_NAME")
        if script_name:
            return mounted_name(name, script_name)
    return name


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
    cache_name = state.cookie_name + "_cache"
    record = state.record
    if isinstance(record, CachedRecord):
        return
    if record is None:
        # Only with the session cookie itself: requests that never looked at
        # the session (static files, an outage) leave the cache cookie alone.
        if cache_name not in cookies or state.cookie is None or state.cookie.value is not None:
            return
        write_cookie(response, settings, cache_name, None)
    else:
        write_cookie(response, settings, cache_name, cache.dump(record), cache.max_age if record.remember else None)
