"""Storage: the session table, the stores behind one protocol, the cookie cache
and the rate limiter's counters. Built once per app by :func:`build`."""

from __future__ import annotations

import hashlib
import logging
import typing as t

import sqlalchemy as sa

from ..core.config import Settings
from . import orm_fastpath
from .base import SessionStore
from .cookie_cache import CookieCache
from .errors import classify
from .errors import storage_errors
from .orm import Objects
from .sql import SQLStore
from .throttle import Counters
from .throttle import SQLCounters

__all__ = ["SessionStore", "Storage", "build", "classify", "storage_errors"]

log = logging.getLogger("flask_sessionauth")


class Storage(t.NamedTuple):
    """One app's storage: where sessions live, and what is built from them."""

    store: SessionStore
    counters: Counters
    cookie_cache: CookieCache | None
    objects: Objects


def storage_identity(engine: sa.Engine, *tables: str) -> str:
    """A stable name for "this database and these tables" (no password in it)."""
    url = engine.url.render_as_string(hide_password=True)
    return hashlib.sha256("|".join([url, *tables]).encode()).hexdigest()[:24]


def user_columns(config: t.Mapping[str, t.Any], db: t.Any, user_model: t.Any) -> list[str]:
    """The user's columns the session read joins for ``current_user``'s fast
    path: all of them where it is exact for this model, else none (the
    user then comes from ``db.session.get``; the join still validates)."""
    mapper = sa.inspect(user_model)
    reason = "SESSIONAUTH_USER_FASTPATH is off"
    if config["SESSIONAUTH_USER_FASTPATH"]:
        reason = orm_fastpath.unfit(mapper, db.engine.dialect) or ""
    if reason:
        log.info("current_user for %s loads through db.session.get: %s", user_model.__name__, reason)
        return []
    return [attr.key for attr in mapper.column_attrs]


def build(config: t.Mapping[str, t.Any], settings: Settings, db: t.Any, model: t.Any, user_model: t.Any) -> Storage:
    """The stores for one app: SQL, or Redis in front of it when configured."""
    active = sa.inspect(user_model).columns.get("is_active")
    joined = user_columns(config, db, user_model)
    tables = (model.__table__.name, user_model.__table__.name)
    identity = storage_identity(db.engine, *tables)
    store: SQLStore
    counters: Counters
    window = int(config["SESSIONAUTH_RATE_LIMIT_WINDOW"])
    url = config["SESSIONAUTH_REDIS_URL"]
    if url:
        # Optional dependency: imported only when Redis is configured.
        from . import redis as redis_tier

        client = redis_tier.connect(url)
        prefix = f"{config['SESSIONAUTH_REDIS_PREFIX']}{redis_tier.namespace(config['SECRET_KEY'], identity)}:"
        fallback = config["SESSIONAUTH_REDIS_FALLBACK"]
        store = redis_tier.RedisStore(
            db, model, user_model, active, joined, client=client, prefix=prefix, fallback=fallback
        )
        sql_counters = SQLCounters(db, store._reader, window)
        counters = redis_tier.RedisCounters(client, prefix, sql_counters if fallback == "database" else None, window)
    else:
        store = SQLStore(db, model, user_model, active, joined)
        counters = SQLCounters(db, store._reader, window)
    max_age = settings.cookie_cache_max_age
    cache = CookieCache(settings.cookie_name, max_age, identity) if max_age > 0 else None
    objects = Objects(db, model, user_model, store.user_attrs)
    return Storage(store, counters, cache, objects)
