"""The security activity log's table, on the app's metadata (so
``db.create_all()`` and Alembic see it), and every statement on it.

Writes run on a connection of their own in a transaction of their own
(``engine.begin()``), after the action they describe has committed: an event
never commits or rolls back the app's ORM session, and a failed write is the
caller's to log, never the action's failure.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

import sqlalchemy as sa

from ..types import UTCDateTime
from .model import IP_LENGTH
from .model import USER_AGENT_LENGTH
from .model import table_once

if t.TYPE_CHECKING:
    from .prepared import Reader

#: Name of the events table.
TABLE_NAME = "sessionauth_event"
#: Longest ``reason`` / ``detail`` stored (reasons are ours; device names are bounded).
DETAIL_LENGTH = 120

#: The columns a caller may set (besides ``id``).
FIELDS = (
    "user_id",
    "kind",
    "reason",
    "created_at",
    "session_id",
    "target_session_id",
    "target_device",
    "ip_address",
    "user_agent",
    "browser",
    "os",
    "country",
    "region",
    "city",
    "new_device",
    "admin_id",
)


def create_table(metadata: sa.MetaData, user_model: t.Any) -> sa.Table:
    user_pk = next(iter(user_model.__table__.primary_key.columns))
    table = table_once(
        metadata,
        TABLE_NAME,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        # NULL: a failed sign-in for no account (written all the same, so both cost alike).
        sa.Column("user_id", user_pk.type.copy(), sa.ForeignKey(user_pk, ondelete="CASCADE"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(DETAIL_LENGTH), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False, index=True),
        # The session that acted (the new one, for a sign-in).
        sa.Column("session_id", sa.String(32), nullable=True),
        # The session acted upon (a device signed out), and its device's name.
        sa.Column("target_session_id", sa.String(32), nullable=True, index=True),
        sa.Column("target_device", sa.String(DETAIL_LENGTH), nullable=True),
        sa.Column("ip_address", sa.String(IP_LENGTH), nullable=True),
        sa.Column("user_agent", sa.String(USER_AGENT_LENGTH), nullable=True),
        sa.Column("browser", sa.String(64), nullable=True),
        sa.Column("os", sa.String(64), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("region", sa.String(128), nullable=True),
        sa.Column("city", sa.String(128), nullable=True),
        sa.Column("new_device", sa.Boolean, nullable=True),
        # The administrator who acted (their user id, as text).
        sa.Column("admin_id", sa.String(64), nullable=True),
    )
    name = f"ix_{TABLE_NAME}_user_created"
    if not any(index.name == name for index in table.indexes):
        sa.Index(name, table.c.user_id, table.c.created_at)
    return table


def _same(statement: sa.Executable) -> sa.Executable:
    return statement


class EventStore:
    """Statements on the events table of one app."""

    def __init__(self, db: t.Any, table: sa.Table, reader: t.Callable[[], Reader] | None = None) -> None:
        self.db = db
        self.table = table
        self.reader = reader

    def add(self, rows: list[dict[str, t.Any]]) -> None:
        """Insert on the hot path's own autocommit connections (like the throttle), never a
        second connection from the app's pool: a failed sign-in holds its ORM connection
        while the event is written, and a full pool of such requests would wait on each other."""
        if not rows:
            return
        if self.reader is None:
            with self.db.engine.begin() as connection:
                connection.execute(self.table.insert(), rows)
            return
        reader = self.reader()
        for row in rows:
            columns = sorted(row)
            name = "event_insert:" + ",".join(columns)
            insert = self.table.insert().values({c: sa.bindparam(c, type_=self.table.c[c].type) for c in columns})
            reader.run(name, functools.partial(_same, insert), row, fetch=False)

    def _where(self, user_id: t.Any, kinds: t.Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
        c = self.table.c
        cond = [c.user_id == user_id]
        if kinds:
            cond.append(c.kind.in_(list(kinds)))
        return cond

    def page(
        self, user_id: t.Any, kinds: t.Sequence[str] | None, limit: int, offset: int
    ) -> tuple[list[sa.Row[t.Any]], int]:
        """Newest first; and how many in all."""
        c = self.table.c
        cond = self._where(user_id, kinds)
        stmt = sa.select(self.table).where(*cond).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        with self.db.engine.connect() as connection:
            rows = list(connection.execute(stmt.offset(offset or None)))
            if len(rows) < limit and (rows or not offset):
                return rows, offset + len(rows)
            total = connection.execute(sa.select(sa.func.count()).select_from(self.table).where(*cond)).scalar_one()
        return rows, int(total)

    def seen(self, user_id: t.Any, since: dt.datetime) -> list[tuple[t.Any, ...]]:
        """``(browser, os, country)`` of the account's sign-ins since ``since``,
        but not of sessions the owner reported ("This wasn't me"): the device
        that was not them never becomes a known one."""
        c = self.table.c
        reported = sa.select(c.target_session_id).where(
            c.user_id == user_id, c.kind == "session_reported", c.target_session_id.is_not(None)
        )
        stmt = (
            sa.select(c.browser, c.os, c.country)
            .where(c.user_id == user_id, c.kind == "sign_in", c.created_at >= since, c.session_id.not_in(reported))
            .distinct()
        )
        with self.db.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(stmt)]

    def devices_of(self, session_ids: list[str]) -> dict[str, str | None]:
        """The user agent each of these sessions signed in with (for naming them)."""
        c = self.table.c
        stmt = sa.select(c.session_id, c.user_agent).where(c.kind == "sign_in", c.session_id.in_(session_ids))
        with self.db.engine.connect() as connection:
            return {row[0]: row[1] for row in connection.execute(stmt)}

    def revocation(self, session_id: str, reasons: t.Sequence[str], since: dt.datetime) -> sa.Row[t.Any] | None:
        """The newest event that signed session ``session_id`` out for one of ``reasons``."""
        c = self.table.c
        stmt = (
            sa.select(c.created_at, c.user_agent, c.reason)
            .where(
                c.target_session_id == session_id,
                c.kind == "session_revoked",
                c.reason.in_(list(reasons)),
                c.created_at >= since,
            )
            .order_by(c.created_at.desc())
            .limit(1)
        )
        with self.db.engine.connect() as connection:
            row: sa.Row[t.Any] | None = connection.execute(stmt).first()
        return row

    def cleanup(self, before: dt.datetime, batch_size: int) -> int:
        c = self.table.c
        total = 0
        while True:
            with self.db.engine.begin() as connection:
                ids = list(connection.execute(sa.select(c.id).where(c.created_at < before).limit(batch_size)).scalars())
                if ids:
                    connection.execute(self.table.delete().where(c.id.in_(ids)))
            total += len(ids)
            if len(ids) < batch_size:
                return total
