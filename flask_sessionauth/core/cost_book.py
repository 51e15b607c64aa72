"""How long verifications take, per cost class: the basis of the failure floor.

Equal cost on failure
    A failed check must not tell a known account from an unknown one, so every
    failure path costs the same:

    * exactly one verification runs. With no usable stored hash, passlib's
      ``dummy_verify`` (the first scheme with the configured parameters); with
      one, the stored hash's own verifier. A password that can never match
      (not a string, over the maximum length, NUL, a lone surrogate, over 72
      UTF-8 bytes for bcrypt) is replaced by a fixed substitute secret that is
      checked against the stored hash instead, so it costs exactly what a
      wrong password on that account costs, and the answer is a failure
      whatever the substitute's result;
    * then the failure is padded (``sleep``) to a common *floor*.

The floor, and why it cannot be turned into a denial of service
    A verification is timed in **CPU seconds of its thread**
    (``time.thread_time``), never in wall seconds: concurrent requests, a busy
    machine or a stalled worker cannot inflate the book (a burst of 43
    concurrent wall-clock samples used to lift the floor from 0.5 to 1.5 s for
    good). A *cost class* is a scheme with its cost parameters
    (``("bcrypt", ..., 12, ...)``, ``("werkzeug", "scrypt:32768:8:1")``), and
    its estimate is the median of its last 15 timings that are younger than
    ``max_age`` (15 minutes): a class nobody verified for that long drops out,
    so a legacy format raises the floor only while it is in use. The floor is

        max(minimum, min(cap, margin × the slowest live estimate))

    (``margin`` 1.25, ``cap`` ``SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX``): one
    legacy account can raise what every failure costs up to the cap, never
    beyond, and an app with argon2 hashes only pays 1.25 × one argon2
    verification. A failure then sleeps until ``min(cap, floor × slowdown)``
    wall seconds have passed, where ``slowdown`` is its own work's wall time
    over its CPU time (at least 1): on a loaded machine every path below the
    cap is slowed alike and stays alike, no state carries the load over to
    later requests, and padding never holds a request past the cap (a
    verification that takes longer by itself is not padded at all).

    The current scheme's class is timed once when the hasher is built and
    *pinned* (it never drops out), so the first failure in a fresh process is
    padded like the later ones. A legacy class is only known once verified:
    the first failure on it after start-up or after ``max_age`` of disuse is
    padded to its own cost, which is slower than the rest if it is slower
    than the current floor. :meth:`PasswordHasher.calibrate` (or
    ``SESSIONAUTH_PASSWORD_CALIBRATE``) times and pins legacy classes at
    start-up to close that window; a class slower than the cap stays
    distinguishable (logged once), which is the price of the cap. Successful
    checks are never padded: success reveals the account anyway.
"""

from __future__ import annotations

import collections
import logging
import statistics
import threading
import typing as t

log = logging.getLogger(__name__)


class CostBook:
    """Recent CPU timings per cost class; :meth:`slowest` is the largest live estimate.

    ``now`` is any monotonic clock in seconds (the hasher's). ``cap`` is the
    floor's cap; a class that costs more is logged once (its accounts are the
    ones a timing can tell apart). The number of classes is capped so a table
    full of odd parameters cannot grow it without bound; expired classes free
    their place.
    """

    WINDOW = 15
    MAX_CLASSES = 64

    def __init__(self, max_age: float = 900.0, cap: float = 0.3) -> None:
        self.max_age = max_age
        self.cap = cap
        self._lock = threading.Lock()
        self._samples: dict[t.Hashable, collections.deque[tuple[float, float]]] = {}
        self._pinned: set[t.Hashable] = set()
        self._over_cap: set[t.Hashable] = set()

    def record(self, key: t.Hashable, seconds: float, now: float, *, pin: bool = False) -> None:
        """Add a timing; a pinned class keeps its latest timing when the others expire."""
        with self._lock:
            samples = self._samples.get(key)
            if samples is None:
                if len(self._samples) >= self.MAX_CLASSES:
                    self._expire(now)
                    if len(self._samples) >= self.MAX_CLASSES:
                        key = "(other)"
                samples = self._samples.setdefault(key, collections.deque(maxlen=self.WINDOW))
            samples.append((now, seconds))
            if pin:
                self._pinned.add(key)
            first_over_cap = seconds > self.cap and key not in self._over_cap
            if first_over_cap:
                self._over_cap.add(key)
        if first_over_cap:
            log.warning(
                "Verifying a %r password hash took %.0f ms of CPU, more than the failure floor's cap"
                " (SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX): failures on such accounts last longer than"
                " others until the account signs in once (its hash is then upgraded). Logged once.",
                key,
                seconds * 1e3,
            )

    def padding(self, floor: float, wall: float, cpu: float) -> float:
        """Seconds to sleep after ``wall`` seconds (``cpu`` of them on this thread) of work."""
        slowdown = max(wall / cpu, 1.0) if cpu > 0 else 1.0
        return min(self.cap, floor * slowdown) - wall

    def slowest(self, now: float) -> float:
        return max(self.estimates(now).values(), default=0.0)

    def estimates(self, now: float) -> dict[t.Hashable, float]:
        """The median of each class's live timings (a pinned class: at least its latest)."""
        with self._lock:
            self._expire(now)
            result = {}
            for key, samples in self._samples.items():
                live = [seconds for at, seconds in samples if now - at <= self.max_age]
                result[key] = statistics.median(live) if live else samples[-1][1]
            return result

    def _expire(self, now: float) -> None:
        """Forget the classes (not pinned) with no timing younger than ``max_age``."""
        for key in [k for k, s in self._samples.items() if k not in self._pinned and now - s[-1][0] > self.max_age]:
            del self._samples[key]
