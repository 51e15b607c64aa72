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


#: ``Table.info`` key: the rows :func:`_seed` inserts when the table is created.
_KEYS = "sessionauth_keys"


def create_table(metadata: sa.MetaData) -> sa.Table:
    """The deployment table on the app's metadata."""
    table = table_once(
        metadata,
        TABLE_NAME,
        # "<session table>|<user table>": one deployment per pair in a database.
        sa.Column("tables", sa.String(255), primary_key=True),
        sa.Column("id", sa.String(64), nullable=False),
    )
    if not sa.event.contains(table, "after_create", _seed):
        sa.event.listen(table, "after_create", _seed)
    return table


def _seed(table: sa.Table, connection: sa.Connection, **_: t.Any) -> None:
    """``db.create_all()`` stores the ids with the table, in its transaction:
    no request then ever writes one (on SQLite a first write inside a flush,
    e.g. deactivating a user, would wait for the flush's own lock)."""
    for key in sorted(table.info.get(_KEYS, ())):
        connection.execute(table.insert().values(tables=key, id=secrets.token_hex(16)))


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
        else:
            self.table.info.setdefault(_KEYS, set()).add(self.key)

    def _derive(self, raw: str) -> str:
        return hashlib.sha256(f"{raw}|{self.key}".encode()).hexdigest()[:24]

    def value(self) -> str:
        """The id, read (or, for a table a migration created, inserted) on
        first use; raises :class:`~flask_sessionauth.core.errors.StorageUnavailable`
        (``ConfigurationError`` when the table is missing) and is asked again
        next time when the database cannot tell."""
        value = self._value
        if value is None:
            value = self.stored()
            if value is None:
                value = self._value = self._derive(self._guarded(self._create))
        return value

    def stored(self) -> str | None:
        """The id if it is known or stored, never writing: ``None`` means no
        process ever used this deployment's Redis keys or cookie cache."""
        if self._value is None:
            raw = self._guarded(self._read)
            if raw is not None:
                self._value = self._derive(raw)
        return self._value

    def _guarded(self, step: t.Callable[[], t.Any]) -> t.Any:
        try:
            return step()
        except SQLAlchemyError as exc:
            raise classify(exc, missing=TABLE_NAME) from exc

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
