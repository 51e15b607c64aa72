"""Padding against sync workers: ``python bench/padding_workers.py [--seconds 15]``.

Not part of the test suite. Issue 15 item 5 measured that two attacker
connections sending failed sign-ins raised ``/health``'s median from 1 to
124 ms on two gunicorn sync workers: each failure holds a worker for the
padded floor. This script starts gunicorn (``--workers`` sync workers, on
127.0.0.1) on an app with production hashing defaults and one account on
Werkzeug's default PBKDF2 format, then measures ``/health`` three times:
idle; while ``--attackers`` connections loop failures for unknown e-mails
(after a few failures on the PBKDF2 account, so every worker has seen it);
and the attackers' own requests (wall time, and the CPU the view used).

The rate limits are raised so the padding, not a 429, is what is measured.
Run it from a checkout: the app imports ``flask_sessionauth`` from there.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
LEGACY = "wz-pbkdf2@example.com"


def create_app() -> t.Any:
    """The gunicorn app: ``/health`` and ``/fail`` (one failed ``authenticate``, its CPU in the body)."""
    from flask import Flask
    from flask import request
    from flask_sqlalchemy import SQLAlchemy
    from werkzeug.security import generate_password_hash

    from bench.apps import plain_user_model
    from flask_sessionauth import SessionAuth

    db = SQLAlchemy()

    User = plain_user_model(db)

    app = Flask("bench_padding_workers")
    app.config.update(
        SECRET_KEY="bench-padding-workers",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.environ['BENCH_PADDING_DB']}",
        SESSIONAUTH_RATE_LIMIT_ACCOUNT=10**9,
        SESSIONAUTH_RATE_LIMIT_ACCOUNT_TOTAL=10**9,
        SESSIONAUTH_RATE_LIMIT_IP=10**9,
    )
    auth = SessionAuth()
    db.init_app(app)
    auth.init_app(app, db=db, user_model=User)
    with app.app_context():
        db.create_all()
        if db.session.query(User).count() == 0:
            db.session.add(User(email=LEGACY, password_hash=generate_password_hash("right password", "pbkdf2")))
            db.session.commit()

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.post("/fail")
    def fail() -> t.Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        assert auth.authenticate(request.form["email"], "wrong password") is None
        return {"wall_ms": (time.perf_counter() - wall) * 1e3, "cpu_ms": (time.thread_time() - cpu) * 1e3}

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1e3


def post_fail(base: str, email: str) -> tuple[float, float]:
    """One failed sign-in: (wall ms, CPU ms) inside the view."""
    data = f"email={email}".encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/fail", data=data), timeout=60) as response:
        body = json.loads(response.read())
    return float(body["wall_ms"]), float(body["cpu_ms"])


def probe(base: str, seconds: float) -> list[float]:
    """``/health`` every 50 ms for ``seconds``: latencies in ms."""
    latencies, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        latencies.append(get(f"{base}/health"))
        time.sleep(0.05)
    return latencies


def run(seconds: float, attackers: int, workers: int, legacy: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        os.environ["BENCH_PADDING_DB"] = f"{tmp}/bench.db"
        create_app()  # the database and the account, before the workers start
        env = {**os.environ, "PYTHONPATH": ROOT}
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "--control-socket",
            f"{tmp}/ctl",
        ]
        server = subprocess.Popen([*cmd, "bench.padding_workers:create_app()"], cwd=ROOT, env=env)
        try:
            for _ in range(300):
                try:
                    get(f"{base}/health")
                    break
                except OSError:
                    time.sleep(0.1)
            idle = probe(base, seconds / 3)
            for _ in range(2 * workers if legacy else 0):
                post_fail(base, LEGACY)
            stop = threading.Event()
            attacks: list[tuple[float, float]] = []

            def attacker(n: int) -> None:
                i = 0
                while not stop.is_set():
                    attacks.append(post_fail(base, f"nobody{n}-{i}@example.com"))
                    i += 1

            threads = [threading.Thread(target=attacker, args=(n,)) for n in range(attackers)]
            for thread in threads:
                thread.start()
            loaded = probe(base, seconds)
            stop.set()
            for thread in threads:
                thread.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    how = "after failures on the PBKDF2 account" if legacy else "argon2 only (the PBKDF2 account untouched)"
    print(f"gunicorn, {workers} sync workers, {attackers} attacker connections, {seconds:.0f} s, {how}")
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"/health p50 idle:           {statistics.median(idle):.1f} ms (n={len(idle)})")
    print(f"/health p50 under attack:   {statistics.median(loaded):.1f} ms (n={len(loaded)})")
    wall = statistics.median(w for w, _ in attacks)
    cpu = statistics.median(c for _, c in attacks)
    print(f"attacker's failures, in the view: wall {wall:.1f} ms, CPU {cpu:.1f} ms (n={len(attacks)})")


def main(argv: t.Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--attackers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-legacy", action="store_true", help="never touch the PBKDF2 account")
    args = parser.parse_args(argv)
    run(args.seconds, args.attackers, args.workers, not args.no_legacy)


if __name__ == "__main__":
    main()
