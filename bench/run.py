"""Benchmark flask-sessionauth against its peers: ``.venv/bin/python bench/run.py [--quick]``.

Not part of the test suite. Measures, in one run on this machine:

* in-process WSGI calls of an authenticated ``GET /me`` and ``GET /whoami``
  (best of several rounds, µs per request, ratio to plain Flask);
* SQL statements (and Redis commands) per request in each mode;
* the 1M-row scale check (SQLite, 1k vs 1M session rows, requests spread
  over 1,000 random sessions);
* an HTTP run: gunicorn (2 sync workers) + ``wrk`` on 127.0.0.1, bounded.

* instructions per request of the same loop under callgrind (see
  ``bench/instructions.py``), beside the times, so figures survive a noisy
  machine;
* issue 12's targets, each with whether it is met.

Options: ``--quick`` (fewer iterations, 100k rows instead of 1M, 3 s HTTP
runs), ``--no-http``, ``--no-scale``, ``--no-callgrind``, ``--callgrind-n N``,
``--modes a,b``, ``--redis-cluster`` (starts a 3+3 Redis Cluster for the
``sessionauth-redis-cluster*`` modes, see ``tests/redis_nodes.py``; or point
``BENCH_REDIS_CLUSTER`` at one). ``BENCH_POSTGRES``, ``BENCH_REDIS`` and ``BENCH_REDIS_PREFIX``
point it at other servers (defaults: database ``sessionauth_bench`` plus a
suffix per mode, Redis DB 13, keys under ``sessionauth-bench:<mode>:``).
"""

from __future__ import annotations

import argparse
import atexit
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
    "sessionauth-redis-csc": "flask-sessionauth, Redis + process-local cache (CLIENT TRACKING)",
    "sessionauth-redis-cluster": "flask-sessionauth, Redis Cluster (3+3 nodes) secondary storage",
    "sessionauth-redis-cluster-csc": "flask-sessionauth, Redis Cluster + process-local cache",
    "sessionauth-cookie-cache": "flask-sessionauth, cookie cache → SQLite",
    "sessionauth-cookie-cache-postgres": "flask-sessionauth, cookie cache → PostgreSQL",
}


class Target(t.NamedTuple):
    """One target of issue 12: ``mode``'s ``path`` at most ``ratio`` × plain
    (or, with ``fronts``, never slower than that mode), plus a count check."""

    text: str
    mode: str
    path: str
    ratio: float | None = None
    fronts: str | None = None
    sql: int | None = None
    redis: int | None = None


