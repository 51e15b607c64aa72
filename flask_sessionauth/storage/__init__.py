"""Storage: the session table, the stores behind one protocol, the cookie cache
and the rate limiter's counters. Built once per app by :func:`build`."""

from __future__ import annotations

import logging
import typing as t

import sqlalchemy as sa

from ..core.config import Settings
from . import orm_fastpath
from .base import SessionStore
from .cookie_cache import CookieCache
from .deployment import Deployment
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
    deployment: Deployment


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
    """The stores for one app: SQL, or Redis in front of it when configured.
    Redis keys and the cookie cache are namespaced by the deployment id, read
    on first use (see :mod:`.deployment`)."""
    active = sa.inspect(user_model).columns.get("is_active")
    joined = user_columns(config, db, user_model)
    tables = (model.__table__.fullname, user_model.__table__.fullname)
    # Read on first use, on the store's connections (``store`` is set below).
    deployment = Deployment(model.metadata, lambda: store._reader(), tables, config["SESSIONAUTH_DEPLOYMENT_ID"])
    store: SQLStore
    counters: Counters
    window = int(config["SESSIONAUTH_RATE_LIMIT_WINDOW"])
    pool_size = config["SESSIONAUTH_POOL_SIZE"]
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise ValueError(f"SESSIONAUTH_POOL_SIZE must be a whole number of connections, at least 1 (got {pool_size!r})")
    if config["SESSIONAUTH_REDIS_URL"] or config["SESSIONAUTH_REDIS_CLIENT"] is not None:
        # Optional dependency: imported only when Redis is configured.
        from . import local_cache
        from . import redis as redis_tier
        from . import redis_clients
        from .redis_counters import RedisCounters

        client = t.cast(t.Any, redis_clients.from_config(config))
        prefix = redis_tier.Prefix(config["SESSIONAUTH_REDIS_PREFIX"], deployment)
        fallback = config["SESSIONAUTH_REDIS_FALLBACK"]
        distrust = config["SESSIONAUTH_REDIS_FAILOVER_WINDOW"]
        if isinstance(distrust, bool) or not isinstance(distrust, (int, float)) or not 0 <= distrust <= 86400:
            raise ValueError(f"SESSIONAUTH_REDIS_FAILOVER_WINDOW must be seconds, 0-86400 (got {distrust!r})")
        replicas = redis_clients.wait_replicas(config, client)
        store = redis_tier.RedisStore(
            db, model, user_model, active, joined, client=client, prefix=prefix, fallback=fallback,
            pool_size=pool_size, wait_replicas=replicas, failover_window=float(distrust),
        )  # fmt: skip
        if size := config["SESSIONAUTH_REDIS_LOCAL_CACHE"]:
            store.local = local_cache.LocalCache(client, size, on_lost=store.distrust)
        sql_counters = SQLCounters(db, store._reader, window)
        counters = RedisCounters(client, prefix, sql_counters if fallback == "database" else None, window)
    else:
        store = SQLStore(db, model, user_model, active, joined, pool_size=pool_size)
        counters = SQLCounters(db, store._reader, window)
    max_age = settings.cookie_cache_max_age
    cache = CookieCache(settings.cookie_name, max_age, deployment.value) if max_age > 0 else None
    objects = Objects(db, model, user_model, store.user_attrs)
    return Storage(store, counters, cache, objects, deployment)
