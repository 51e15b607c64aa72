"""Activity listings and administrators' operations on the current request.

An administrator is whoever the app's check (``auth.admin_check``) says is
one; without a check nobody is, and the admin pages answer 404. Every admin
operation sends ``admin_action`` (recorded in the user's log, naming the
administrator), and ends sessions with the reason ``"admin"``.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import abort

from ..core import signals
from ..core.activity import KINDS
from ..core.activity import Event
from ..storage import storage_errors
from . import actions
from .activity import is_admin
from .proxies import current_user
from .state import app_state


def page_of_events(limit: int, offset: int, user: t.Any = None, kind: str | None = None) -> tuple[list[Event], int]:
    """One page of ``user``'s events (default: the signed-in user's), newest
    first, of one ``kind`` (unknown kinds: none), and how many there are."""
    user_id = actions.current_user_id(user)
    if kind is not None and kind not in KINDS:
        return [], 0
    with storage_errors():
        rows, total = app_state().activity.page(user_id, kind, limit, offset)
    return [Event.from_row(row) for row in rows], total


def list_activity(
    user: t.Any = None, limit: int | None = None, offset: int = 0, kind: str | None = None
) -> list[Event]:
    """``user``'s (default: the signed-in user's) security events, newest first, ``kind`` only if given."""
    return page_of_events(limit or app_state().list_limit, offset, user, kind)[0]


# -- administrators ---------------------------------------------------------------------


def admin() -> t.Any:
    """The signed-in administrator, else 404: no page, no hint that one exists."""
    user = current_user._get_current_object()
    if not is_admin(user):
        abort(404)
    return user


def target_user(raw_id: str) -> t.Any:
    """The user with id ``raw_id`` (as typed in the URL); 404 if none or unparsable."""
    state = app_state()
    column = next(iter(sa.inspect(state.user_model).primary_key))
    try:
        python_type = column.type.python_type
        user_id = python_type(raw_id) if python_type is not str else raw_id
    except (TypeError, ValueError, NotImplementedError, OverflowError):
        abort(404)
    if isinstance(user_id, int) and not -(2**63) <= user_id < 2**63:
        abort(404)
    if isinstance(user_id, str) and (len(user_id) > 255 or not user_id.isprintable()):
        abort(404)
    with storage_errors():
        user = state.db.session.get(state.user_model, user_id)
    if user is None:
        abort(404)
    return user


def admin_revoke(user: t.Any, session_ids: list[str] | None) -> int:
    """End one (``session_ids``) or every session of ``user``, as an administrator."""
    acting = actions.unproxy(admin())
    state = app_state()
    revoked = state.sessions.revoke(user.id, session_ids, None, "admin")
    actions.signed_out_if_revoked(revoked)
    action = "revoke" if session_ids is not None else "revoke_all"
    signals.admin_action.send(state.sessions.sender, admin=acting, user_id=user.id, action=action, session_ids=revoked)
    return len(revoked)
