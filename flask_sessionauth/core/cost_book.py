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
    * then the failure is padded (``sleep``) to a common *floor*: ``margin``
      (default 1.25) times the slowest estimate of any cost class this hasher
      has seen, where a cost class is a scheme with its cost parameters
      (``("bcrypt", 12)``, ``("werkzeug", "scrypt:32768:8:1")`` ...) and its
      estimate the 90th percentile of its last 15 real timings (success or
      failure). The floor is thus calibrated lazily from real work, costs
      nothing extra, follows the machine's load, and stays at the speed of
      the current scheme for an app that stores no legacy hashes. Slower
      legacy formats raise it for every path; faster ones wait up to it.

    The first verification of a cost class in a process has no estimate yet:
    if that class is slower than the floor, that one request shows it. Call
    :meth:`PasswordHasher.calibrate` at start-up (with no argument it times the
    configured schemes' and Werkzeug's default parameters; pass one stored
    hash per legacy format your table holds to cover other parameters) to
    remove that window. ``min_failure_seconds`` sets a fixed lower bound.
    Successful checks are never padded: success reveals the account anyway.
"""

from __future__ import annotations

import collections
import statistics
import threading
import typing as t


class CostBook:
    """Recent verification times per cost class; the floor is ``margin`` × the slowest estimate.

    A class's estimate is the 90th percentile of its last 15 timings: one slow
    sample (a GC pause) barely moves it, a lasting change (load) does, and
    under load it covers the slowest class's spread. With the median instead,
    ``bench/timing.py`` at a load of 3 on 2 cores showed bcrypt failures
    outlasting the floor in their slowest tail (p90 637 ms against 554 ms
    for argon2); with the 90th percentile, bcrypt's p90 was within 2% of
    argon2's (1023 against 1043 ms, on a busier machine). The number of
    classes is capped so a table full of odd parameters cannot grow it
    without bound.
    """

    WINDOW = 15
    MAX_CLASSES = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[t.Hashable, collections.deque[float]] = {}
        self._estimates: dict[t.Hashable, float] = {}

    def record(self, key: t.Hashable, seconds: float) -> None:
        with self._lock:
            samples = self._samples.get(key)
            if samples is None:
                if len(self._samples) >= self.MAX_CLASSES:
                    key = "(other)"
                samples = self._samples.setdefault(key, collections.deque(maxlen=self.WINDOW))
            samples.append(seconds)
            if len(samples) == 1:
                self._estimates[key] = seconds
            else:
                self._estimates[key] = statistics.quantiles(samples, n=10, method="inclusive")[8]

    def slowest(self) -> float:
        with self._lock:
            return max(self._estimates.values(), default=0.0)

    def estimates(self) -> dict[t.Hashable, float]:
        with self._lock:
            return dict(self._estimates)
