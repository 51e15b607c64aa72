"""The ``SessionStore`` contract (``storage/base.py``), run directly against
every implementation: ``SQLStore`` on SQLite and PostgreSQL, ``RedisStore`` in
front of each. Like Django's ``SessionTestsMixin``: one suite, every backend.

No HTTP here: each test calls the store's methods inside an app context and
checks what the next call (and, for Redis, the database underneath) sees.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

from flask_sessionauth.core import tokens
from flask_sessionauth.core.errors import InvalidCredentials
from flask_sessionauth.core.errors import StorageUnavailable
from flask_sessionauth.core.records import SessionRecord
from flask_sessionauth.storage.base import SessionStore
from flask_sessionauth.storage.redis import TOMBSTONE
from flask_sessionauth.storage.redis import RedisStore
from flask_sessionauth.storage.redis import connect
from flask_sessionauth.storage.sql import Guard
from flask_sessionauth.storage.sql import SQLStore
from tests.conftest import REDIS_MODES
from tests.conftest import STORAGE_MODES
from tests.conftest import User
from tests.conftest import db
from tests.helpers import UTC
from tests.helpers import state_of
from tests.helpers import store_of

pytestmark = pytest.mark.storage("sqlite", "postgres", *REDIS_MODES)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
#: Nothing listens on port 1: connection refused, at once.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def values(user_id: int, now: dt.datetime, **overrides: t.Any) -> dict[str, t.Any]:
    """A new session's column values (as ``Sessions.create`` builds them)."""
    token = tokens.generate()
    row = {
        "id": token.session_id,
        "user_id": user_id,
        "secret_hash": tokens.hash_secret(token.secret),
        "remember": True,
        "expires_at": now + 7 * DAY,
        "created_at": now,
        "updated_at": now,
        "last_active_at": now,
        "authenticated_at": now,
        "ip_address": "192.0.2.1",
        "user_agent": "Mozilla/5.0 (contract)",
    }
    row.update(overrides)
    return row


def record(row: dict[str, t.Any], user_active: bool = True) -> SessionRecord:
    return SessionRecord(**row, user_active=user_active)


def in_database(store: SessionStore, session_id: str) -> SessionRecord | None:
    """The row itself, read past any cache."""
    return SQLStore.load(t.cast(SQLStore, store), session_id)


def forget_cached(store: SessionStore, session_id: str) -> None:
    """Drop a cached copy (not a tombstone), so the next load reads the database."""
    if isinstance(store, RedisStore):
        store.client.delete(store.key(session_id))


def guard(password_hash: str | None) -> Guard:
    return Guard(User.password_hash, password_hash, User.__table__.c.is_active)


def password_hash_of(user_id: int) -> str:
    return str(db.session.execute(sa.select(User.password_hash).where(User.id == user_id)).scalar_one())


@pytest.fixture
def now() -> dt.datetime:
    # The real clock: Redis gives entries a TTL of the time left until expiry.
    return dt.datetime.now(UTC)


@pytest.fixture
def store(app: Flask, storage: str, user: t.Any, other_user: t.Any) -> t.Iterator[SessionStore]:
    """The app's store, used directly inside an app context."""
    with app.app_context():
        store = store_of(app)
        assert isinstance(store, RedisStore) is STORAGE_MODES[storage].redis
        yield store
        db.session.remove()


@pytest.fixture
def alice(user: t.Any) -> int:
    return int(user.id)


@pytest.fixture
def bob(other_user: t.Any) -> int:
    return int(other_user.id)


# -- load and create ------------------------------------------------------------------


def test_load_of_an_unknown_id_is_none(store: SessionStore) -> None:
    assert store.load("A" * 22) is None


def test_create_then_load_gives_back_every_field(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now, remember=False, authenticated_at=None, ip_address=None, user_agent=None)
    assert store.create(row, None) == []
    assert store.load(row["id"]) == record(row)
    assert in_database(store, row["id"]) == record(row)  # written through to the database


