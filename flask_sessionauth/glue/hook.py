"""The request hook: find the session cookie, validate it, remember the result.

Thin glue over :func:`flask_sessionauth.services.sessions.validate`; the
only decisions here are Flask's (which cookie, which view).
"""

from __future__ import annotations

import logging
import typing as t

from flask import current_app
from flask import flash
from flask import g
from flask import has_request_context
from flask import request
from flask import session
from flask.wrappers import Response

from ..core import lifecycle
from ..core import messages
from ..core import tokens
from ..core.errors import StorageUnavailable
from ..services.sessions import validate
from ..storage.cookie_cache import CachedRecord
from ..storage.cookie_cache import CookieCache
from .cookies import session_cookie_name
from .cookies import vary_cookie
from .cookies import write_cache_cookie
from .cookies import write_cookie
from .responses import wants_json
from .state import STATE_KEY
from .state import CookieAction
from .state import RequestState

log = logging.getLogger("flask_sessionauth")

#: View attribute set by :func:`flask_sessionauth.sensitive`: never trust the cookie cache.
SENSITIVE_ATTR = "_sessionauth_sensitive"
#: Flask session key: the id of the gone session this browser's cookie named
#: (the sign-in page tells when and from which device it was signed out).
GONE_KEY = "_sessionauth_gone"


def session_cookie_value(name: str, environ: t.Mapping[str, t.Any] | None = None) -> str | None:
    """The session cookie's value, or ``None``; ``""`` if it is ambiguous.

    The raw ``Cookie`` header is split the way browsers write it (``; ``
    between pairs; a browser never puts ``;`` in a value) and names are
    compared exactly. Two cookies of our name mean a sibling domain planted
    one (cookie tossing): that fails closed. Look-alike names
    (``x__Host-sessionauth``) are someone else's cookies.
    """
    # The WSGI value itself (cheap: no EnvironHeaders object per request).
    raw = (request.environ if environ is None else environ).get("HTTP_COOKIE")
    if not raw or name not in raw:
        return None
    found: str | None = None
    for pair in raw.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            if found is not None:
                return ""
            found = value.strip()
    return found


def is_sensitive() -> bool:
    """Whether this request's view reads storage always (``@sensitive``)."""
    endpoint = request.endpoint
    if endpoint is None:
        return False
    view = current_app.view_functions.get(endpoint)
    return getattr(view, SENSITIVE_ATTR, False)


def _is_static() -> bool:
    endpoint = request.endpoint
    return endpoint is not None and endpoint.rpartition(".")[2] == "static"


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_warned_hosts: set[str] = set()


def insecure_transport() -> str | None:
    """Why sign-in cannot work on this request, if it cannot: ``Secure`` cookies
    over plain HTTP to a host browsers do not treat as secure (only loopback
    is) are dropped, so every sign-in would loop. ``None`` when all is well."""
    settings = current_app.extensions[STATE_KEY].settings
    if not settings.cookie_secure or request.scheme != "http":
        return None
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if host in _LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost"):
        return None
    return (
        f"Sign-in cannot work at http://{request.host}: the session cookie is Secure (SESSIONAUTH_COOKIE_SECURE), "
        "and browsers drop Secure cookies sent over plain HTTP except on localhost. Serve the app over HTTPS "
        "(behind a proxy, install ProxyFix), or set SESSIONAUTH_COOKIE_SECURE = False for local development only."
    )


def _warn_insecure_transport() -> None:
    message = insecure_transport()
    if message is not None and request.host not in _warned_hosts:
        _warned_hosts.add(request.host)
        log.warning("flask-sessionauth: %s", message)


def before_request() -> None:
    state = RequestState(current_app.extensions[STATE_KEY])
    g._sessionauth = state
    if request.method == "POST" and request.scheme == "http":
        _warn_insecure_transport()
    environ = request.environ
    if environ.get("SCRIPT_NAME"):
        state.cookie_name = session_cookie_name(state, environ)
    value = session_cookie_value(state.cookie_name, environ)
    if value is None or _is_static():
        return
    token = tokens.parse(value)
    if token is None:
        state.clear()  # malformed, or two cookies of our name: anonymous, cookie cleared
        return
    authenticate_request(state, token, use_cache=not is_sensitive())


