"""ORM objects built from plain values: the user for ``current_user`` and the
detached ``UserSession`` snapshots handed to callers.

Kept apart from the stores, which deal in records and rows only.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached

from ..core.records import RECORD_FIELDS

if t.TYPE_CHECKING:
    from .base import SessionStore


class Objects:
    """Builds one app's user instances and session snapshots."""

    def __init__(self, db: t.Any, model: t.Any, user_model: t.Any, user_attrs: list[str]) -> None:
        self.db = db
        self._user_mapper = sa.inspect(user_model)
        self._session_manager = sa.inspect(model).class_manager
        self._user_attrs = user_attrs

    def load_user(self, store: SessionStore, user_id: t.Any) -> t.Any | None:
        """The app's user as a persistent instance of ``db.session``, in one read.

        The row is fetched like the session (no ORM query) and placed into the
        session's identity map, so the object behaves exactly like one from
        ``db.session.get``: attribute changes are flushed on commit,
        relationships load on access, and ``db.session.get`` returns it.
        """
        session = self.db.session
        key = self._user_mapper.identity_key_from_primary_key((user_id,))
        user = session.identity_map.get(key)
        if user is not None:
            return user
        row = store.load_user_row(user_id)
        if row is None:
            return None
        user = _loaded(self._user_mapper.class_manager, zip(self._user_attrs, row, strict=True))
        make_transient_to_detached(user)
        session.add(user)
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
