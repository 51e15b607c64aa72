"""ORM objects built from plain values: the user for ``current_user`` and the
detached ``UserSession`` snapshots handed to callers.

Kept apart from the stores, which deal in records and rows only.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached

from ..core.records import RECORD_FIELDS
from ..core.records import SessionRecord
from . import orm_fastpath

if t.TYPE_CHECKING:
    from .base import SessionStore


class Objects:
    """Builds one app's user instances and session snapshots.

    ``user_attrs`` are the user's columns the session read joins, in row
    order; empty when the fast path is off for this model (``fast``), which
    ``init_app`` decides: see :func:`.orm_fastpath.unfit`.
    """

    def __init__(self, db: t.Any, model: t.Any, user_model: t.Any, user_attrs: list[str]) -> None:
        self.db = db
        self.user_model = user_model
        self._user_mapper = sa.inspect(user_model)
        self._session_manager = sa.inspect(model).class_manager
        self._user_attrs = user_attrs
        self._session_class = getattr(getattr(db.session, "session_factory", None), "class_", None)
        #: Whether ``current_user`` is built from the joined row (else ``db.session.get``).
        self.fast = bool(user_attrs) and isinstance(self._session_class, type)

    def load_user(self, store: SessionStore, record: SessionRecord) -> t.Any | None:
        """The app's user: exactly what ``db.session.get(user_model, id)`` returns.

        When that is known to be the same (``fast``, no ``db.session`` yet in
        this app context, no listener that would tell: see
        :mod:`.orm_fastpath`) it is built from the row that came with the
        session read (trick #4: ``/me`` is one statement), else from one read
        of its own, and placed into ``db.session``'s identity map without an
        ORM query.
        """
        scoped = self.db.session
        user_id = record.user_id
        mapper = self._user_mapper
        if (
            not self.fast
            or orm_fastpath.has_session(scoped)  # pending changes, a transaction: the ORM's rules apply
            or not orm_fastpath.quiet(mapper.class_manager, t.cast(type, self._session_class))
        ):
            return scoped.get(self.user_model, user_id)  # the public path
        row = getattr(record, "user_row", None)
        if row is None:
            row = store.load_user_row(user_id)
            if row is None:
                return None
        key = mapper.identity_key_from_primary_key((user_id,))
        user = orm_fastpath.build(mapper.class_manager, self._user_attrs, row, key)
        orm_fastpath.attach(scoped(), user)
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
