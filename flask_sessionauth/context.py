"""Per-request state and the ``current_user`` / ``current_session`` proxies.

The request hook fills a :class:`RequestState` on ``g``; the proxies read it.
The user object is loaded only when ``current_user`` is first used, so a view
that needs just the session (``current_session.user_id``) costs one read.
"""

from __future__ import annotations

import functools
import typing as t

from flask import current_app
from flask import g
from flask import has_request_context
from werkzeug.local import LocalProxy

from .anonymous import AnonymousSession
from .anonymous import AnonymousUser

if t.TYPE_CHECKING:
    from .extension import AppState
    from .store import SessionRecord

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

ANONYMOUS_USER = AnonymousUser()
ANONYMOUS_SESSION = AnonymousSession()
_UNSET: t.Any = object()


class CookieAction(t.NamedTuple):
    value: str | None  # None clears the cookie
    max_age: int | None = None


class RequestState:
    """What this request knows about its session; lives on ``g._sessionauth``."""

    __slots__ = ("app_state", "record", "user", "session_obj", "cookie", "accessed", "signed_out")

    def __init__(self, app_state: AppState) -> None:
        self.app_state = app_state
        self.record: SessionRecord | None = None
        self.user: t.Any = ANONYMOUS_USER
        self.session_obj: t.Any = ANONYMOUS_SESSION
        self.cookie: CookieAction | None = None
        self.accessed = False
        self.signed_out = False

    def set_record(self, record: SessionRecord | None, user: t.Any = _UNSET) -> None:
        self.record = record
        self.user = user if record is not None else ANONYMOUS_USER
        self.session_obj = _UNSET if record is not None else ANONYMOUS_SESSION

    def clear(self) -> None:
        """Become anonymous and tell the browser to forget its cookie."""
        self.set_record(None)
        self.cookie = CookieAction(None)


def request_state() -> RequestState | None:
    """This request's state; ``None`` outside a request.

    In a request context whose before-request hooks did not run (a bare
    ``app.test_request_context()``, a shell), the hook runs now, so the API
    behaves the same there as in a real request.
    """
    if not has_request_context():
        return None
    state = g.get("_sessionauth")
    if state is None:
        ext = current_app.extensions.get("sessionauth")
        if ext is None:
            return None
        ext._before_request()
        state = g.get("_sessionauth")
    return t.cast("RequestState | None", state)


def _get_user() -> t.Any:
    state = request_state()
    if state is None:
        return ANONYMOUS_USER
    state.accessed = True
    user = state.user
    if user is _UNSET:
        user = state.app_state.load_user(state)
    return user


def _get_session() -> t.Any:
    state = request_state()
    if state is None:
        return ANONYMOUS_SESSION
    state.accessed = True
    obj = state.session_obj
    if obj is _UNSET:
        obj = state.app_state.session_object(state)
    return obj


#: The signed-in user (the app's model instance), or a falsy anonymous user.
current_user: t.Any = LocalProxy(_get_user)
#: The current ``UserSession`` (a detached snapshot), or a falsy anonymous session.
current_session: t.Any = LocalProxy(_get_session)


def extension() -> t.Any:
    """The current app's :class:`~flask_sessionauth.SessionAuth`."""
    return current_app.extensions["sessionauth"]


def login_required(view: F) -> F:
    """Let only signed-in users through; others go to the sign-in page (or get 401 JSON)."""

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not extension().is_authenticated():
            return extension().unauthorized()
        return current_app.ensure_sync(view)(*args, **kwargs)

    return t.cast(F, wrapper)


def fresh_login_required(view: F) -> F:
    """Like :func:`login_required`, and the password must have been entered in this
    session within ``SESSIONAUTH_FRESH_AGE`` ("sudo mode"); otherwise the user is
    asked to confirm it first.
    """

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        ext = extension()
        if not ext.is_authenticated():
            return ext.unauthorized()
        if not ext.is_fresh():
            return ext.needs_fresh_login()
        return current_app.ensure_sync(view)(*args, **kwargs)

    return t.cast(F, wrapper)
