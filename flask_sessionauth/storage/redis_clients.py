"""The Redis client of the Redis tier: a ready one the app built
(``SESSIONAUTH_REDIS_CLIENT``), or one made from ``SESSIONAUTH_REDIS_URL``:

* ``redis://``, ``rediss://`` (TLS), ``unix://``: one server (redis-py's URL
  syntax, ``/<db>`` included);
* ``redis+cluster://[user:password@]host:port,host:port,...`` (``rediss+cluster``
  with TLS): a Redis Cluster, given some of its nodes (the rest is discovered);
* ``redis+sentinel://[user:password@]host:port,host:port,.../<service>[/<db>]``
  (``rediss+sentinel``): the master Sentinel names ``<service>``, found again
  after a failover; the credentials are the data nodes' (sentinels without auth).

Also here: :func:`set_replicated`, the writes a revoke depends on, which must
be on ``replicas`` replicas before the database rows may go (``WAIT``): a
replica promoted after a crash then holds them (see :doc:`storage`).
"""

from __future__ import annotations

import typing as t
from urllib.parse import unquote
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel
from redis.sentinel import SentinelConnectionPool

#: A client of any kind: ``redis.Redis[bytes]`` (one server, or a master
#: Sentinel manages) or ``RedisCluster`` (typed loosely: the type stubs lag
#: behind redis-py's cluster client).
Client: t.TypeAlias = t.Any
#: Short timeouts: an unreachable Redis must turn into a fallback or a 503
#: within a second, not hang the request.
TIMEOUTS: dict[str, t.Any] = {"socket_timeout": 1, "socket_connect_timeout": 1}
#: Milliseconds a revoke waits for the replicas to confirm its tombstones.
WAIT_TIMEOUT_MS = 500


class NotReplicated(redis.RedisError):
    """Fewer replicas than required confirmed a write in time."""


def describe(exc: Exception) -> str:
    """An error for the log, without the failed command's arguments (keys
    hold session ids, values session records)."""
    text = str(exc)
    if "caused error:" in text:  # "Command # 1 (SET <key> <value> ...) of pipeline caused error: ..."
        text = text.rsplit("caused error:", 1)[1].strip()
    return f"{type(exc).__name__}: {text[:200]}"


def _error(url: str, problem: str) -> ValueError:
    shown = url.split("@", 1)[-1]  # never echo a password
    return ValueError(f"SESSIONAUTH_REDIS_URL ({shown!r}): {problem}")


def _hosts(url: str, netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for part in netloc.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or host.endswith(":"):  # no port (or a bare IPv6 address)
            host, port = part.strip(), str(default_port)
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _error(url, f"{part!r} is not host:port")
        hosts.append((host, int(port)))
    return hosts


def connect(url: str) -> Client:
    """A client for ``url`` (see the module docstring); ``ValueError`` names
    what is wrong with it."""
    if not isinstance(url, str) or "://" not in url:
        raise _error(str(url), "expected redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://")
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    base, _, kind = scheme.partition("+")
    if base not in ("redis", "rediss") or kind not in ("cluster", "sentinel"):
        raise _error(url, f"unknown scheme {scheme!r}")
    parts = urlsplit(url)
    userinfo, _, netloc = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    auth: dict[str, t.Any] = {"username": unquote(user) or None, "password": unquote(password) or None}
    auth.update(TIMEOUTS, ssl=base == "rediss")
    if parts.query or parts.fragment:
        raise _error(url, "options (?...) are not supported here: build the client and pass SESSIONAUTH_REDIS_CLIENT")
    path = [p for p in parts.path.split("/") if p]
    if kind == "cluster":
        if path:
            raise _error(url, "a cluster has only database 0: remove the path")
        nodes = [ClusterNode(host, port) for host, port in _hosts(url, netloc, 6379)]
        # One retry (after the slot map is reloaded), no backoff: a failover
        # under way turns into the fallback at once, not after seconds of retries.
        return RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 1), **auth)
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise _error(url, "expected redis+sentinel://host:port,.../<service name>[/<db>]")
    sentinel = Sentinel(_hosts(url, netloc, 26379), sentinel_kwargs=dict(TIMEOUTS), **TIMEOUTS)
    db = int(path[1]) if len(path) == 2 else 0
    return sentinel.master_for(unquote(path[0]), db=db, **auth)  # auth holds the timeouts


