"""The ``UserSession`` model, built on the application's own ``db``.

Building it on the app's Flask-SQLAlchemy instance (as Flask-Session's
``create_session_model`` does) means ``db.create_all()`` and Alembic see the
table like any other model of the app.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

UTC = dt.timezone.utc
IP_LENGTH = 45
USER_AGENT_LENGTH = 512


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so UTC is stored
    naive and re-labelled on load. Code always sees aware UTC values.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> t.Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: t.Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return t.cast(dt.datetime, value.replace(tzinfo=UTC))
        return t.cast(dt.datetime, value.astimezone(UTC))


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
    return model
