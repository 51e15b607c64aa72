"""Time every failed-sign-in path of ``SessionAuth.authenticate``: ``python bench/timing.py [-n 60]``.

Not part of the test suite. Checklist item 4 / issue 10.4: an attacker who can
time one request must not tell a known account from an unknown one, whatever
the account's stored hash or the password sent. This script builds one app with
the production default hashing parameters (argon2id m=19456,t=2,p=1 and the
default scheme list), one user per stored-hash kind, and calls
``authenticate()`` directly (in an app context, outside a request, so the rate
limiter never answers first) for each failure path.

Samples are interleaved: each round runs every path once, in a shuffled order
(seeded), so load changes on a shared machine hit all paths alike. The first
round is reported separately ("cold"): it is where a lazily calibrated hasher
pays for calibration, and where a first encounter of a slower legacy format
shows. The table gives the median and p10/p90 of the warm rounds, each path's
median as a multiple of the reference path (a wrong password on a current
argon2 hash) and the largest ratio between any two paths' medians.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import typing as t

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.apps import plain_user_model  # noqa: E402
from flask_sessionauth import SessionAuth  # noqa: E402

PASSWORD = "correct horse battery"
WRONG = "wrong horse battery staple"
REFERENCE = "wrong password, argon2 account"


def build(data_dir: str) -> tuple[Flask, SessionAuth]:
    """The app with production defaults and one user per kind of stored hash."""
    from passlib.hash import bcrypt
    from passlib.hash import pbkdf2_sha256
    from werkzeug.security import generate_password_hash

    db = SQLAlchemy()

    User = plain_user_model(db)

    app = Flask("bench_timing")
    app.config.update(SECRET_KEY="bench-timing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{data_dir}/timing.db")
    auth = SessionAuth()
    db.init_app(app)
    auth.init_app(app, db=db, user_model=User)
    with app.app_context():
        db.create_all()
        auth.create_user("argon2@example.com", PASSWORD)
        inactive = auth.create_user("inactive@example.com", PASSWORD)
        inactive.is_active = False
        legacy = {
            "bcrypt@example.com": bcrypt.hash(PASSWORD),
            "pbkdf2@example.com": pbkdf2_sha256.hash(PASSWORD),
            "wz-scrypt@example.com": generate_password_hash(PASSWORD, "scrypt"),
            "wz-pbkdf2@example.com": generate_password_hash(PASSWORD, "pbkdf2:sha256:600000"),
            "garbage@example.com": "not-a-hash",
        }
        for email, stored in legacy.items():
            db.session.add(User(email=email, password_hash=stored))
        db.session.commit()
    return app, auth


PATHS: list[tuple[str, str, str]] = [
    ("unknown email", "nobody@example.com", WRONG),
    (REFERENCE, "argon2@example.com", WRONG),
    ("lone surrogate, known", "argon2@example.com", "\ud800" + WRONG),
    ("lone surrogate, unknown", "nobody@example.com", "\ud800" + WRONG),
    ("NUL, known", "argon2@example.com", WRONG + "\x00"),
    ("NUL, unknown", "nobody@example.com", WRONG + "\x00"),
    ("over-long (300), known", "argon2@example.com", "x" * 300),
    ("over-long (300), unknown", "nobody@example.com", "x" * 300),
    ("wrong password, bcrypt account", "bcrypt@example.com", WRONG),
    ("100 chars, bcrypt account", "bcrypt@example.com", "b" * 100),
    ("wrong password, pbkdf2_sha256 account", "pbkdf2@example.com", WRONG),
    ("wrong password, werkzeug scrypt account", "wz-scrypt@example.com", WRONG),
    ("wrong password, werkzeug pbkdf2 600k account", "wz-pbkdf2@example.com", WRONG),
    ("right password, inactive account", "inactive@example.com", PASSWORD),
    ("garbage stored hash", "garbage@example.com", PASSWORD),
]


def run(samples: int, seed: int, calibrate: bool) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as data_dir:
        app, auth = build(data_dir)
        if calibrate:
            with app.app_context():
                auth.hasher.calibrate()
        times: dict[str, list[float]] = {name: [] for name, _, _ in PATHS}
        cold: dict[str, float] = {}
        raised: dict[str, str] = {}
        with app.app_context():
            order = list(PATHS)
            for round_ in range(samples + 1):
                rng.shuffle(order)
                for name, email, password in order:
                    started = time.perf_counter()
                    try:
                        if auth.authenticate(email, password) is not None:
                            raise SystemExit(f"{name}: signed in; the benchmark only times failures")
                    except Exception as exc:  # the original code raised for some inputs
                        raised[name] = type(exc).__name__
                    elapsed = time.perf_counter() - started
                    if round_ == 0:
                        cold[name] = elapsed
                    else:
                        times[name].append(elapsed)
                print(f"round {round_}/{samples}", end="\r", file=sys.stderr, flush=True)
            floor = getattr(auth.hasher, "failure_floor", None)
    medians = {name: statistics.median(xs) for name, xs in times.items()}
    ref = medians[REFERENCE]
    how = ", after hasher.calibrate()" if calibrate else ""
    print(f"authenticate() failure paths, production defaults{how}, N={samples} interleaved rounds (+1 cold), ms")
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    print("| path | median | p10 | p90 | × reference | cold (1st) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _, _ in PATHS:
        xs = times[name]
        deciles = statistics.quantiles(xs, n=10, method="inclusive")
        note = f" (raised {raised[name]})" if name in raised else ""
        print(
            f"| {name}{note} | {medians[name] * 1e3:.1f} | {deciles[0] * 1e3:.1f} | {deciles[8] * 1e3:.1f} "
            f"| {medians[name] / ref:.2f} | {cold[name] * 1e3:.1f} |"
        )
    ratio = max(medians.values()) / min(medians.values())
    slowest = max(medians, key=medians.__getitem__)
    fastest = min(medians, key=medians.__getitem__)
    print(f"\nmax ratio between path medians: {ratio:.2f} ({slowest} / {fastest})")
    if callable(floor):
        floor = floor()
    if isinstance(floor, float):
        print(f"hasher failure floor at the end: {floor * 1e3:.1f} ms")


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--samples", type=int, default=60, help="warm rounds (at least 50 for the report)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--calibrate", action="store_true", help="call hasher.calibrate() first (new API)")
    args = parser.parse_args(argv)
    run(args.samples, args.seed, args.calibrate)


if __name__ == "__main__":
    main()