# Issue 12's targets, ratios to plain Flask in the same run.
TARGETS = (
    Target("SQLite /me ≤ 1.6×", "sessionauth-sqlite", "/me", 1.6),
    Target("SQLite /whoami ≤ 1.5×", "sessionauth-sqlite", "/whoami", 1.5),
    Target("cookie cache hit /me ≤ 1.4× (→ SQLite)", "sessionauth-cookie-cache", "/me", 1.4),
    Target("cookie cache hit /whoami ≤ 1.4× (→ SQLite)", "sessionauth-cookie-cache", "/whoami", 1.4),
    Target("cookie cache hit /me ≤ 1.4× (→ PostgreSQL)", "sessionauth-cookie-cache-postgres", "/me", 1.4),
    Target("cookie cache hit /whoami ≤ 1.4× (→ PostgreSQL)", "sessionauth-cookie-cache-postgres", "/whoami", 1.4),
    Target("cookie cache /me not slower than SQLite", "sessionauth-cookie-cache", "/me", fronts="sessionauth-sqlite"),
    Target(
        "cookie cache /whoami not slower than SQLite",
        "sessionauth-cookie-cache",
        "/whoami",
        fronts="sessionauth-sqlite",
    ),
    Target(
        "cookie cache /me not slower than PostgreSQL",
        "sessionauth-cookie-cache-postgres",
        "/me",
        fronts="sessionauth-postgres",
    ),
    Target(
        "cookie cache /whoami not slower than PostgreSQL",
        "sessionauth-cookie-cache-postgres",
        "/whoami",
        fronts="sessionauth-postgres",
    ),
    Target("PostgreSQL /me ≤ 2.2×, one statement", "sessionauth-postgres", "/me", 2.2, sql=1),
    Target("Redis /me ≤ 1.9×, one round trip, no SQL", "sessionauth-redis", "/me", 1.9, sql=0, redis=1),
    Target("Redis client-side cache /me ≤ 1.4×, no SQL", "sessionauth-redis-csc", "/me", 1.4, sql=0),
)
SCALE_TARGET = 1.1
HTTP_TARGET = 0.85


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
        self.call("GET", "/me")
        apps.wait_for_local_cache(self.app)
        # A second request picks up any cookie the first authenticated one sets
        # (the cookie cache), so the timed loop replays a steady state.
        for _ in range(2):
            self.call("GET", "/me")

    def timer(self, path: str, cookie_headers: t.Sequence[str] | None = None) -> t.Callable[[int], float]:
        """A function running ``n`` requests and returning µs/request.

        Like a browser, it follows cookies the app re-issues (a cookie-cache
        miss re-issues the cache cookie, a slid expiry the session cookie), so
        the next request presents the new ones; ``run.reissues`` counts those
        responses over all calls. With ``cookie_headers`` the requests cycle
        through those ``Cookie`` headers (many sessions) and re-issues are only
        counted.
        """
        harness = self
        app = self.app
        rotating = cookie_headers is not None
        environs = [
            EnvironBuilder(path=path, headers={"Cookie": c} if c else {}).get_environ()
            for c in (cookie_headers if rotating else [self._headers().get("Cookie", "")])
        ]
        base = environs[0]
        reissued: list[list[tuple[str, str]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
            if not status.startswith("200"):
                raise RuntimeError(f"{path}: {status}")
            for name, _value in headers:
                if name == "Set-Cookie":
                    reissued.append(headers)
                    break

        def follow() -> None:
            nonlocal base
            run.reissues += len(reissued)  # type: ignore[attr-defined]
            if not rotating:
                for key, value in _cookies_from(reissued[-1]).items():
                    if value:
                        harness.cookies[key] = value
                    else:
                        harness.cookies.pop(key, None)
                base = EnvironBuilder(path=path, headers=harness._headers()).get_environ()
            reissued.clear()

        offset = 0

        def run(n: int) -> float:
            nonlocal offset
            if rotating:
                count = len(environs)
                start = time.perf_counter()
                for i in range(offset, offset + n):
                    body = app(environs[i % count].copy(), start_response)
                    for _chunk in body:
                        pass
                    body.close()
                    if reissued:
                        follow()
                offset += n
            else:
                start = time.perf_counter()
                for _ in range(n):
                    body = app(base.copy(), start_response)
                    for _chunk in body:
                        pass
                    body.close()
                    if reissued:
                        follow()
            return (time.perf_counter() - start) / n * 1e6

        run.reissues = 0  # type: ignore[attr-defined]
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


def skip_reason(mode: str) -> str | None:
    """Why ``mode`` cannot run here (``None``: it can)."""
    if mode in apps.POSTGRES_MODES and not postgres_ok():
        return "PostgreSQL not reachable"
    if mode in apps.REDIS_MODES and mode not in apps.CLUSTER_MODES and not redis_ok():
        return "Redis not reachable"
    return apps.supports(mode)


def runnable(modes: t.Iterable[str]) -> list[str]:
    kept = []
    for mode in modes:
        why = skip_reason(mode)
        if why:
            print(f"  skip {mode}: {why}", file=sys.stderr)
        else:
            kept.append(mode)
    return kept


def in_process(modes: list[str], data_dir: str, n: int, rounds: int) -> list[dict[str, t.Any]]:
    """Time every mode, interleaved: each round runs every (mode, path) once,
    and the best round counts. Interleaving spreads any background load over
    all modes alike, so the ratios to plain Flask stay fair on a busy machine."""
    setups: list[tuple[t.Any, dict[str, t.Any], dict[str, t.Callable[[int], float]]]] = []
    for mode in modes:
        app = apps.setup(mode, data_dir)
        harness = Harness(app)
        harness.sign_in()
        row: dict[str, t.Any] = {"mode": mode}
        timers = {}
        for path in ("/me", "/whoami"):
            row[path + " sql"], row[path + " redis"] = count_statements(app, harness, path)
            timers[path] = harness.timer(path)
            timers[path](max(n // 10, 50))  # warm up caches, pools, prepared statements
            timers[path].reissues = 0  # type: ignore[attr-defined]
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
    for app, row, timers in setups:
        row["requests"] = n * rounds
        for path, timer in timers.items():
            row[path + " reissues"] = timer.reissues  # type: ignore[attr-defined]
        with app.app_context():
            app.extensions["bench_db"].engine.dispose()
        print(f"  {row['mode']:34} /me {row['/me']:8.1f} µs  /whoami {row['/whoami']:8.1f} µs", file=sys.stderr)
    return [row for _, row, _ in setups]


def scale_check(data_dir: str, rows: int, n: int, rounds: int) -> dict[str, dict[str, float]]:
    """``/me`` and ``/whoami`` over 1k and over ``rows`` session rows, each
    request presenting one of 1,000 randomly drawn sessions, interleaved."""
    timers: dict[str, dict[str, t.Callable[[int], float]]] = {}
    apps_ = []
    for count in (1_000, rows):
        sub = os.path.join(data_dir, f"scale{count}")
        os.makedirs(sub, exist_ok=True)
        started = time.perf_counter()
        app = apps.setup("sessionauth-sqlite", sub, extra_sessions=count)
        print(f"  scale: {count:,} rows inserted in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        harness = Harness(app)
        cookies = app.extensions["bench_sample_cookies"]
        timers[str(count)] = {path: harness.timer(path, cookies) for path in ("/me", "/whoami")}
        for timer in timers[str(count)].values():
            timer(len(cookies))  # every sampled session once: pages of the table in the OS cache
        apps_.append(app)
    figures = {key: {path: float("inf") for path in paths} for key, paths in timers.items()}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for key, paths in timers.items():
                for path, timer in paths.items():
                    figures[key][path] = min(figures[key][path], timer(n))
    finally:
        gc.enable()
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


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value and base else None


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render(
    results: list[dict[str, t.Any]],
    scale: dict[str, dict[str, float]],
    http: dict[str, float | None],
    instructions: dict[str, dict[str, float]],
) -> str:
    plain = next(r for r in results if r["mode"] == "plain")
    plain_ir = instructions.get("plain", {})
    by_mode = {r["mode"]: r for r in results}
    lines = [
        f"Hardware: {hardware()}",
        "",
        "µs: best round of in-process WSGI calls; kIr: thousands of instructions per request"
        " (callgrind, user space of the app process). Ratios are to plain Flask in the same run.",
        "",
        "| mode | /me µs | × plain | /me kIr | × plain | /whoami µs | × plain | /whoami kIr | × plain "
        "| SQL (/me, /whoami) | Redis trips | cookies re-issued in timed loops |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        cells = []
        for path in ("/me", "/whoami"):
            ir = instructions.get(r["mode"], {}).get(path)
            cells += [
                f"{r[path]:.1f}",
                f"{r[path] / plain[path]:.2f}",
                _fmt(ir and ir / 1000, ".0f"),
                _fmt(_ratio(ir, plain_ir.get(path)), ".2f"),
            ]
        reissues = f"{r['/me reissues']}, {r['/whoami reissues']} of {r['requests']:,} each"
        lines.append(
            f"| {LABELS[r['mode']]} | {' | '.join(cells)} | {r['/me sql']}, {r['/whoami sql']} "
            f"| {r['/me redis']}, {r['/whoami redis']} | {reissues} |"
        )
    lines += ["", "Targets (issue 12):", "", "| target | time | instructions | counts | status |"]
    lines.append("|---|---|---|---|---|")
    for target in TARGETS:
        row = by_mode.get(target.mode)
        if row is None:
            lines.append(f"| {target.text} | not run | | | n/a |")
            continue
        ir = instructions.get(target.mode, {}).get(target.path)
        if target.fronts is not None:
            other = by_mode.get(target.fronts)
            if other is None:
                lines.append(f"| {target.text} | {target.fronts} not run | | | n/a |")
                continue
            time_ratio = row[target.path] / other[target.path]
            ir_ratio = _ratio(ir, instructions.get(target.fronts, {}).get(target.path))
            goal = 1.0
            unit = f"× {target.fronts}"
        else:
            time_ratio = row[target.path] / plain[target.path]
            ir_ratio = _ratio(ir, plain_ir.get(target.path))
            goal = t.cast(float, target.ratio)
            unit = "× plain"
        counts_ok = True
        counts = []
        if target.sql is not None:
            counts.append(f"{row[target.path + ' sql']} SQL (want {target.sql})")
            counts_ok &= row[target.path + " sql"] == target.sql
        if target.redis is not None:
            counts.append(f"{row[target.path + ' redis']} Redis trips (want {target.redis})")
            counts_ok &= row[target.path + " redis"] == target.redis
        time_ok = time_ratio <= goal
        ir_ok = None if ir_ratio is None else ir_ratio <= goal
        status = "met" if time_ok and counts_ok else "NOT met"
        if ir_ok is not None and ir_ok != time_ok:
            status += f" (instructions: {'met' if ir_ok else 'not met'})"
        lines.append(
            f"| {target.text} | {time_ratio:.2f}{unit} | {_fmt(ir_ratio, '.2f')}{unit if ir_ratio else ''} "
            f"| {'; '.join(counts) or '—'} | {status} |"
        )
    if scale:
        small_key, big_key = "1000", max(scale, key=int)
        for path in ("/me", "/whoami"):
            small, big = scale[small_key][path], scale[big_key][path]
            ok = big / small <= SCALE_TARGET
            lines.append(
                f"| flat with table size, SQLite {path}, random sessions: {int(big_key):,} rows ≤ {SCALE_TARGET}× 1k "
                f"| {small:.1f} → {big:.1f} µs = {big / small:.2f}× | | | {'met' if ok else 'NOT met'} |"
            )
    if http:
        base = http.get("plain")
        rps = http.get("sessionauth-sqlite")
        if base and rps:
            ok = rps / base >= HTTP_TARGET
            lines.append(
                f"| HTTP /me ≥ {HTTP_TARGET}× plain requests/s (SQLite) | {rps / base:.2f}× | | | "
                f"{'met' if ok else 'NOT met'} |"
            )
        lines += ["", "| HTTP: gunicorn 2 sync workers, wrk -t2 -c32, GET /me | req/s | × plain |", "|---|---:|---:|"]
        for mode, value in http.items():
            if value is None:
                lines.append(f"| {LABELS[mode]} | n/a | |")
            else:
                ratio = f"{value / base:.2f}" if base else ""
                lines.append(f"| {LABELS[mode]} | {value:,.0f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    from bench import instructions as ir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a fast, noisier pass")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--no-callgrind", action="store_true", help="skip the instruction counts")
    parser.add_argument("--callgrind-n", type=int, default=None, help="requests counted per path (default 200)")
    parser.add_argument("--modes", help="comma-separated subset (plain is always included)")
    parser.add_argument(
        "--http-modes",
        default="plain,flask-login,flask-session,sessionauth-sqlite",
        help="comma-separated modes of the HTTP run (default: %(default)s)",
    )
    parser.add_argument("--redis-cluster", action="store_true", help="start a Redis Cluster for the cluster modes")
    args = parser.parse_args()
    if args.redis_cluster:
        from tests.redis_nodes import RedisCluster

        cluster = RedisCluster()
        atexit.register(cluster.stop)
        apps.REDIS_CLUSTER_URL = os.environ["BENCH_REDIS_CLUSTER"] = cluster.url  # gunicorn children too
    n, rounds = (100, 10) if args.quick else (200, 40)
    modes = list(apps.MODES)
    if args.modes:
        wanted = set(args.modes.split(",")) | {"plain"}
        unknown = wanted - set(modes)
        if unknown:
            parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
        modes = [m for m in modes if m in wanted]
    modes = runnable(modes)
    with tempfile.TemporaryDirectory(prefix="sessionauth-bench-") as data_dir:
        print("in-process:", file=sys.stderr)
        results = in_process(modes, data_dir, n, rounds)
        counts: dict[str, dict[str, float]] = {}
        if not args.no_callgrind:
            why = ir.available()
            if why:
                print(f"  no instruction counts: {why}", file=sys.stderr)
            else:
                print("callgrind:", file=sys.stderr)
                counts = ir.measure(modes, args.callgrind_n or (100 if args.quick else 200))
        scale: dict[str, dict[str, float]] = {}
        if not args.no_scale:
            scale = scale_check(data_dir, 100_000 if args.quick else 1_000_000, n, rounds)
        http: dict[str, float | None] = {}
        if not args.no_http:
            if not shutil.which("wrk"):
                print("  no HTTP run: wrk not found", file=sys.stderr)
            # Alternating rounds, best one counts (like the in-process runs).
            for _ in range(1 if args.quick or not shutil.which("wrk") else 2):
                for mode in runnable(args.http_modes.split(",")):
                    try:
                        rps = http_run(mode, data_dir, 3 if args.quick else 5)
                    except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
                        print(f"  http {mode} failed: {exc}", file=sys.stderr)
                        rps = None
                    http[mode] = max(filter(None, (http.get(mode), rps)), default=None)
                    print(f"  http {mode}: {rps}", file=sys.stderr)
    print(render(results, scale, http, counts))


if __name__ == "__main__":
    main()
