"""The ``UserSession`` model, built on the application's own ``db``.

Building it on the app's Flask-SQLAlchemy instance (as Flask-Session's
``create_session_model`` does) means ``db.create_all()`` and Alembic see the
table like any other model of the app.
"""

from __future__ import annotations

import sys
import typing as t

import sqlalchemy as sa

from ..types import UTCDateTime
from .migrations import register_autogenerate_hook

IP_LENGTH = 45
USER_AGENT_LENGTH = 512


_cache_attr = "_sessionauth_models"


def table_once(metadata: sa.MetaData, name: str, *columns: sa.Column[t.Any]) -> sa.Table:
    """One of the extension's small tables on the app's metadata, so
    ``db.create_all()`` and migrations see it; defined once per metadata."""
    if name in metadata.tables:
        return metadata.tables[name]
    return sa.Table(name, metadata, *columns)


def create_session_model(db: t.Any, user_model: t.Any, table_name: str = "user_session") -> t.Any:
    """Return the ``UserSession`` model for ``db``, creating it once per table name."""
    cache: dict[str, t.Any] = db.__dict__.setdefault(_cache_attr, {})
    if table_name in cache:
        return cache[table_name]

    user_table: sa.Table = user_model.__table__  # type: ignore[attr-defined]
    pk_columns = list(user_table.primary_key.columns)
    if len(pk_columns) != 1:
        raise TypeError("the user model needs a single-column primary key 'id'")
    user_pk = pk_columns[0]

    namespace: dict[str, t.Any] = {
        "__tablename__": table_name,
        "__doc__": "One signed-in device. Only a hash of the token's secret is stored.",
        # Public half of the split token: safe in URLs, forms and listings.
        "id": sa.Column(sa.String(32), primary_key=True),
        "user_id": sa.Column(
            user_pk.type.copy(),  # type: ignore[no-untyped-call]
            sa.ForeignKey(user_pk, ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        # SHA-256 hex of the secret half; never the token itself.
        "secret_hash": sa.Column(sa.String(64), nullable=False),
        # False for "remember me" unticked: browser-session cookie, short row life.
        "remember": sa.Column(sa.Boolean, nullable=False, default=True),
        "expires_at": sa.Column(UTCDateTime, nullable=False, index=True),
        "created_at": sa.Column(UTCDateTime, nullable=False),
        # Last sliding refresh of ``expires_at``.
        "updated_at": sa.Column(UTCDateTime, nullable=False),
        "last_active_at": sa.Column(UTCDateTime, nullable=True),
        # Last time the password was entered in this session ("sudo mode").
        "authenticated_at": sa.Column(UTCDateTime, nullable=True),
        "ip_address": sa.Column(sa.String(IP_LENGTH), nullable=True),
        "user_agent": sa.Column(sa.String(USER_AGENT_LENGTH), nullable=True),
        "__repr__": lambda self: f"<UserSession {self.id} user={self.user_id}>",
    }
    model = type("UserSession", (db.Model,), namespace)
    cache[table_name] = model
    if "alembic" in sys.modules:  # Flask-Migrate or Alembic is in use: teach autogenerate our types
        register_autogenerate_hook()
    return model