def from_config(config: t.Mapping[str, t.Any]) -> Client | None:
    """The configured client: ``SESSIONAUTH_REDIS_CLIENT`` or one for
    ``SESSIONAUTH_REDIS_URL`` (``None``: no Redis tier)."""
    client, url = config["SESSIONAUTH_REDIS_CLIENT"], config["SESSIONAUTH_REDIS_URL"]
    if client is not None and url:
        raise ValueError("Set SESSIONAUTH_REDIS_CLIENT or SESSIONAUTH_REDIS_URL, not both")
    if client is not None:
        if not isinstance(client, (redis.Redis, RedisCluster)):
            raise ValueError(
                "SESSIONAUTH_REDIS_CLIENT must be a redis.Redis, a redis.cluster.RedisCluster "
                f"or a Sentinel master_for() client (got {type(client).__name__})"
            )
        if client.get_encoder().decode_responses:
            raise ValueError("SESSIONAUTH_REDIS_CLIENT must return bytes (decode_responses=False)")
        return client
    return connect(url) if url else None


def replicated(client: Client) -> bool:
    """Whether the client knows its Redis has replicas that may be promoted
    (a cluster, a Sentinel-managed master)."""
    return isinstance(client, RedisCluster) or isinstance(client.connection_pool, SentinelConnectionPool)


def wait_replicas(config: t.Mapping[str, t.Any], client: Client) -> int:
    """``SESSIONAUTH_REDIS_WAIT_REPLICAS``; ``None`` means 1 for a cluster or
    Sentinel client, 0 for one server."""
    value = config["SESSIONAUTH_REDIS_WAIT_REPLICAS"]
    if value is None:
        return 1 if replicated(client) else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"SESSIONAUTH_REDIS_WAIT_REPLICAS must be None or a whole number >= 0 (got {value!r})")
    return value


def set_replicated(client: Client, items: dict[str, bytes], ttl: int, replicas: int) -> None:
    """``SET key value EX ttl`` for every item, then (``replicas`` > 0) ``WAIT``
    on each master written to, on the connection that wrote (``WAIT`` counts
    that connection's writes). Raises :class:`NotReplicated` (or the client's
    error) unless every master has them on ``replicas`` replicas."""
    if not items:
        return
    if isinstance(client, RedisCluster):
        by_node: dict[str, tuple[Client, dict[str, bytes]]] = {}
        try:
            for key, value in items.items():
                node = client.get_node_from_key(key)
                if node is None:
                    raise redis.ConnectionError("no master serves a key's hash slot")
                by_node.setdefault(node.name, (node, {}))[1][key] = value
            for node, group in by_node.values():
                # The node's own client (made anew after the slot map changed).
                _set_and_wait(client.get_redis_connection(node), group, ttl, replicas)
        except redis.RedisError:
            # A crashed or moved master: learn the new layout for next time.
            try:
                client.nodes_manager.initialize()
            except redis.RedisError:
                pass
            raise
        return
    _set_and_wait(client, items, ttl, replicas)


def _set_and_wait(client: Client, items: dict[str, bytes], ttl: int, replicas: int) -> None:
    pipe = client.pipeline(transaction=False)
    for key, value in items.items():
        pipe.set(key, value, ex=ttl)
    if replicas:
        pipe.execute_command("WAIT", replicas, WAIT_TIMEOUT_MS)
    replies = pipe.execute()
    if replicas and int(replies[-1]) < replicas:
        raise NotReplicated(f"{replies[-1]} of {replicas} replicas confirmed within {WAIT_TIMEOUT_MS} ms")
