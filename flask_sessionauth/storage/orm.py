"""ORM objects built from plain values: the user for ``current_user`` and the
detached ``UserSession`` snapshots handed to callers.

Kept apart from the stores, which deal in records and rows only.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import g
from flask import has_app_context
from sqlalchemy.orm import make_transient_to_detached

from ..core.records import RECORD_FIELDS
from ..core.records import SessionRecord
from . import orm_fastpath

if t.TYPE_CHECKING:
    from .base import SessionStore


class Objects:
    """Builds one app's user instances and session snapshots."""

    def __init__(self, db: t.Any, model: t.Any, user_model: t.Any, user_attrs: list[str]) -> None:
        self.db = db
        self.user_model = user_model
        self._user_mapper = sa.inspect(user_model)
        self._session_manager = sa.inspect(model).class_manager
        self._user_attrs = user_attrs
        # Relationships (every column is loaded): reading one attaches a pending user.
        self._user_unloaded = [key for key in self._user_mapper.attrs.keys() if key not in user_attrs]  # noqa: SIM118
        self._hooked = orm_fastpath.FAST and orm_fastpath.hook_creation(db.session, g, has_app_context)

    def load_user(self, store: SessionStore, record: SessionRecord) -> t.Any | None:
        """The app's user as a persistent instance of ``db.session``, without an ORM query.

        The row comes with the session read when the store joined it
        (trick #4: ``/me`` is one statement), else from one read of its own,
        and is placed into the session's identity map, so the object behaves
        exactly like one from ``db.session.get``: attribute changes are
        flushed on commit, relationships and deferred columns load on
        access, ``@reconstructor`` runs, and ``db.session.get`` returns it.
        """
        scoped = self.db.session
        user_id = record.user_id
        if not orm_fastpath.FAST:
            return scoped.get(self.user_model, user_id)  # the public path
        key = self._user_mapper.identity_key_from_primary_key((user_id,))
        created = orm_fastpath.has_session(scoped)
        if created:
            user = scoped.identity_map.get(key)
            if user is not None:
                return user
        row = getattr(record, "user_row", None)
        if row is None:
            row = store.load_user_row(user_id)
            if row is None:
                return None
        user = orm_fastpath.build(self._user_mapper.class_manager, self._user_attrs, row, key)
        if created or not self._hooked:
            orm_fastpath.attach(scoped(), user)
        else:
            # No db.session yet: attached when the app creates it or reads a
            # relationship; a request that never does skips creating one.
            orm_fastpath.pend(g, user)
            if self._user_unloaded:
                orm_fastpath.attach_on_load(user, self._user_unloaded, scoped)
        return user

    def snapshot(self, values: t.Mapping[str, t.Any]) -> t.Any:
        """A detached ``UserSession`` holding ``values``: usable after the
        request's ORM session is gone, without a refresh query. Its
        ``secret_hash`` is ``None``: nothing handed to callers carries it."""
        items = ((name, None if name == "secret_hash" else values[name]) for name in RECORD_FIELDS)
        obj = _loaded(self._session_manager, items)
        make_transient_to_detached(obj)
        return obj


def _loaded(manager: t.Any, items: t.Iterable[tuple[str, t.Any]]) -> t.Any:
    """A new instance whose attributes hold ``items`` as loaded (unmodified)
    values: what the ORM's own row loader does, filling the instance dict
    directly instead of going through the constructor's change events."""
    obj = manager.new_instance()
    obj.__dict__.update(items)
    return obj
