"""Cross-site request defences shared by the pages and the JSON API.

The pages, on every state-changing request:

1. **Same origin** (:func:`check_same_origin`), as Go's ``net/http``
   ``CrossOriginProtection`` and OWASP's Fetch Metadata guidance do it: a
   browser's ``Sec-Fetch-Site`` must say ``same-origin`` (or ``none``, a
   user-typed navigation); without it, an ``Origin`` header must equal this
   site's origin. An ``Origin`` listed in ``SESSIONAUTH_TRUSTED_ORIGINS`` is
   allowed either way. A request with neither header does not come from a
   browser that could carry a victim's cookies cross-site, so it passes to the
   token check. A sibling subdomain is *same-site* but not *same-origin*, so
   its forms cannot sign a victim in (login CSRF) or out.
2. **CSRF token** (:func:`check_csrf_token`): Flask-WTF's signed token from
   the form field or a CSRF header. Its secret is rotated whenever a session
   is created or rotated (:func:`rotate_csrf_secret`), so a token planted
   before sign-in is worthless after it.

The JSON API needs no token (Better Auth's client sends none; docs/api.md
says why): :func:`check_api_origin` is stricter instead. A call must say where
it comes from (an exact allowed ``Origin``, or ``Sec-Fetch-Site: same-origin``
without one), and the API's few GET routes that change state also refuse
navigations and ``no-cors`` loads (:func:`check_fetch_mode`).
"""

from __future__ import annotations

from flask import current_app
from flask import g
from flask import request
from flask import session
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import host_is_trusted
from wtforms.validators import ValidationError

from ..core.errors import CrossOriginRequest
from ..core.errors import MissingOrigin
from ..core.errors import StateChangingNavigation
from .hook import insecure_transport
from .state import app_state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")


def own_origin() -> str:
    """This site's origin, from the request's ``Host``. A DNS-rebinding page
    sends its own name as both ``Host`` and ``Origin``, so only a ``Host``
    checked against Flask's ``TRUSTED_HOSTS`` proves anything: Flask 3.1
    checks it when it routes the request; here it is checked again (for
    Flask 3.0, and for hooks that run before routing fails): an untrusted
    ``Host`` is a 400, never "same origin"."""
    host = request.host
    trusted = current_app.config.get("TRUSTED_HOSTS")
    if trusted and not host_is_trusted(host, trusted):
        raise SecurityError(f"Host {host!r} is not trusted.")
    return f"{request.scheme}://{host}".lower()


def trusted_origins() -> frozenset[str]:
    """``SESSIONAUTH_TRUSTED_ORIGINS`` as browsers serialise an ``Origin``
    (checked at ``init_app``); matched exactly, no wildcards or suffixes."""
    return app_state().trusted_origins


def is_same_origin_request() -> bool:
    origin = request.headers.get("Origin")
    if origin is not None and origin in trusted_origins():
        return True
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    return origin is None or origin == own_origin()


def check_api_origin() -> None:
    """The API's rule, for every call that changes state, cookie or not: an
    ``Origin`` of this site (unless ``Sec-Fetch-Site`` says otherwise) or an
    exact entry of ``SESSIONAUTH_TRUSTED_ORIGINS``; without ``Origin``, only
    ``Sec-Fetch-Site: same-origin``. ``Origin: null`` and silence are refused."""
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if origin is None:
        if site != "same-origin":
            raise MissingOrigin()
    elif origin == "null":
        raise MissingOrigin()
    elif origin not in trusted_origins() and (origin != own_origin() or site not in (None, "same-origin")):
        raise CrossOriginRequest()


#: ``Sec-Fetch-Mode`` values of a script's ``fetch``; absent in older browsers.
_FETCH_MODES = frozenset({"cors", "same-origin"})


def check_fetch_mode() -> None:
    """For a GET that changes state: refuse navigations, prefetches and
    ``<img>``/``<script>`` loads, which any page can trigger with the cookie."""
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None and mode not in _FETCH_MODES:
        raise StateChangingNavigation()


def check_same_origin() -> None:
    """Refuse a cross-origin state change (403) before anything is read."""
    if request.method not in SAFE_METHODS and not is_same_origin_request():
        raise CrossOriginRequest()


def csrf_enabled() -> bool:
    """The token check follows Flask-WTF's own switch (tests turn it off for
    forms and the API alike); the origin check stays on regardless."""
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def submitted_csrf_token() -> str | None:
    """The token from the form field, else from a CSRF header (what Flask-WTF accepts)."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = request.form.get(field) if request.mimetype in _FORM_TYPES else None
    if token:
        return token
    headers = current_app.config.get("WTF_CSRF_HEADERS") or _DEFAULT_CSRF_HEADERS
    return next((request.headers[name] for name in headers if request.headers.get(name)), None)


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def check_csrf_token() -> None:
    """Raise Flask-WTF's :class:`CSRFError` (400) for a missing or bad token."""
    if request.method in SAFE_METHODS or not csrf_enabled():
        return
    try:
        validate_csrf(submitted_csrf_token())
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from exc


def secure_cookies_dropped() -> bool:
    """Did the browser drop Flask's session cookie (which holds the CSRF
    secret) because it is ``Secure`` and this request is plain HTTP to a host
    that is not loopback? Then a failed token check is not an expired form."""
    if insecure_transport() is None:
        return False
    app = current_app
    name = app.session_interface.get_cookie_name(app)  # type: ignore[attr-defined]
    secure = app.config.get("SESSION_COOKIE_SECURE") or name.startswith(("__Host-", "__Secure-"))
    return bool(secure) and name not in request.cookies


def rotate_csrf_secret() -> None:
    """Forget the CSRF secret in Flask's session; the next token gets a new one."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)  # Flask-WTF's per-request copy of the token


def protect() -> None:
    """Both checks, for a blueprint's ``before_request``."""
    check_same_origin()
    check_csrf_token()


__all__ = [
    "check_api_origin",
    "check_csrf_token",
    "check_fetch_mode",
    "check_same_origin",
    "csrf_enabled",
    "own_origin",
    "protect",
    "rotate_csrf_secret",
    "trusted_origins",
]
