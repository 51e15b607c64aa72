"""End a user's sessions when the user is deleted or deactivated (ASVS 7.4.2).

SQLAlchemy mapper events run inside the same flush, on the same connection,
so the change and the revocation commit or roll back together. Together with
the row lock every new session takes (:class:`~..storage.sql.Guard`), no
session survives a deactivation, also with Redis in front. Once a
deactivation has committed, ``session_revoked`` (reason ``"user_deactivated"``)
is sent; the activity log's receivers are connected here too.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import current_app
from flask import has_app_context

from ..core import signals
from . import activity
from .hook import request_state
from .state import STATE_KEY

if t.TYPE_CHECKING:
    from ..storage.base import SessionStore

_listened: set[tuple[type, type]] = set()
#: ORM ``Session.info`` key: deactivations whose signal waits for the commit.
_PENDING = "sessionauth_deactivated"


def listen_user_events(user_model: t.Any, session_model: t.Any, store: SessionStore) -> None:
    activity.listen()
    key = (user_model, session_model)
    if key in _listened:
        return
    _listened.add(key)

    def end_sessions(connection: sa.Connection, user_id: t.Any) -> None:
        # The store of the app at hand (its Redis tier must forget the user's
        # sessions too); the listener is shared by every app on these models.
        current = store
        if has_app_context() and STATE_KEY in current_app.extensions:
            current = current_app.extensions[STATE_KEY].store
        current.end_user_sessions(connection, user_id)
        state = request_state()
        if state is not None and state.record is not None and state.record.user_id == user_id:
            state.clear()

    def before_delete(mapper: t.Any, connection: sa.Connection, target: t.Any) -> None:
        end_sessions(connection, target.id)

    def after_update(mapper: t.Any, connection: sa.Connection, target: t.Any) -> None:
        if "is_active" not in mapper.columns:
            return
        history = sa.inspect(target).attrs.is_active.history
        if history.has_changes() and target.is_active is False:
            ids = list(
                connection.execute(sa.select(session_model.id).where(session_model.user_id == target.id)).scalars()
            )
            end_sessions(connection, target.id)
            orm_session = sa.orm.object_session(target)
            if orm_session is not None and has_app_context():
                pending = orm_session.info.setdefault(_PENDING, [])
                pending.append((current_app._get_current_object(), target.id, ids))  # type: ignore[attr-defined]

    sa.event.listen(user_model, "before_delete", before_delete)
    if not sa.event.contains(sa.orm.Session, "after_commit", _deactivated):
        sa.event.listen(sa.orm.Session, "after_commit", _deactivated)
        sa.event.listen(sa.orm.Session, "after_rollback", _forget_pending)
    sa.event.listen(user_model, "after_update", after_update)


def _deactivated(orm_session: sa.orm.Session) -> None:
    """After the commit: ``session_revoked`` for each deactivation it held."""
    for app, user_id, ids in orm_session.info.pop(_PENDING, ()):
        signals.session_revoked.send(app, user_id=user_id, session_ids=ids, reason="user_deactivated")


def _forget_pending(orm_session: sa.orm.Session) -> None:
    orm_session.info.pop(_PENDING, None)
