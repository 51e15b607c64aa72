"""The ``UserSession`` model, built on the application's own ``db``.

Building it on the app's Flask-SQLAlchemy instance (as Flask-Session's
``create_session_model`` does) means ``db.create_all()`` and Alembic see the
table like any other model of the app.
"""

from __future__ import annotations

import datetime as dt
import sys
import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from typing_extensions import TypeVar

from ..core.location import PLACE_LENGTH
from ..core.names import DEVICE_NAME_LENGTH
from ..types import UTCDateTime
from .migrations import register_autogenerate_hook

IP_LENGTH = 45
USER_AGENT_LENGTH = 512


_cache_attr = "_sessionauth_models"

#: The app's user model, as ``SessionAuth[User]`` knows it (``Any`` when not inferred).
UserT = TypeVar("UserT", default=t.Any)


class UserSession(t.Protocol):
    """The type of the ``UserSession`` model built below (``auth.session_model``)
    and of its instances, which the extension returns as detached snapshots.
    Each column is a ``ClassVar[Mapped[...]]``: on the class it is a column
    expression (``select(auth.session_model).where(auth.session_model.user_id == 1)``),
    on an instance its value."""

    id: t.ClassVar[Mapped[str]]
    user_id: t.ClassVar[Mapped[t.Any]]
    secret_hash: t.ClassVar[Mapped[str]]
    remember: t.ClassVar[Mapped[bool]]
    expires_at: t.ClassVar[Mapped[dt.datetime]]
    created_at: t.ClassVar[Mapped[dt.datetime]]
    updated_at: t.ClassVar[Mapped[dt.datetime]]
    last_active_at: t.ClassVar[Mapped[dt.datetime | None]]
    authenticated_at: t.ClassVar[Mapped[dt.datetime | None]]
    ip_address: t.ClassVar[Mapped[str | None]]
    user_agent: t.ClassVar[Mapped[str | None]]
    country: t.ClassVar[Mapped[str | None]]
    region: t.ClassVar[Mapped[str | None]]
    city: t.ClassVar[Mapped[str | None]]
    device_name: t.ClassVar[Mapped[str | None]]


class IssuedSession(UserSession, t.Protocol):
    """A session just issued (``login_user``, ``reauthenticate``,
    ``change_password``): the snapshot with the cookie value, never stored."""

    token: str


def table_once(metadata: sa.MetaData, name: str, *columns: sa.Column[t.Any]) -> sa.Table:
    """One of the extension's small tables on the app's metadata, so
    ``db.create_all()`` and migrations see it; defined once per metadata."""
    if name in metadata.tables:
        return metadata.tables[name]
    return sa.Table(name, metadata, *columns)


def create_session_model(db: t.Any, user_model: t.Any, table_name: str = "user_session") -> type[UserSession]:
    """Return the ``UserSession`` model for ``db``, creating it once per table name."""
    cache: dict[str, t.Any] = db.__dict__.setdefault(_cache_attr, {})
    if table_name in cache:
        return t.cast(type[UserSession], cache[table_name])

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
        # Approximate location at sign-in (ISO 3166-1 alpha-2; "ZZ" = local network).
        "country": sa.Column(sa.String(2), nullable=True),
        "region": sa.Column(sa.String(PLACE_LENGTH), nullable=True),
        "city": sa.Column(sa.String(PLACE_LENGTH), nullable=True),
        # The name its owner gave the device ("Work laptop").
        "device_name": sa.Column(sa.String(DEVICE_NAME_LENGTH), nullable=True),
        "__repr__": lambda self: f"<UserSession {self.id} user={self.user_id}>",
    }
    model = type("UserSession", (db.Model,), namespace)
    cache[table_name] = model
    if "alembic" in sys.modules:  # Flask-Migrate or Alembic is in use: teach autogenerate our types
        register_autogenerate_hook()
    return t.cast(type[UserSession], model)
