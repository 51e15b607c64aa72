"""A process-local copy of Redis session entries, kept coherent by Redis
server-assisted invalidation (``SESSIONAUTH_REDIS_LOCAL_CACHE``, off by default).

A cache hit costs no round trip; the Redis entry stays the truth. How it stays
coherent:

* **Invalidation.** One dedicated connection per Redis primary (one for a
  single Redis or a Sentinel ``master_for`` client, one per primary of a
  ``RedisCluster``) runs ``CLIENT TRACKING ON REDIRECT <itself> BCAST PREFIX
  <prefix>s:`` and subscribes to ``__redis__:invalidate`` (RESP2): every
  write, expiry or eviction of a session key under this app's prefix, by any
  process, sends its name here, and the local copy is dropped. ``BCAST`` keeps
  no per-key state on the server and does not depend on which pool connection
  did the read.
* **No stale hit.** Before answering from the cache, the calling thread drains
  what has already arrived on those connections (a non-blocking check under
  the lock), so a revocation whose tombstone was written before this request
  began is applied before the lookup. A thread also drains them while the
  process is idle, so Redis never disconnects a slow subscriber.
* **Lost connection = no cache.** If an invalidation connection breaks (or is
  killed with ``CLIENT KILL``), or the primaries change (a cluster's slot map,
  the master Sentinel names, asked every ``RETRY`` seconds), every entry is
  dropped, the store's failover window starts, and the cache is bypassed
  (plain ``GET``) until all connections are subscribed again, on the new
  primaries.
* **Read/fill race.** A miss puts a placeholder in the cache *before* its
  ``GET``; the reply is stored only if that placeholder is still there. An
  invalidation (or a flush) arriving between the read and the fill removes the
  placeholder, so a value read just before a write is never kept.
* **Bounded.** At most ``size`` entries (placeholders included), least
  recently used evicted first. Absent keys are never cached, so lookups of
  made-up session ids cannot fill it.

redis-py's own client-side cache (``cache_config``, RESP3) is not used: it
tracks per pool connection and reads invalidations only on the connection
that serves a command, so a hit served on one connection can miss an
invalidation still waiting on another.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import threading
import time
import typing as t
import weakref

import redis

log = logging.getLogger("flask_sessionauth")

CHANNEL = "__redis__:invalidate"
#: Seconds between reconnection attempts, and the idle drain's wake-up.
RETRY = 0.5


class _Pending:
    """A placeholder: a miss whose ``GET`` is in flight."""

    __slots__ = ()


def primaries(client: t.Any) -> list[t.Any]:
    """A connection factory per primary: the client's own pool for a single
    Redis or a Sentinel ``master_for`` client; one per primary of a cluster."""
    if hasattr(client, "get_primaries"):
        return [client.get_redis_connection(node).connection_pool for node in client.get_primaries()]
    return [client.connection_pool]


def _resp2(kwargs: dict[str, t.Any]) -> dict[str, t.Any]:
    """The pool's connection settings, in RESP2 (redis-py 8 defaults to
    RESP3): invalidations then come as pub/sub messages on the connection,
    read like any reply. No maintenance notifications (RESP3 only)."""
    kwargs = {**kwargs, "protocol": 2}
    for name in ("maint_notifications_config", "maint_notifications_pool_handler"):
        kwargs.pop(name, None)
    return kwargs


def _topology(client: t.Any) -> tuple[str, ...]:
    """The primaries the invalidation connections must be on: a cluster's
    (from its slot map), the master Sentinel names now (asked), else none."""
    if hasattr(client, "get_primaries"):
        return tuple(sorted(node.name for node in client.get_primaries()))
    pool = client.connection_pool
    if hasattr(pool, "get_master_address"):
        host, port = pool.get_master_address()
        return (f"{host}:{port}",)
    return ()


class LocalCache:
    """Raw Redis values of session keys, by key; see the module docstring."""

    def __init__(self, client: t.Any, size: int, on_lost: t.Callable[[], None] | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"SESSIONAUTH_REDIS_LOCAL_CACHE must be a whole number of entries, 0 = off (got {size!r})")
        self.client = client
        self.size = size
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[str, bytes | _Pending] = collections.OrderedDict()
        self._conns: list[t.Any] = []
        self._topology: tuple[str, ...] = ()
        self.online = False
        #: The server-side ids of the invalidation connections (``CLIENT ID``).
        self.ids: list[int] = []
        self._prefix: str | None = None
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Called when the invalidations stop (a lost connection, a new master);
        # a bound method of the store that owns this cache, held weakly (no cycle).
        self._on_lost = None if on_lost is None else weakref.WeakMethod(on_lost)  # type: ignore[arg-type]
        # A fork while another thread held the lock must not leave the child's
        # lock held forever; the child starts its own listener on first use.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forked(ref))

    # -- lookups ------------------------------------------------------------

    def get(self, key: str, prefix: str) -> bytes | None:
        """``GET key`` answered from the cache where it can be, else from Redis."""
        with self._lock:
            if self._pid != os.getpid():
                self._start(prefix)
            self._drain()
            if not self.online:
                pending = None
            else:
                entry = self._entries.get(key)
                if isinstance(entry, bytes):
                    self._entries.move_to_end(key)
                    return entry
                pending = self._entries[key] = _Pending()
                self._entries.move_to_end(key)
                self._trim()
        try:
            raw: bytes | None = self.client.get(key)
        except BaseException:
            if pending is not None:
                self._discard(key, pending)
            raise
        if pending is not None:
            with self._lock:
                if self._entries.get(key) is pending:
                    if raw is None:
                        del self._entries[key]
                    else:
                        self._entries[key] = raw
        return raw

    def __len__(self) -> int:
        return sum(1 for entry in self._entries.values() if isinstance(entry, bytes))

    def _discard(self, key: str, pending: _Pending) -> None:
        with self._lock:
            if self._entries.get(key) is pending:
                del self._entries[key]

    def _trim(self) -> None:
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    # -- invalidation -------------------------------------------------------

    def _start(self, prefix: str) -> None:
        """First use in this process (or in a forked child): forget what the
        parent had, start the listener. Called with the lock held."""
        self._pid = os.getpid()
        self._prefix = f"{prefix}s:"
        self._entries.clear()
        self.online = False
        self._conns = []
        self._stop = threading.Event()
        # The thread holds only a weak reference: an app that is dropped
        # without close() still lets its cache, and the thread, go.
        self._thread = threading.Thread(
            target=_listen, args=(weakref.ref(self), self._stop), name="sessionauth-invalidation", daemon=True
        )
        self._thread.start()

    def _subscribe(self) -> None:
        """Open one tracking connection per primary (listener thread, no lock
        held while connecting); online once all are subscribed."""
        if hasattr(self.client, "nodes_manager"):
            # The slot map as of now: one loaded before a failover names the
            # old master, which may be back as a replica of the new one.
            self.client.nodes_manager.initialize()
        topology = _topology(self.client)
        conns, ids = [], []
        try:
            for pool in primaries(self.client):
                conn = pool.connection_class(**_resp2(pool.connection_kwargs))
                conns.append(conn)
                conn.connect()
                conn.send_command("CLIENT", "ID")
                client_id = conn.read_response()
                ids.append(int(client_id))
                conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", "PREFIX", self._prefix)
                if conn.read_response() not in (b"OK", "OK"):
                    raise redis.ConnectionError("CLIENT TRACKING refused")
                conn.send_command("SUBSCRIBE", CHANNEL)
                conn.read_response()
        except (redis.RedisError, OSError):
            for conn in conns:
                conn.disconnect()
            raise
        with self._lock:
            if self._stop.is_set():  # closed meanwhile
                for conn in conns:
                    conn.disconnect()
                return
            self._entries.clear()
            self._conns, self.ids = conns, ids
            self._topology = topology
            self.online = True

    def _drain(self) -> None:
        """Apply every invalidation already received; on a broken connection,
        go offline. Called with the lock held; never blocks on the network."""
        if not self.online:
            return
        try:
            for conn in self._conns:
                while conn.can_read(timeout=0):
                    self._apply(conn.read_response())
        except (redis.RedisError, OSError) as exc:
            log.warning("Redis invalidation connection lost, local session cache off until resubscribed: %s", exc)
            self._lost()

    def _lost(self) -> None:
        """Invalidations stopped while online: maybe a failover, whose promoted
        replica may lack recent writes; the store starts its failover window."""
        self._offline()
        on_lost = None if self._on_lost is None else self._on_lost()
        if on_lost is not None:
            on_lost()

    def _apply(self, message: t.Any) -> None:
        if not isinstance(message, list) or len(message) < 3 or message[0] not in (b"message", "message"):
            return
        keys = message[2]
        if keys is None:  # FLUSHDB / FLUSHALL
            self._entries.clear()
            return
        for key in keys:
            self._entries.pop(key.decode() if isinstance(key, bytes) else key, None)

    def _offline(self) -> None:
        self.online = False
        self._entries.clear()
        for conn in self._conns:
            conn.disconnect()
        self._conns, self.ids = [], []

    def _sockets(self) -> list[t.Any]:
        return [conn._sock for conn in self._conns if getattr(conn, "_sock", None) is not None]

    def close(self) -> None:
        """Stop the listener and close the invalidation connections."""
        self._stop.set()
        with self._lock:
            self._offline()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)


def _forked(ref: weakref.ref[LocalCache]) -> None:
    cache = ref()
    if cache is not None:
        cache._lock = threading.Lock()
        cache._pid = 0


def _listen(ref: weakref.ref[LocalCache], stop: threading.Event) -> None:
    """The listener: (re)subscribe, then drain whenever a connection has data
    (and every ``RETRY`` seconds). Ends on ``close()``, or once the cache is
    garbage collected."""
    checked = 0.0
    while not stop.is_set():
        cache = ref()
        if cache is None:
            return
        if not cache.online:
            try:
                cache._subscribe()
            except (redis.RedisError, OSError) as exc:
                log.warning("Redis invalidation connection failed, local session cache off: %s", exc)
                del cache
                stop.wait(RETRY)
                continue
        if time.monotonic() >= checked + RETRY:  # a Sentinel check is a round trip: not per message
            checked = time.monotonic()
            try:
                moved = cache._topology != _topology(cache.client)
            except (redis.RedisError, OSError):  # no Sentinel names a master: trust nothing
                moved = True
            if moved:
                log.warning("Redis primaries changed, local session cache emptied and resubscribed")
                with cache._lock:
                    cache._lost()
                continue
        sockets = cache._sockets()
        del cache  # no strong reference while waiting
        try:
            select.select(sockets, [], [], RETRY)
        except (OSError, ValueError):
            pass
        cache = ref()
        if cache is None:
            return
        if stop.is_set():
            return
        with cache._lock:
            cache._drain()
        del cache
