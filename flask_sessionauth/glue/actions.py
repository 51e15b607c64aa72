"""The public operations, as they apply to the current request.

Each joins a service call with this request's state: who is signed in, which
cookie to send, whether this device was just signed out. The extension's
methods, the pages, the API and the CLI all call these.
"""

from __future__ import annotations

import logging
import typing as t

from flask import current_app

from ..core import lifecycle
from ..core import signals
from ..core.errors import InvalidCredentials
from ..core.errors import InvalidPassword
from ..core.errors import NotSignedIn
from ..core.errors import SessionRefused
from ..core.errors import StorageUnavailable
from ..core.i18n import _l
from ..core.records import SessionRecord
from ..services.accounts import is_inactive
from ..services.sessions import Issued
from ..storage import storage_errors
from ..storage.model import IssuedSession
from ..storage.model import UserSession
from .csrf import rotate_csrf_secret
from .hook import request_state
from .hook import verify_with_storage
from .state import ANONYMOUS_USER
from .state import EXTENSION_KEY
from .state import AppState
from .state import CookieAction
from .state import RequestState
from .state import app_state
from .state import client


def unproxy(user: t.Any) -> t.Any:
    """The real user object behind ``current_user`` (signal receivers and
    callers keep it beyond the request; a proxy would turn anonymous)."""
    get = getattr(user, "_get_current_object", None)
    return get() if callable(get) else user


# -- the current session and user ---------------------------------------------------


def load_user(state: RequestState) -> t.Any:
    """The signed-in user, loaded on first use (one read); anonymous if gone."""
    record = state.record
    if record is None:
        state.user = ANONYMOUS_USER
        return ANONYMOUS_USER
    app = state.app_state
    try:
        with storage_errors():
            user = app.objects.load_user(app.store, record)
    except StorageUnavailable:
        state.set_record(None)
        raise
    if user is None or (app.check_active_property and not user.is_active):
        state.clear()
        return ANONYMOUS_USER
    state.user = user
    return user


def session_object(state: RequestState) -> t.Any:
    """A detached ``UserSession`` snapshot of the request's session."""
    record = state.record
    if record is None or (state.app_state.check_active_property and not load_user(state)):
        return state.session_obj
    obj = state.app_state.sessions.snapshot(record)
    state.session_obj = obj
    return obj


def is_authenticated() -> bool:
    state = request_state()
    if state is None or state.record is None:
        return False
    if state.app_state.check_active_property:
        return bool(load_user(state))
    return True


def is_fresh() -> bool:
    """Sudo mode: the password was entered in this session within ``FRESH_AGE``
    (always checked against storage, never the cookie cache)."""
    state = request_state()
    if state is None:
        return False
    verify_with_storage(state)
    return lifecycle.is_fresh(state.record, lifecycle.utcnow(), state.app_state.settings)


def current_user_id(user: t.Any = None) -> t.Any:
    """``user``'s id, or the signed-in user's (verified against storage)."""
    if user is not None:
        return getattr(user, "id", user)
    state = request_state()
    if state is not None:
        verify_with_storage(state)
    if state is None or state.record is None:
        raise NotSignedIn(_l("No user is signed in."))
    return state.record.user_id


def current_id_of(user_id: t.Any) -> str | None:
    """The current request's session id, if it belongs to ``user_id``."""
    state = request_state()
    if state is None or state.record is None or state.record.user_id != user_id:
        return None
    return state.record.id


def _adopt(state: RequestState, issued: Issued, user: t.Any) -> IssuedSession:
    """Make ``issued`` this request's session and send its cookie; the caller
    gets the snapshot with the cookie value on ``.token`` (never stored)."""
    state.set_record(issued.record, user)
    state.session_obj = issued.session
    rotate_csrf_secret()
    state.cookie = CookieAction(issued.token.value, lifecycle.cookie_max_age(issued.record, issued.record.updated_at))
    returned: IssuedSession = state.app_state.objects.snapshot(issued.record._asdict())
    returned.token = issued.token.value
    return returned


def signed_out_if_revoked(revoked: list[str]) -> None:
    """If the caller's own session was among ``revoked``, this device is signed
    out: anonymous from now on, cookie cleared, ``Clear-Site-Data`` sent."""
    state = request_state()
    if state is not None and state.record is not None and state.record.id in revoked:
        state.clear()
        state.signed_out = True


# -- signing in and out -------------------------------------------------------------

log = logging.getLogger("flask_sessionauth")
Hook = t.TypeVar("Hook", bound=t.Callable[..., t.Any])
_HOOKS = "_before_session_create"


def before_session_create(ext: t.Any, hook: Hook) -> Hook:
    """Register ``hook(user, client)`` on the extension ``ext`` (every app it serves)."""
    vars(ext).setdefault(_HOOKS, []).append(hook)
    return hook


def _run_before_session_create(user: t.Any, asking: t.Any) -> None:
    """Every hook may refuse: :class:`SessionRefused`, or a message returned.
    A hook that crashes refuses too (fail closed), logged, with the generic message."""
    for hook in vars(current_app.extensions[EXTENSION_KEY]).get(_HOOKS, ()):
        try:
            answer = hook(user, asking)
        except SessionRefused:
            raise
        except Exception:
            log.exception("flask-sessionauth: a before_session_create hook failed; no session was created")
            raise SessionRefused() from None
        if answer:
            raise SessionRefused(str(answer))


def authenticate(email: t.Any, password: t.Any) -> t.Any | None:
    """The user these credentials belong to, or ``None`` (see
    :meth:`Accounts.authenticate`)."""
    app = app_state()
    device = app.devices.nonce(email)
    result = app.accounts.authenticate(email, password, client(), device)
    if result is None:
        return None
    user, verified_hash = result
    state = request_state()
    if state is not None:
        state.verified = (user.id, verified_hash)
        state.device_cookie = app.devices.value_for(email, device)
    return user