def test_loaded_timestamps_are_aware_utc(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    store.create(row, None)
    loaded = store.load(row["id"])
    assert loaded is not None
    for value in (loaded.expires_at, loaded.created_at, loaded.updated_at, loaded.last_active_at):
        assert value is not None and value.utcoffset() == dt.timedelta(0)


def test_a_load_from_the_database_carries_the_users_is_active(
    store: SessionStore, alice: int, now: dt.datetime
) -> None:
    row = values(alice, now)
    store.create(row, None)
    # Plain SQL, so no ORM event ends the sessions: only the joined column changes.
    db.session.execute(sa.update(User).where(User.id == alice).values(is_active=False))
    db.session.commit()
    forget_cached(store, row["id"])
    loaded = store.load(row["id"])
    assert loaded is not None and loaded.user_active is False


def test_a_session_of_a_deleted_user_does_not_load(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    store.create(row, None)
    # Plain SQL: no ORM event; SQLite without PRAGMA foreign_keys keeps the orphan row.
    db.session.execute(sa.delete(User).where(User.id == alice))
    db.session.commit()
    forget_cached(store, row["id"])
    assert store.load(row["id"]) is None


def test_load_user_row(store: SessionStore, alice: int) -> None:
    row = store.load_user_row(alice)
    assert row is not None
    by_attr = dict(zip(t.cast(SQLStore, store).user_attrs, row, strict=True))
    assert by_attr["id"] == alice and by_attr["email"] == "alice@example.com" and by_attr["is_active"] is True
    assert store.load_user_row(10_000) is None


# -- extend and touch ------------------------------------------------------------------


def test_extend_stores_the_slid_expiry(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    store.create(row, None)
    later = now + 2 * DAY
    slid = record(row)._replace(expires_at=later + 7 * DAY, updated_at=later, last_active_at=later)
    assert store.extend(slid) is True
    assert store.load(row["id"]) == slid
    assert in_database(store, row["id"]) == slid


def test_touch_stores_the_activity_stamp_only(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    store.create(row, None)
    touched = record(row)._replace(last_active_at=now + HOUR)
    assert store.touch(touched) is True
    assert store.load(row["id"]) == touched
    assert in_database(store, row["id"]) == touched


@pytest.mark.parametrize("write", ["extend", "touch"])
def test_a_write_to_a_deleted_session_is_refused_and_never_resurrects_it(
    store: SessionStore, alice: int, now: dt.datetime, write: str
) -> None:
    """The refresh racing a revoke (checklist 36): the guarded write matches nothing."""
    row = values(alice, now)
    store.create(row, None)
    stale = t.cast(SessionRecord, store.load(row["id"]))
    assert store.delete(alice, [row["id"]]) == [row["id"]]
    later = stale._replace(expires_at=now + 9 * DAY, updated_at=now + HOUR, last_active_at=now + HOUR)
    assert getattr(store, write)(later) is False
    assert store.load(row["id"]) is None
    assert in_database(store, row["id"]) is None


@pytest.mark.parametrize("write", ["extend", "touch"])
def test_a_write_to_an_unknown_session_is_refused(
    store: SessionStore, alice: int, now: dt.datetime, write: str
) -> None:
    ghost = record(values(alice, now))
    assert getattr(store, write)(ghost) is False
    assert store.load(ghost.id) is None


# -- create with a cap, create with a guard ----------------------------------------------


def test_create_evicts_the_least_recently_active_beyond_max_sessions(
    store: SessionStore, alice: int, bob: int, now: dt.datetime
) -> None:
    oldest = values(alice, now - 3 * HOUR, last_active_at=now - 3 * HOUR)
    recent = values(alice, now - 4 * HOUR, last_active_at=now - HOUR)  # older, but used since
    middle = values(alice, now - 2 * HOUR, last_active_at=None)  # never stamped: its creation counts
    bobs = values(bob, now - 5 * HOUR, last_active_at=now - 5 * HOUR)
    for row in (oldest, recent, middle, bobs):
        assert store.create(row, None) == []
    newest = values(alice, now)
    assert store.create(newest, 3) == [oldest["id"]]
    assert store.load(oldest["id"]) is None
    assert all(store.load(r["id"]) is not None for r in (recent, middle, newest, bobs))
    # A cap of one keeps only the new session; the other user is never touched.
    last = values(alice, now + HOUR)
    assert store.create(last, 1) == [newest["id"], recent["id"], middle["id"]]
    assert [r for r in (recent, middle, newest) if store.load(r["id"]) is not None] == []
    assert store.load(last["id"]) is not None
    assert store.load(bobs["id"]) is not None


def test_create_ties_in_activity_evict_the_older_session(store: SessionStore, alice: int, now: dt.datetime) -> None:
    first = values(alice, now - 2 * HOUR, last_active_at=now - HOUR)
    second = values(alice, now - HOUR, last_active_at=now - HOUR)
    store.create(first, None)
    store.create(second, None)
    assert store.create(values(alice, now), 2) == [first["id"]]


def test_create_without_a_cap_evicts_nothing(store: SessionStore, alice: int, now: dt.datetime) -> None:
    rows = [values(alice, now - i * HOUR) for i in range(4)]
    assert [store.create(row, None) for row in rows] == [[], [], [], []]
    assert all(store.load(row["id"]) is not None for row in rows)


def test_create_with_a_guard_that_still_holds(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    assert store.create(row, 2, guard(password_hash_of(alice))) == []
    assert store.load(row["id"]) == record(row)
    row = values(alice, now)
    assert store.create(row, None, guard(None)) == []  # nothing verified: only is_active is checked
    assert store.load(row["id"]) is not None


def test_create_is_refused_when_the_password_changed_since_it_was_checked(
    store: SessionStore, alice: int, now: dt.datetime
) -> None:
    verified = password_hash_of(alice)
    db.session.execute(sa.update(User).where(User.id == alice).values(password_hash="$argon2id$changed"))
    db.session.commit()
    row = values(alice, now)
    with pytest.raises(InvalidCredentials):
        store.create(row, None, guard(verified))
    assert store.load(row["id"]) is None
    assert in_database(store, row["id"]) is None


@pytest.mark.parametrize("verified", [True, False])
def test_create_is_refused_for_an_inactive_user(
    store: SessionStore, alice: int, now: dt.datetime, verified: bool
) -> None:
    password_hash = password_hash_of(alice) if verified else None
    db.session.execute(sa.update(User).where(User.id == alice).values(is_active=False))
    db.session.commit()
    row = values(alice, now)
    with pytest.raises(InvalidCredentials):
        store.create(row, 3, guard(password_hash))
    assert store.load(row["id"]) is None
    assert in_database(store, row["id"]) is None


def test_create_is_refused_for_a_deleted_user(store: SessionStore, alice: int, now: dt.datetime) -> None:
    db.session.execute(sa.delete(User).where(User.id == alice))
    db.session.commit()
    row = values(alice, now)
    with pytest.raises(InvalidCredentials):
        store.create(row, None, guard(None))
    assert in_database(store, row["id"]) is None


def test_a_refused_create_evicts_nothing(store: SessionStore, alice: int, now: dt.datetime) -> None:
    existing = values(alice, now - HOUR)
    store.create(existing, None)
    db.session.execute(sa.update(User).where(User.id == alice).values(is_active=False))
    db.session.commit()
    with pytest.raises(InvalidCredentials):
        store.create(values(alice, now), 1, guard(None))
    assert in_database(store, existing["id"]) is not None


# -- replace ----------------------------------------------------------------------------


def test_replace_swaps_the_session_for_a_new_token(store: SessionStore, alice: int, now: dt.datetime) -> None:
    old = values(alice, now - HOUR)
    store.create(old, None)
    new = {**old, **values(alice, now, created_at=old["created_at"])}
    assert store.replace(old["id"], new) is True
    assert store.load(old["id"]) is None
    assert store.load(new["id"]) == record(new)
    assert in_database(store, new["id"]) == record(new)


def test_replace_of_a_deleted_session_is_refused_and_inserts_nothing(
    store: SessionStore, alice: int, now: dt.datetime
) -> None:
    old = values(alice, now)
    store.create(old, None)
    store.delete(alice, [old["id"]])
    new = values(alice, now)
    assert store.replace(old["id"], new) is False
    assert store.load(new["id"]) is None
    assert in_database(store, new["id"]) is None
    assert store.load(old["id"]) is None


# -- delete ------------------------------------------------------------------------------


@pytest.fixture
def three(store: SessionStore, alice: int, bob: int, now: dt.datetime) -> tuple[list[str], str]:
    """Three sessions of alice and one of bob: ``(alice's ids, bob's id)``."""
    rows = [values(alice, now - i * HOUR) for i in range(3)]
    bobs = values(bob, now)
    for row in (*rows, bobs):
        store.create(row, None)
    return [row["id"] for row in rows], bobs["id"]


def test_delete_all_of_a_users_sessions(store: SessionStore, alice: int, three: tuple[list[str], str]) -> None:
    ids, bobs = three
    assert sorted(store.delete(alice)) == sorted(ids)
    assert [store.load(i) for i in ids] == [None, None, None]
    assert store.load(bobs) is not None
    assert store.delete(alice) == []


def test_delete_by_ids(store: SessionStore, alice: int, three: tuple[list[str], str]) -> None:
    ids, bobs = three
    assert store.delete(alice, [ids[0], "A" * 22]) == [ids[0]]
    assert store.load(ids[0]) is None
    assert store.load(ids[1]) is not None and store.load(ids[2]) is not None
    assert store.delete(alice, []) == []


def test_delete_by_ids_is_scoped_to_the_user(store: SessionStore, alice: int, three: tuple[list[str], str]) -> None:
    ids, bobs = three
    assert store.delete(alice, [bobs]) == []
    assert store.load(bobs) is not None


@pytest.mark.parametrize("ids_given", [False, True])
def test_delete_keeps_the_one_kept(
    store: SessionStore, alice: int, three: tuple[list[str], str], ids_given: bool
) -> None:
    ids, bobs = three
    deleted = store.delete(alice, ids if ids_given else None, keep=ids[1])
    assert sorted(deleted) == sorted([ids[0], ids[2]])
    assert store.load(ids[1]) is not None
    assert store.load(ids[0]) is None and store.load(ids[2]) is None


def test_end_user_sessions_inside_the_callers_flush(
    store: SessionStore, alice: int, three: tuple[list[str], str]
) -> None:
    ids, bobs = three
    with db.engine.begin() as connection:
        store.end_user_sessions(connection, alice)
    assert [store.load(i) for i in ids] == [None, None, None]
    assert [in_database(store, i) for i in ids] == [None, None, None]
    assert store.load(bobs) is not None


def test_end_user_sessions_rolled_back_keeps_the_rows(
    store: SessionStore, alice: int, three: tuple[list[str], str]
) -> None:
    """The rows stay when the caller's transaction rolls back. (Redis keeps the
    tombstones it wrote first: those sessions stay signed out until they expire,
    ``TOMBSTONE_TTL``; failing safe, never resurrecting a revoked one.)"""
    ids, _ = three
    connection = db.engine.connect()
    transaction = connection.begin()
    store.end_user_sessions(connection, alice)
    transaction.rollback()
    connection.close()
    assert all(in_database(store, i) is not None for i in ids)


# -- list and cleanup -------------------------------------------------------------------


def test_list_gives_live_sessions_most_recently_active_first(
    store: SessionStore, alice: int, bob: int, now: dt.datetime
) -> None:
    used = values(alice, now - 3 * HOUR, last_active_at=now - HOUR)
    fresh = values(alice, now - 2 * HOUR, last_active_at=None)
    idle = values(alice, now - 5 * HOUR, last_active_at=now - 4 * HOUR)
    expired = values(alice, now - 8 * DAY, expires_at=now - DAY)
    ending_now = values(alice, now - 7 * DAY, expires_at=now)
    for row in (used, fresh, idle, expired, ending_now, values(bob, now)):
        store.create(row, None)
    listed = store.list(alice, now)
    assert [s.id for s in listed] == [used["id"], fresh["id"], idle["id"]]
    assert all(s.user_id == alice for s in listed)
    assert listed[0].user_agent == used["user_agent"] and listed[0].expires_at == used["expires_at"]
    with pytest.raises(sa.exc.InvalidRequestError):
        _ = listed[0].secret_hash  # not loaded, and never fetched on access
    assert store.list(10_000, now) == []


def test_cleanup_deletes_expired_sessions_in_batches(
    store: SessionStore, alice: int, bob: int, now: dt.datetime
) -> None:
    expired = [values(alice if i % 2 else bob, now - 9 * DAY, expires_at=now - i * HOUR) for i in range(5)]
    live = values(alice, now, expires_at=now + dt.timedelta(seconds=1))
    for row in (*expired, live):
        store.create(row, None)
    assert store.cleanup(now, 2) == 5  # batches of 2, 2 and 1; expiring exactly now counts as expired
    assert all(in_database(store, row["id"]) is None for row in expired)
    assert in_database(store, live["id"]) is not None
    assert store.cleanup(now, 2) == 0


# -- Redis in front of the database --------------------------------------------------------

redis_only = pytest.mark.storage(*REDIS_MODES)


@redis_only
def test_redis_create_caches_the_session_for_as_long_as_it_lives(
    store: RedisStore, alice: int, now: dt.datetime
) -> None:
    row = values(alice, now, expires_at=now + HOUR)
    store.create(row, None)
    assert 3500 < store.client.pttl(store.key(row["id"])) / 1000 <= 3600
    assert store.client.sismember(store.user_key(alice), row["id"])


@redis_only
def test_redis_deleted_ids_are_tombstoned(
    store: RedisStore, alice: int, three: tuple[list[str], str], now: dt.datetime
) -> None:
    ids, _ = three
    store.delete(alice, [ids[0]])
    store.replace(ids[1], values(alice, now))
    with db.engine.begin() as connection:
        store.end_user_sessions(connection, alice)
    assert [store.client.get(store.key(i)) for i in ids] == [TOMBSTONE] * 3
    assert not store.client.exists(store.user_key(alice))


@redis_only
def test_redis_a_tombstone_blocks_a_late_populate(store: RedisStore, alice: int, now: dt.datetime) -> None:
    """A reader that missed the cache and read the row before a revoke stores its
    copy after it: the tombstone wins (``SET NX``), the session stays dead."""
    row = values(alice, now)
    store.create(row, None)
    forget_cached(store, row["id"])
    stale = t.cast(SessionRecord, in_database(store, row["id"]))
    store.delete(alice, [row["id"]])
    store._populate(stale)
    assert store.client.get(store.key(row["id"])) == TOMBSTONE
    assert store.load(row["id"]) is None


@redis_only
def test_redis_a_refresh_never_replaces_a_tombstone(store: RedisStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    store.create(row, None)
    stale = t.cast(SessionRecord, store.load(row["id"]))
    store.delete(alice, [row["id"]])
    store._refresh_entry(stale._replace(last_active_at=now + HOUR))
    assert store.client.get(store.key(row["id"])) == TOMBSTONE


@redis_only
def test_redis_deleting_all_retires_copies_only_the_index_knows(
    store: RedisStore, alice: int, now: dt.datetime
) -> None:
    row = values(alice, now)
    store.create(row, None)
    db.session.execute(sa.text("DELETE FROM user_session"))  # behind the store's back
    db.session.commit()
    assert store.load(row["id"]) is not None  # the cached copy, as documented
    assert store.delete(alice) == []
    assert store.load(row["id"]) is None


@redis_only
def test_redis_unreachable_deletes_nothing(app: Flask, store: RedisStore, alice: int, now: dt.datetime) -> None:
    """Deleting needs the tombstones written first; without Redis nothing is deleted."""
    row = values(alice, now)
    store.create(row, None)
    state = state_of(app)
    dead = RedisStore(
        db, state.model, User, User.__table__.c.is_active, client=connect(DEAD_REDIS), prefix="x:", fallback="database"
    )
    with pytest.raises(StorageUnavailable):
        dead.delete(alice)
    with pytest.raises(StorageUnavailable):
        dead.delete(alice, [row["id"]])
    with pytest.raises(StorageUnavailable):
        dead.replace(row["id"], values(alice, now))
    assert in_database(store, row["id"]) is not None
    # Reads fall back to the database, or fail closed.
    assert dead.load(row["id"]) == record(row)
    failing = RedisStore(
        db, state.model, User, User.__table__.c.is_active, client=connect(DEAD_REDIS), prefix="x:", fallback="fail"
    )
    with pytest.raises(StorageUnavailable):
        failing.load(row["id"])


# -- location and device names ---------------------------------------------------------


def test_location_and_device_name_survive_every_read(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now, country="FR", region="Auvergne-Rhône-Alpes", city="Lyon", device_name="Laptop")
    store.create(row, None)
    assert store.load(row["id"]) == record(row)  # Redis: the copy written through at create
    forget_cached(store, row["id"])
    assert store.load(row["id"]) == record(row)  # read from the database (and cached again)
    [listed] = store.list(alice, now)
    assert {k: getattr(listed, k) for k in ("country", "region", "city", "device_name")} == {
        k: row[k] for k in ("country", "region", "city", "device_name")
    }


def test_rename_is_scoped_to_the_users_live_sessions(
    store: SessionStore, alice: int, bob: int, now: dt.datetime
) -> None:
    row = values(alice, now)
    ended = values(alice, now - 8 * DAY, expires_at=now - DAY)
    store.create(row, None)
    store.create(ended, None)
    store.load(row["id"])  # cached (Redis)
    assert not store.rename(bob, row["id"], "Bob's now", now)
    assert not store.rename(alice, ended["id"], "Old", now)
    assert not store.rename(alice, "A" * 22, "Nobody", now)
    assert store.rename(alice, row["id"], "Work laptop", now)
    assert store.load(row["id"]).device_name == "Work laptop"  # type: ignore[union-attr]
    assert in_database(store, row["id"]).device_name == "Work laptop"  # type: ignore[union-attr]
    assert store.rename(alice, row["id"], None, now)
    assert store.load(row["id"]).device_name is None  # type: ignore[union-attr]


def test_rename_never_revives_a_deleted_session(store: SessionStore, alice: int, now: dt.datetime) -> None:
    row = values(alice, now)
    store.create(row, None)
    store.delete(alice, [row["id"]])
    assert not store.rename(alice, row["id"], "Ghost", now)
    assert store.load(row["id"]) is None
    if isinstance(store, RedisStore):
        assert store.client.get(store.key(row["id"])) == TOMBSTONE
