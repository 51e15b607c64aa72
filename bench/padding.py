"""What a failed sign-in costs and what an attacker gets from padding: ``python bench/padding.py``.

Not part of the test suite. Issue 15 item 5: equal-cost padding must not
amplify a denial of service. With production hashing defaults (argon2id
m=19456,t=2,p=1) and one account on Werkzeug's default PBKDF2 format (the
slowest common legacy format), this script measures, in one fresh process:

* **fresh**: the first failure of each kind (unknown e-mail, Werkzeug PBKDF2
  account), before the process has timed anything else;
* **amplification**: failures for unknown e-mails after one failure on the
  PBKDF2 account: wall milliseconds against CPU milliseconds of the thread
  (``time.thread_time``), i.e. how long a worker is held per unit of work;
* **burst**: ``--burst`` concurrent failures on the PBKDF2 account (threads),
  then the failure floor and the unknown-e-mail wall time right after the burst
  and, if the hasher exposes its book's clock, once the estimates have aged.

It calls ``authenticate()`` in an app context (no rate limiter), like
``bench/timing.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import typing as t

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.apps import plain_user_model  # noqa: E402
from flask_sessionauth import SessionAuth  # noqa: E402

PASSWORD = "correct horse battery"
WRONG = "wrong horse battery staple"
UNKNOWN = "nobody@example.com"
LEGACY = "wz-pbkdf2@example.com"


def build(data_dir: str) -> tuple[Flask, SessionAuth]:
    from werkzeug.security import generate_password_hash

    db = SQLAlchemy()

    User = plain_user_model(db)

    app = Flask("bench_padding")
    app.config.update(
        SECRET_KEY="bench-padding",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{data_dir}/padding.db",
        # authenticate() keeps its connection during the verification: one each for the burst
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 64},
    )
    with app.app_context():
        db.init_app(app)
        db.create_all()
        db.session.add(User(email=LEGACY, password_hash=generate_password_hash(PASSWORD, "pbkdf2")))
        db.session.commit()
    auth = SessionAuth()
    auth.init_app(app, db=db, user_model=User)
    return app, auth


def fail(app: Flask, auth: SessionAuth, email: str) -> tuple[float, float]:
    """One failed ``authenticate``: (wall ms, CPU ms of this thread)."""
    with app.app_context():
        wall, cpu = time.perf_counter(), time.thread_time()
        if auth.authenticate(email, WRONG) is not None:
            raise SystemExit("signed in; the benchmark only times failures")
        return (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3


def summary(pairs: list[tuple[float, float]]) -> str:
    wall = statistics.median(w for w, _ in pairs)
    cpu = statistics.median(c for _, c in pairs)
    return f"wall {wall:.1f} ms, CPU {cpu:.1f} ms, wall/CPU {wall / cpu:.1f}×"


def floor_ms(hasher: t.Any) -> float:
    return float(hasher.failure_floor()) * 1e3


def run(samples: int, burst: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        app, auth = build(data_dir)
        with app.app_context():
            hasher = auth.hasher
        print(f"init_app and set-up: {(time.perf_counter() - started) * 1e3:.0f} ms")
        print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
        first_unknown = fail(app, auth, UNKNOWN)
        later_unknown = [fail(app, auth, UNKNOWN) for _ in range(3)]
        first_legacy = fail(app, auth, LEGACY)
        print("fresh process:")
        print(f"  1st failure, unknown e-mail:        wall {first_unknown[0]:.1f} ms, CPU {first_unknown[1]:.1f} ms")
        print(f"  next failures, unknown e-mail:      {summary(later_unknown)}")
        print(f"  1st failure, Werkzeug PBKDF2 acct:  wall {first_legacy[0]:.1f} ms, CPU {first_legacy[1]:.1f} ms")
        legacy = [fail(app, auth, LEGACY) for _ in range(max(3, samples // 4))]
        unknown = [fail(app, auth, UNKNOWN) for _ in range(samples)]
        print("\nafter one failure on the PBKDF2 account:")
        print(f"  failures, PBKDF2 account:           {summary(legacy)}")
        print(f"  failures, unknown e-mail:           {summary(unknown)}")
        print(f"  failure floor:                      {floor_ms(hasher):.1f} ms")

        gate = threading.Barrier(burst)
        results: list[tuple[float, float]] = []

        def attacker() -> None:
            gate.wait()
            results.append(fail(app, auth, LEGACY))

        threads = [threading.Thread(target=attacker) for _ in range(burst)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(f"\nburst of {burst} concurrent failures on the PBKDF2 account ({time.perf_counter() - started:.1f} s):")
        print(f"  each:                               {summary(results)}")
        print(f"  failure floor after the burst:      {floor_ms(hasher):.1f} ms")
        after = [fail(app, auth, UNKNOWN) for _ in range(samples)]
        print(f"  failures, unknown e-mail, after:    {summary(after)}")
        book = getattr(hasher, "_costs", None)
        max_age = getattr(book, "max_age", None)
        if isinstance(max_age, (int, float)):
            real_clock = hasher.clock
            hasher.clock = lambda: real_clock() + max_age + 1
            aged = [fail(app, auth, UNKNOWN) for _ in range(samples)]
            print(f"  unknown e-mail, {max_age:.0f} s later:         {summary(aged)}")
            print(f"  failure floor then:                 {floor_ms(hasher):.1f} ms")


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--samples", type=int, default=20)
    parser.add_argument("--burst", type=int, default=43)
    args = parser.parse_args(argv)
    run(args.samples, args.burst)


if __name__ == "__main__":
    main()
