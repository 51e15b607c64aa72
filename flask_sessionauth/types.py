"""Column types of flask-sessionauth's tables, at a public, stable import path.

Alembic's autogenerate writes a custom type as ``<its module>.<its name>``, so
a migration generated today names ``flask_sessionauth.types.UTCDateTime`` and
must keep working after any reorganisation of the package's internals:
this module is part of the public API. (The import line itself is added by
:mod:`flask_sessionauth.storage.migrations`.)
"""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

UTC = dt.timezone.utc


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so UTC is stored
    naive and re-labelled on load. Code always sees aware UTC values. The
    DDL is exactly ``sa.DateTime(timezone=True)``'s, so a hand-written
    migration may use either.
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
