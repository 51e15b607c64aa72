"""The deployment id: what every process of one app has in common.

Redis keys and the cookie cache's key derivation are namespaced per
deployment, so two apps sharing a Redis (or a ``SECRET_KEY``) never read each
other's entries, while every process of one app agrees. Neither the database
URL (``localhost`` vs ``127.0.0.1``, a port, ``?application_name=``, a
pgbouncer alias, another role all name one database) nor ``SECRET_KEY``
(rotated one worker at a time) is the same in every process, so the id is:

* ``SESSIONAUTH_DEPLOYMENT_ID`` when set (the table is then never used), or
* a random id stored once in the ``sessionauth_deployment`` table of the
  app's database, one row per (session table, user table), inserted by the
  first process that needs it (the primary key settles a race: the loser
  reads the winner's row).

It is read once per process, the first time Redis or the cookie cache needs
it (never at import or ``init_app``: the tables may not exist yet), on the
hot path's own connections; later requests run no statement for it. It is no
secret: it separates namespaces, it does not authenticate anything.
"""

from __future__ import annotations

import hashlib
import secrets
import typing as t

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError

from ..core.errors import StorageUnavailable
from .errors import classify
from .model import table_once

if t.TYPE_CHECKING:
    from .prepared import Reader

#: Name of the table holding the stored deployment ids.
TABLE_NAME = "sessionauth_deployment"


def create_table(metadata: sa.MetaData) -> sa.Table:
    """The deployment table on the app's metadata."""
    return table_once(
        metadata,
        TABLE_NAME,
        # "<session table>|<user table>": one deployment per pair in a database.
        sa.Column("tables", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(64), nullable=False),
    )


class Deployment:
    """The deployment id of one app (:attr:`value`, derived again with the
    table names, so one explicit id serves several session tables apart)."""

    def __init__(
        self, metadata: sa.MetaData, reader: t.Callable[[], Reader], tables: tuple[str, str], explicit: t.Any
    ) -> None:
        self.table = create_table(metadata)
        self.reader = reader
        self.key = "|".join(tables)
        self._value: str | None = None
        if explicit:
            self._value = self._derive(str(explicit))

    def _derive(self, raw: str) -> str:
        return hashlib.sha256(f"{raw}|{self.key}".encode()).hexdigest()[:24]

    def value(self) -> str:
        """The id, read (or created) on first use; raises
        :class:`~flask_sessionauth.core.errors.StorageUnavailable` (or
        ``ConfigurationError`` when the table is missing) and is asked again
        next time when the database cannot tell."""
        value = self._value
        if value is None:
            try:
                raw = self._read() or self._create()
            except SQLAlchemyError as exc:
                raise classify(exc, missing=TABLE_NAME) from exc
            value = self._value = self._derive(raw)
        return value

    def _read(self) -> str | None:
        c = self.table.c
        build = lambda: sa.select(c.id).where(c.tables == sa.bindparam("k"))  # noqa: E731
        row = self.reader().run("deployment.read", build, {"k": self.key}, fetch=True)
        return None if row is None else str(row[0])

    def _create(self) -> str:
        build = lambda: self.table.insert().values(tables=sa.bindparam("k"), id=sa.bindparam("v"))  # noqa: E731
        try:
            self.reader().run("deployment.create", build, {"k": self.key, "v": secrets.token_hex(16)}, fetch=False)
        except IntegrityError:
            pass  # another process stored its id first: that one counts
        raw = self._read()
        if raw is None:  # pragma: no cover - a row deleted right after its insert
            raise StorageUnavailable()
        return raw