def authenticate_request(state: RequestState, token: tokens.Token, *, use_cache: bool) -> None:
    """Validate ``token`` and fill ``state``."""
    app_state = state.app_state
    cached = None
    cache = app_state.cookie_cache
    if cache is not None and use_cache:
        cache.set_keys(_secret_keys())
        cached = cache.load(request.cookies.get(state.cookie_name + "_cache"), token)
    now = lifecycle.utcnow()
    result = validate(token, now, app_state.store, app_state.settings, cached)
    if result.record is None:
        state.clear()
        _say_signed_out(token.session_id)
        return
    state.set_record(result.record)
    if result.extended:
        state.cookie = CookieAction(token.value, lifecycle.cookie_max_age(result.record, now))


def _say_signed_out(session_id: str) -> None:
    """A well-formed cookie whose session is gone (revoked from another device, expired):
    tell the person on the next page, usually the sign-in page ``login_required`` sends
    them to, once. Pages only: an API client gets its 401 and no Flask session. The text
    is fixed, so a forged cookie can make it appear but never say anything else."""
    if wants_json():
        return
    session[GONE_KEY] = session_id
    if any(message == messages.SIGNED_OUT_ELSEWHERE for _, message in session.get("_flashes", ())):
        return
    flash(str(messages.SIGNED_OUT_ELSEWHERE), "info")


def verify_with_storage(state: RequestState) -> None:
    """Re-check a session that came from the cookie cache against storage.

    Sensitive decisions (sudo mode, management calls for the current user)
    call this, so a revoked session can never use them during the cache's
    max-age.
    """
    if not isinstance(state.record, CachedRecord):
        return
    token = tokens.parse(session_cookie_value(state.cookie_name))
    if token is None:
        state.clear()
        return
    authenticate_request(state, token, use_cache=False)


def after_request(response: Response) -> Response:
    state: RequestState | None = g.get("_sessionauth")
    if state is None:
        return response
    app_state = state.app_state
    settings = app_state.settings
    cookie = state.cookie
    if cookie is not None:
        write_cookie(response, settings, state.cookie_name, cookie.value, cookie.max_age)
        # Not with a browser-session cookie: "remember me" off leaves nothing lasting.
        if state.device_cookie is not None and cookie.max_age is not None:
            app_state.devices.write(response, state.device_cookie)
    elif state.accessed:
        vary_cookie(response)
    cache = app_state.cookie_cache
    if cache is not None and _cache_keys_ready(cache, state):
        write_cache_cookie(response, state, cache, request.cookies)
    if state.signed_out and app_state.clear_site_data:
        response.headers["Clear-Site-Data"] = app_state.clear_site_data
    return response


def _cache_keys_ready(cache: CookieCache, state: RequestState) -> bool:
    """Derive the cache's keys when this response signs a record. Only then:
    the first derivation reads the deployment id, which an anonymous request
    must never need. ``False`` if storage could not tell it (logged): the
    cookie is then not issued, and the next request reads storage."""
    if state.record is None or isinstance(state.record, CachedRecord):
        return True
    try:
        cache.set_keys(_secret_keys())
    except StorageUnavailable:
        return False
    return True


def request_state() -> RequestState | None:
    """This request's state; ``None`` outside a request.

    In a request context whose before-request hooks did not run (a bare
    ``app.test_request_context()``, a shell), the hook runs now, so the API
    behaves the same there as in a real request.
    """
    # Trick #7: one attribute read of ``g`` on the hot path (the hook set it
    # in this request's app context) instead of has_request_context() + g.get().
    try:
        return t.cast(RequestState, g._sessionauth)
    except (AttributeError, RuntimeError):
        pass
    if not has_request_context():
        return None
    if STATE_KEY not in current_app.extensions:
        return None
    before_request()
    return t.cast("RequestState | None", g.get("_sessionauth"))


def _secret_keys() -> tuple[t.Any, ...]:
    config = current_app.config
    return (config["SECRET_KEY"], *reversed(config.get("SECRET_KEY_FALLBACKS") or ()))
