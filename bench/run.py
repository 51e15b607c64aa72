"""Benchmark flask-sessionauth against its peers: ``.venv/bin/python bench/run.py [--quick]``.

Not part of the test suite. Measures, in one run on this machine:

* in-process WSGI calls of an authenticated ``GET /me`` and ``GET /whoami``
  (best of several rounds, µs per request, ratio to plain Flask);
* SQL statements (and Redis commands) per request in each mode;
* the 1M-row scale check (SQLite, 1k vs 1M session rows);
* an HTTP run: gunicorn (2 sync workers) + ``wrk`` on 127.0.0.1, bounded.

Options: ``--quick`` (fewer iterations, 100k rows instead of 1M, 3 s HTTP
runs), ``--no-http``, ``--no-scale``, ``--modes a,b``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import sqlalchemy as sa  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from bench import apps  # noqa: E402

LABELS = {
    "plain": "plain Flask, no auth",
    "flask-login": "Flask-Login (signed cookie + SQLAlchemy user_loader, SQLite)",
    "flask-session": "Flask-Session 0.8 (SQLAlchemy, SQLite) + Flask-Login",
    "orm": "hand-written lookup, Flask-SQLAlchemy ORM, SQLite",
    "core": "hand-written lookup, SQLAlchemy Core, SQLite",
    "sqlite3": "hand-written lookup, raw sqlite3 (floor)",
    "sessionauth-sqlite": "flask-sessionauth, SQLite",
    "sessionauth-postgres": "flask-sessionauth, PostgreSQL",
    "sessionauth-redis": "flask-sessionauth, Redis secondary storage",
    "sessionauth-cookie-cache": "flask-sessionauth, cookie cache",
}
TARGETS = {
    ("sessionauth-sqlite", "/me"): 2.5,
    ("sessionauth-sqlite", "/whoami"): 1.5,
    ("sessionauth-cookie-cache", "/me"): 1.2,
    ("sessionauth-cookie-cache", "/whoami"): 1.2,
    ("sessionauth-postgres", "/me"): 3.0,
    ("sessionauth-postgres", "/whoami"): 3.0,
    ("sessionauth-redis", "/me"): 1.6,
    ("sessionauth-redis", "/whoami"): 1.6,
}


def _cookies_from(headers: t.Iterable[tuple[str, str]]) -> dict[str, str]:
    cookies = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            cookies[key] = val
    return cookies


class Harness:
    """Calls one app's WSGI callable directly with a prepared environ."""

    def __init__(self, app: t.Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    def call(self, method: str, path: str) -> tuple[str, list[tuple[str, str]], bytes]:
        environ = EnvironBuilder(path=path, method=method, headers=self._headers()).get_environ()
        captured: list[t.Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> t.Any:
            captured[:] = [status, headers]

        body = self.app(environ, start_response)
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
        cookies = _cookies_from(captured[1])
        for key, value in cookies.items():
            if value:
                self.cookies[key] = value
            else:
                self.cookies.pop(key, None)
        return captured[0], captured[1], data

    def _headers(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def sign_in(self) -> None:
        status, _, body = self.call("POST", "/bench/login")
        assert status.startswith("200"), (status, body)
        # A second request picks up any cookie the first authenticated one sets
        # (the cookie cache), so the timed loop replays a steady state.
        for _ in range(2):
            self.call("GET", "/me")

    def timer(self, path: str) -> t.Callable[[int], float]:
        """A function running ``n`` requests and returning µs/request."""
        base = EnvironBuilder(path=path, headers=self._headers()).get_environ()
        app = self.app

        def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> None:
            if not status.startswith("200"):
                raise RuntimeError(f"{path}: {status}")

        def run(n: int) -> float:
            start = time.perf_counter()
            for _ in range(n):
                body = app(base.copy(), start_response)
                for _chunk in body:
                    pass
                body.close()
            return (time.perf_counter() - start) / n * 1e6

        return run


def best_of(run: t.Callable[[int], float], n: int, rounds: int) -> float:
    run(max(n // 10, 50))  # warm up caches, pools, compiled statements
    gc.collect()
    gc.disable()
    try:
        return min(run(n) for _ in range(rounds))
    finally:
        gc.enable()


class RedisCounter:
    """Counts Redis commands by wrapping the connection's ``send_command``."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    @contextlib.contextmanager
    def watch(self) -> t.Iterator[RedisCounter]:
        import redis.connection

        original = redis.connection.AbstractConnection.send_packed_command

        def send(conn: t.Any, command: t.Any, check_health: bool = True) -> t.Any:
            self.commands.append("round trip")
            return original(conn, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def count_statements(app: t.Any, harness: Harness, path: str) -> tuple[int, int]:
    """(SQL statements, Redis round trips) for one request."""
    db = app.extensions["bench_db"]
    statements: list[str] = []

    def on_execute(*args: t.Any) -> None:
        statements.append(args[2])

    sqlite_conns = app.extensions.get("bench_sqlite3_connections", [])
    for conn in sqlite_conns:
        conn.set_trace_callback(statements.append)
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", on_execute)
    counter = RedisCounter()
    try:
        with counter.watch():
            harness.call("GET", path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        for conn in sqlite_conns:
            conn.set_trace_callback(None)
    return len(statements), len(counter.commands)


def postgres_ok() -> bool:
    try:
        engine = sa.create_engine(sa.make_url(apps.POSTGRES_URL).set(database="postgres"))
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def redis_ok() -> bool:
    try:
        import redis

        redis.Redis.from_url(apps.REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def in_process(modes: list[str], data_dir: str, n: int, rounds: int) -> list[dict[str, t.Any]]:
    """Time every mode, interleaved: each round runs every (mode, path) once,
    and the best round counts. Interleaving spreads any background load over
    all modes alike, so the ratios to plain Flask stay fair on a busy machine."""
    setups: list[tuple[t.Any, dict[str, t.Any], dict[str, t.Callable[[int], float]]]] = []
    for mode in modes:
        if mode == "sessionauth-postgres" and not postgres_ok():
            print(f"  skip {mode}: PostgreSQL not reachable", file=sys.stderr)
            continue
        if mode == "sessionauth-redis":
            if not redis_ok():
                print(f"  skip {mode}: Redis not reachable", file=sys.stderr)
                continue
            import redis

            redis.Redis.from_url(apps.REDIS_URL).flushdb()
        app = apps.setup(mode, data_dir)
        harness = Harness(app)
        harness.sign_in()
        row: dict[str, t.Any] = {"mode": mode}
        timers = {}
        for path in ("/me", "/whoami"):
            row[path + " sql"], row[path + " redis"] = count_statements(app, harness, path)
            timers[path] = harness.timer(path)
            timers[path](max(n // 10, 50))  # warm up caches, pools, prepared statements
            row[path] = float("inf")
        setups.append((app, row, timers))
    gc.collect()
    gc.disable()
    try:
        for i in range(rounds):
            for _, row, timers in setups:
                for path, timer in timers.items():
                    row[path] = min(row[path], timer(n))
            print(f"  round {i + 1}/{rounds} done", file=sys.stderr)
    finally:
        gc.enable()
    for app, row, _ in setups:
        with app.app_context():
            app.extensions["bench_db"].engine.dispose()
        print(f"  {row['mode']:26} /me {row['/me']:8.1f} µs  /whoami {row['/whoami']:8.1f} µs", file=sys.stderr)
    return [row for _, row, _ in setups]


def scale_check(data_dir: str, rows: int, n: int, rounds: int) -> dict[str, float]:
    """``/whoami`` with 1k and with ``rows`` other session rows, interleaved."""
    timers = {}
    apps_ = []
    for count in (1_000, rows):
        sub = os.path.join(data_dir, f"scale{count}")
        os.makedirs(sub, exist_ok=True)
        started = time.perf_counter()
        app = apps.setup("sessionauth-sqlite", sub, extra_sessions=count)
        print(f"  scale: {count:,} rows inserted in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        harness = Harness(app)
        harness.sign_in()
        timers[str(count)] = harness.timer("/whoami")
        timers[str(count)](max(n // 10, 50))
        apps_.append(app)
    figures = {key: float("inf") for key in timers}
    for _ in range(rounds):
        for key, timer in timers.items():
            figures[key] = min(figures[key], timer(n))
    for app in apps_:
        with app.app_context():
            app.extensions["bench_db"].engine.dispose()
    return figures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_run(mode: str, data_dir: str, seconds: int) -> float | None:
    """Requests/s of ``GET /me`` under gunicorn (2 sync workers) and wrk -c32."""
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    if not shutil.which("wrk") or not os.path.exists(gunicorn):
        return None
    sub = os.path.join(data_dir, "http-" + mode)
    os.makedirs(sub, exist_ok=True)
    apps.setup(mode, sub)
    port = _free_port()
    proc = subprocess.Popen(
        [
            gunicorn,
            "--workers=2",
            "--worker-class=sync",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
            f"bench.apps:create({mode!r}, {sub!r})",
        ],
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/bench/login", data=b"", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        response = urllib.request.urlopen(url + "/bench/login", data=b"", timeout=5)
        cookie = "; ".join(v.split(";", 1)[0] for k, v in response.headers.items() if k.lower() == "set-cookie")

        def wrk(duration: int) -> str:
            command = ["wrk", "-t2", "-c32", f"-d{duration}s", "-H", f"Cookie: {cookie}", url + "/me"]
            return subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 30).stdout

        wrk(1)  # warm-up
        out = wrk(seconds)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if non2xx:
            raise RuntimeError(f"{mode}: {non2xx.group(1)} failed responses under wrk")
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        return float(match.group(1)) if match else None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def hardware() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def render(results: list[dict[str, t.Any]], scale: dict[str, float], http: dict[str, float | None]) -> str:
    plain = next(r for r in results if r["mode"] == "plain")
    lines = [
        f"Hardware: {hardware()}",
        "",
        "| mode | /me µs | × plain | /whoami µs | × plain | SQL per request (/me, /whoami) | Redis trips | target |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        me, who = r["/me"] / plain["/me"], r["/whoami"] / plain["/whoami"]
        target = []
        for path, ratio in (("/me", me), ("/whoami", who)):
            goal = TARGETS.get((r["mode"], path))
            if goal is not None:
                target.append(f"{path} ≤{goal}× {'met' if ratio <= goal else 'NOT met'}")
        redis_trips = f"{r['/me redis']}, {r['/whoami redis']}" if r["mode"] == "sessionauth-redis" else "0"
        lines.append(
            f"| {LABELS[r['mode']]} | {r['/me']:.1f} | {me:.2f} | {r['/whoami']:.1f} | {who:.2f} "
            f"| {r['/me sql']}, {r['/whoami sql']} | {redis_trips} | {'; '.join(target)} |"
        )
    if scale:
        small, big = scale["1000"], scale[max(scale, key=int)]
        lines += [
            "",
            f"Scale (flask-sessionauth, SQLite, /whoami): 1k rows {small:.1f} µs, "
            f"{int(max(scale, key=int)):,} rows {big:.1f} µs → {big / small:.2f}× "
            f"(target ≤1.1×: {'met' if big / small <= 1.1 else 'NOT met'})",
        ]
    if http:
        base = http.get("plain")
        lines += ["", "| HTTP: gunicorn 2 sync workers, wrk -t2 -c32, GET /me | req/s | × plain |", "|---|---:|---:|"]
        for mode, rps in http.items():
            if rps is None:
                lines.append(f"| {LABELS[mode]} | n/a | |")
            else:
                ratio = f"{rps / base:.2f}" if base else ""
                lines.append(f"| {LABELS[mode]} | {rps:,.0f} | {ratio} |")
        if base and http.get("sessionauth-sqlite"):
            ratio = http["sessionauth-sqlite"] / base
            lines.append("")
            lines.append(f"HTTP target ≥0.85× plain on SQLite: {ratio:.2f}× ({'met' if ratio >= 0.85 else 'NOT met'})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a fast, noisier pass")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--modes", help="comma-separated subset (plain is always included)")
    args = parser.parse_args()
    n, rounds = (100, 10) if args.quick else (200, 40)
    modes = list(apps.MODES)
    if args.modes:
        wanted = set(args.modes.split(",")) | {"plain"}
        modes = [m for m in modes if m in wanted]
    with tempfile.TemporaryDirectory(prefix="sessionauth-bench-") as data_dir:
        print("in-process:", file=sys.stderr)
        results = in_process(modes, data_dir, n, rounds)
        scale: dict[str, float] = {}
        if not args.no_scale:
            scale = scale_check(data_dir, 100_000 if args.quick else 1_000_000, n, rounds)
        http: dict[str, float | None] = {}
        if not args.no_http:
            # Alternating rounds, best one counts (like the in-process runs).
            for _ in range(1 if args.quick else 2):
                for mode in ("plain", "flask-login", "flask-session", "sessionauth-sqlite"):
                    try:
                        rps = http_run(mode, data_dir, 3 if args.quick else 5)
                    except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
                        print(f"  http {mode} failed: {exc}", file=sys.stderr)
                        rps = None
                    http[mode] = max(filter(None, (http.get(mode), rps)), default=None)
                    print(f"  http {mode}: {rps}", file=sys.stderr)
    print(render(results, scale, http))


if __name__ == "__main__":
    main()
