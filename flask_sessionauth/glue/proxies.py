"""``current_user`` / ``current_session`` and the view decorators.

The request hook fills a :class:`~.state.RequestState` on ``g``; the proxies
read it. The user object is loaded only when ``current_user`` is first used,
so a view that needs just the session (``current_session.user_id``) costs one
read.
"""

from __future__ import annotations

import functools
import inspect
import typing as t

from flask import current_app
from werkzeug.local import LocalProxy

from ..core.anonymous import CurrentUser
from ..core.records import RECORD_FIELDS
from ..storage.model import UserSession
from .actions import is_authenticated
from .actions import is_fresh
from .actions import load_user
from .actions import session_object
from .hook import SENSITIVE_ATTR
from .hook import request_state
from .responses import needs_fresh_login
from .responses import unauthorized
from .state import ANONYMOUS_SESSION
from .state import ANONYMOUS_USER
from .state import UNSET
from .state import RequestState

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def _lazy(attr: str, load: t.Callable[[RequestState], t.Any], anonymous: t.Any) -> t.Callable[[], t.Any]:
    """A proxy getter: this request's ``attr``, loaded on first use."""

    def get() -> t.Any:
        state = request_state()
        if state is None:
            return anonymous
        state.accessed = True
        value = getattr(state, attr)
        return load(state) if value is UNSET else value

    return get


#: The signed-in user (the app's model instance), or a falsy anonymous user.
current_user: CurrentUser = t.cast(CurrentUser, LocalProxy(_lazy("user", load_user, ANONYMOUS_USER)))
#: The session columns ``current_session.<name>`` may answer from the record
#: (never ``secret_hash``: the snapshot holds ``None`` there, and so must this).
_RECORD_ATTRS = frozenset(RECORD_FIELDS) - {"secret_hash"}


class _SessionProxy(LocalProxy):  # type: ignore[type-arg]
    """``current_session``: a column read (``current_session.user_id``) comes
    straight from the request's record; the ``UserSession`` snapshot is built
    only when the object itself is needed (``_get_current_object()``, any
    other attribute, a comparison...). Trick #6: ~80k instructions for views
    that read a field or two. The values are the snapshot's own: it is made
    from the same record."""

    __slots__ = ()

    def __getattr__(self, name: str) -> t.Any:
        if name in _RECORD_ATTRS:
            state = request_state()
            if (
                state is not None
                and state.record is not None
                and state.session_obj is UNSET
                and not state.app_state.check_active_property
            ):
                state.accessed = True
                return getattr(state.record, name)
        return getattr(self._get_current_object(), name)


session_proxy = _SessionProxy(_lazy("session_obj", session_object, ANONYMOUS_SESSION))
#: The current ``UserSession`` (a detached snapshot), or a falsy anonymous session
#: whose columns are ``None`` (typed for the signed-in case, as views behind
#: ``login_required`` read it).
current_session: UserSession = t.cast(UserSession, session_proxy)


def login_required(view: F) -> F:
    """Let only signed-in users through; others go to the sign-in page (or get 401 JSON)."""
    # Trick #8: decide once whether the view needs ``ensure_sync`` (for a sync
    # view Flask returns it unchanged, but the call costs ~20k instructions).
    is_async = inspect.iscoroutinefunction(view)

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not is_authenticated():
            return unauthorized()
        if is_async:
            return current_app.ensure_sync(view)(*args, **kwargs)
        return view(*args, **kwargs)

    return t.cast(F, wrapper)


def fresh_login_required(view: F) -> F:
    """Like :func:`login_required`, and the password must have been entered in this
    session within ``SESSIONAUTH_FRESH_AGE`` ("sudo mode"); otherwise the user is
    asked to confirm it first.
    """

    @functools.wraps(view)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not is_authenticated():
            return unauthorized()
        if not is_fresh():
            return needs_fresh_login()
        return current_app.ensure_sync(view)(*args, **kwargs)

    return t.cast(F, wrapper)


def sensitive(view: F) -> F:
    """Mark a view as sensitive: its session is always read from storage, never
    from the cookie cache (Better Auth's ``sensitiveSessionMiddleware``), so a
    revoked session cannot reach it during the cache's max-age. Put it outermost
    or innermost; it only sets an attribute on the view."""
    setattr(view, SENSITIVE_ATTR, True)
    return view


def template_context() -> dict[str, t.Any]:
    """``current_user`` and ``current_session`` in every template."""
    return {"current_user": current_user, "current_session": current_session}