def login_user(user: t.Any, remember: bool = True, *, fresh: bool = True) -> IssuedSession:
    """Start a new session for ``user`` (see :meth:`SessionAuth.login_user`)."""
    app = app_state()
    user = unproxy(user)
    if is_inactive(user):
        raise InvalidCredentials()  # the same answer as any failed sign-in
    state = request_state()
    verified = state.verified if state is not None else None
    verified_hash = verified[1] if verified is not None and verified[0] == user.id else None
    asking = client()
    keys = []
    if asking is not None:
        identity = app.accounts.identity(user)
        keys = app.limiter.check(app.limiter.session_keys(identity, asking, app.devices.nonce(identity)))
    _run_before_session_create(user, asking)
    issued = app.sessions.create(
        user,
        remember,
        fresh=fresh,
        client=app.locator.stored(asking),
        replacing=state.record if state is not None else None,
        guard=app.accounts.guard(user, verified_hash),
        location=app.locator.locate(asking),
    )
    reached = app.limiter.failed(keys)  # counts the new session
    if reached and asking is not None:
        signals.rate_limited.send(app.sessions.sender, user_id=user.id, scope=reached[0].kind, ip=asking.ip_address)
    if state is None:
        session: IssuedSession = issued.session
        session.token = issued.token.value
        return session
    return _adopt(state, issued, user)


def logout_user() -> None:
    state = request_state()
    if state is None:
        return
    record = state.record
    if record is not None:
        state.app_state.sessions.revoke(record.user_id, [record.id], None, "logout")
    state.clear()
    state.signed_out = True


def rotate(*, fresh: bool) -> IssuedSession | None:
    """Give the current session a new token (sudo mode, password change)."""
    state = request_state()
    if state is None or state.record is None:
        return None
    issued = state.app_state.sessions.rotate(state.record, fresh=fresh)
    if issued is None:
        state.clear()
        return None
    return _adopt(state, issued, state.user)


def reauthenticate(password: t.Any) -> IssuedSession:
    """Sudo mode: check the signed-in user's password, rotate, mark fresh."""
    state = request_state()
    user = load_user(state) if state is not None and state.record is not None else ANONYMOUS_USER
    if not user or state is None or state.record is None:
        raise NotSignedIn(_l("No user is signed in."))
    if not state.app_state.accounts.verify(user, password, client(), state.record.id):
        raise InvalidPassword()
    rotated = rotate(fresh=True)
    if rotated is None:
        raise NotSignedIn(_l("This session has ended. Please sign in again."))
    signals.sudo_confirmed.send(state.app_state.sessions.sender, user=unproxy(user), session=rotated)
    return rotated


# -- sessions -------------------------------------------------------------------------


def list_sessions(user: t.Any = None, limit: int | None = None, offset: int = 0) -> list[UserSession]:
    return app_state().sessions.list(current_user_id(user), limit, offset)


def page_of_sessions(
    limit: int, offset: int, user: t.Any = None, *, current_first: bool = False
) -> tuple[list[t.Any], int]:
    """One page of ``user``'s sessions (default: the current user's; with
    ``current_first``, this device first wherever its last activity puts it)
    and how many there are in all."""
    user_id = current_user_id(user)
    first = current_id_of(user_id) if current_first else None
    return app_state().sessions.page(user_id, limit, offset, first)


def find_session(session_id: str, user: t.Any = None) -> SessionRecord | None:
    return app_state().sessions.find(current_user_id(user), session_id)


def rename_session(session_id: object, name: object, user: t.Any = None) -> str | None:
    """Name one of ``user``'s sessions (default: the current user's); the
    name as stored, ``None`` when cleared. Not theirs: :class:`SessionNotFound`."""
    user_id = current_user_id(user)
    stored = app_state().sessions.rename(user_id, session_id, name)
    state = request_state()
    if state is not None and state.record is not None and state.record.id == session_id:
        # This device: the request (and the cache cookie it sends) has the new name.
        state.set_record(state.record._replace(device_name=stored), state.user)
    return stored


def revoke(user: t.Any, ids: list[str] | None, *, keep_current: bool, reason: str) -> int:
    user_id = current_user_id(user)
    keep = current_id_of(user_id) if keep_current else None
    revoked = app_state().sessions.revoke(user_id, ids, keep, reason)
    signed_out_if_revoked(revoked)
    return len(revoked)


# -- passwords ------------------------------------------------------------------------


def change_password(
    user: t.Any,
    current_password: t.Any,
    new_password: t.Any,
    revoke_other_sessions: bool = False,
    *,
    confirm_password: str | None = None,
) -> IssuedSession | None:
    app = app_state()
    user = unproxy(user)
    keep = current_id_of(user.id)
    app.accounts.change_password(
        user,
        current_password,
        new_password,
        revoke_others=revoke_other_sessions,
        keep=keep,
        client=client(),
        confirm_password=confirm_password,
        device=app.devices.nonce(app.accounts.identity(user)),
    )
    return rotate(fresh=True) if keep is not None else None


def set_password(user: t.Any, new_password: str, revoke_sessions: bool = True) -> int:
    revoked = app_state().accounts.set_password(unproxy(user), new_password, revoke_sessions)
    signed_out_if_revoked(revoked)
    return len(revoked)


def cleanup_expired() -> int:
    app: AppState = app_state()
    count = app.sessions.cleanup(app.cleanup_batch_size)
    app.limiter.cleanup()
    with storage_errors():
        app.activity.cleanup(app.cleanup_batch_size)
    return count
