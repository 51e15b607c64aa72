"""The hot path's connection pool: a few autocommit connections, lent one
statement at a time, so a process holds a bounded number however many
threads or greenlets serve requests. Only :mod:`.prepared` uses this."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import typing as t

import sqlalchemy as sa


class _Lent:
    """One connection of the hot path's pool, tagged with the pool generation
    it was opened in (``engine.dispose()`` starts a new one)."""

    __slots__ = ("conn", "generation")

    def __init__(self, conn: t.Any, generation: int) -> None:
        self.conn = conn
        self.generation = generation

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


class _Waiter:
    """A request waiting for a connection: handed one (``lent``) or the right
    to open one (``may_open``) by whoever frees it, oldest waiter first."""

    __slots__ = ("ready", "lent", "may_open")

    def __init__(self, lock: t.Any) -> None:
        self.ready = threading.Condition(lock)
        self.lent: _Lent | None = None
        self.may_open = False


_FIRST_LOCK = threading.Lock()  # only guards creating a pool's lock (held for no I/O)


class Slots:
    """At most ``size`` autocommit connections, lent for one statement at a time.

    A connection is held only while its statement runs, then goes back, so a
    few serve any number of threads or greenlets, and none stays with an idle
    thread. Beyond ``size`` a statement waits for one (first come, first
    served) up to ``timeout`` seconds, then raises SQLAlchemy's
    ``TimeoutError`` (the typed 503). Waiting never deadlocks with the app's
    pool: a lent connection needs nothing else to come back.

    Lighter than SQLAlchemy's ``QueuePool`` (no reset-on-return, no events
    per checkout): a loan takes no lock while a connection is idle, a return
    one lock round trip. The lock is made on first use in each process, so
    under gevent or eventlet it is the patched, cooperative one even when the
    app was imported before the patching.
    """

    def __init__(self, factory: t.Callable[[], t.Any], size: int, timeout: float) -> None:
        self.factory = factory
        self.size = size
        self.timeout = timeout
        self.generation = 0
        self.forget()

    def forget(self) -> None:
        """Start empty without closing anything (a forked child: the parent
        owns those sockets)."""
        self.idle: list[_Lent] = []
        self.opened = 0  # idle + lent, the pool's share of the budget
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._lock: t.Any = None

    def _first_lock(self) -> t.Any:
        with _FIRST_LOCK:
            if self._lock is None:
                self._lock = threading.Lock()
            return self._lock

    def get(self) -> _Lent:
        """An idle connection, a new one within ``size``, or one returned
        while waiting. The common case takes no lock: ``list.pop`` is atomic,
        and while anyone waits nothing stays idle (returns are handed over)."""
        try:
            lent = self.idle.pop()
        except IndexError:
            return self._get_locked()
        if lent.generation == self.generation:
            return lent
        self.discard(lent)  # opened before engine.dispose()
        return self.get()

    def _get_locked(self) -> _Lent:
        with self._lock or self._first_lock():
            with contextlib.suppress(IndexError):
                return self.idle.pop()  # returned since ``get`` looked
            if self.opened >= self.size or self._waiters:
                lent = self._wait()
                if lent is not None:
                    return lent
            else:
                self.opened += 1
            generation = self.generation
        try:
            return _Lent(self.factory(), generation)
        except BaseException:
            self._free()
            raise

    def _wait(self) -> _Lent | None:
        """With the lock held: wait for a connection (returned) or a free slot
        (``None``: the caller opens one, already counted in ``opened``)."""
        waiter = _Waiter(self._lock)
        self._waiters.append(waiter)
        deadline = time.monotonic() + self.timeout
        try:
            while waiter.lent is None and not waiter.may_open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise sa.exc.TimeoutError(
                        f"flask-sessionauth: all {self.size} hot-path connections (SESSIONAUTH_POOL_SIZE) "
                        f"stayed busy for {self.timeout:g} s"
                    )
                waiter.ready.wait(remaining)
        except BaseException:
            # Timed out, or interrupted while waiting (a greenlet killed, a
            # gevent.Timeout): pass on whatever was handed over meanwhile, so
            # no connection or slot is lost with this waiter.
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.lent is not None and self._put_locked(waiter.lent):
                waiter.lent.close()
            elif waiter.may_open:
                self._free_locked()
            raise
        return waiter.lent

    def put(self, lent: _Lent) -> None:
        """A connection back after a statement that went through."""
        with self._lock:
            if not self._waiters and lent.generation == self.generation:
                self.idle.append(lent)  # the common case, inlined
                return
            stale = self._put_locked(lent)
        if stale:
            lent.close()  # opened before engine.dispose()

    def _put_locked(self, lent: _Lent) -> bool:
        """Hand ``lent`` to the oldest waiter or keep it idle; ``True``: it
        is stale, close it (its slot is freed)."""
        if lent.generation != self.generation:
            self._free_locked()
            return True
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.lent = lent
            waiter.ready.notify()
        else:
            self.idle.append(lent)
        return False

    def discard(self, lent: _Lent) -> None:
        """Close a connection whose statement failed or was interrupted."""
        lent.close()
        self._free()

    def _free(self) -> None:
        with self._lock:
            self._free_locked()

    def _free_locked(self) -> None:
        if self._waiters:
            waiter = self._waiters.popleft()
            waiter.may_open = True  # the slot passes on: ``opened`` stays
            waiter.ready.notify()
        else:
            self.opened -= 1

    def dispose(self) -> None:
        """Close the idle connections; lent ones are closed when they come back."""
        idle = []
        with self._lock or self._first_lock():
            self.generation += 1
            with contextlib.suppress(IndexError):
                while True:  # one by one: a getter may pop one meanwhile
                    idle.append(self.idle.pop())
            self.opened -= len(idle)
        for lent in idle:
            lent.close()
