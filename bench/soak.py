"""Load and soak: the demo app under gunicorn on 127.0.0.1 with PostgreSQL.

``.venv/bin/python bench/soak.py`` (60 s) or ``--minutes 10`` (the full soak).

1. A fresh PostgreSQL database (``sessionauth_soak``), the schema, ``--users``
   accounts; each signs in ``--sessions`` times through the JSON API (CSRF
   token + ``Origin``, as a browser would).
2. ``wrk`` drives ``examples/demo.py`` (gunicorn, ``--workers`` sync workers)
   with every session's cookie in rotation over four pages: the home page,
   the devices page, ``get-session`` and ``list-sessions``. Sessions refresh
   every ``--update-age`` seconds, so the hot path writes as well as reads.
3. Meanwhile another process revokes a random session every
   ``--revoke-every`` seconds and changes a random user's password (signing
   out all their devices) every ``--password-every`` seconds, then signs that
   user in again through the API. By default a quarter of the sessions are
   revoked one by one and a tenth of the users change their password over the
   run, whatever its length.
4. Afterwards it verifies: no 5xx, every revoked session is rejected, every
   other one still works, no duplicate, orphan or resurrected rows, and the
   workers' memory (VmRSS from /proc) stayed flat after warm-up.

Exit status 1 if any check fails. Not part of the test suite (a short run
is: ``tests/test_concurrency.py::test_short_soak``, 8 s of load).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SERVER_URL = os.environ.get("SOAK_POSTGRES_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
DATABASE = "sessionauth_soak"
SECRET_KEY = "soak-secret-key"
COOKIE = "__Host-sessionauth"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
PATHS = ["/", "/account/devices", "/api/auth/get-session", "/api/auth/list-sessions"]


def app_config(args: argparse.Namespace) -> dict[str, t.Any]:
    """What the demo app is started with (also passed to gunicorn as a literal)."""
    return {
        "SESSIONAUTH_UPDATE_AGE": args.update_age,
        "SESSIONAUTH_ACTIVITY_RESOLUTION": args.activity_resolution,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 5, "pool_pre_ping": False},
        # Every sign-in comes from 127.0.0.1.
        "SESSIONAUTH_RATE_LIMIT_SESSIONS_IP": None,
    }


def app_environ(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "DEMO_SECURE_COOKIES": "1",
    }


def load_demo(database_url: str, config: dict[str, t.Any]) -> t.Any:
    """The demo app in this process (schema, users, the revoker's API calls)."""
    os.environ.update(app_environ(database_url))
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    import demo

    return demo, demo.create_app(config)


# -- HTTP ------------------------------------------------------------------------------------


class Browser:
    """One device: a cookie jar over http.client, enough for the JSON API."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: t.Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = json.dumps(body)
            sent["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=sent)
            resp = conn.getresponse()
            payload = resp.read()
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    pair, _, attrs = value.partition(";")
                    key, _, val = pair.partition("=")
                    if "max-age=0" in attrs.lower() or not val:
                        self.cookies.pop(key.strip(), None)
                    else:
                        self.cookies[key.strip()] = val
            return resp.status, payload
        finally:
            conn.close()

    def sign_in(self, email: str, password: str) -> str:
        status, body = self.request("GET", "/api/auth/csrf-token")
        assert status == 200, body
        token = json.loads(body)["csrfToken"]
        headers = {"Origin": f"http://127.0.0.1:{self.port}", "X-CSRFToken": token}
        status, body = self.request("POST", "/api/auth/sign-in/email", {"email": email, "password": password}, headers)
        if status != 200:
            raise RuntimeError(f"sign-in of {email} failed: {status} {body[:200]!r}")
        return self.cookies[COOKIE]


def session_of(port: int, cookie: str) -> t.Any:
    """What ``get-session`` says for a cookie (``None`` when rejected)."""
    browser = Browser(port)
    browser.cookies[COOKIE] = cookie
    status, body = browser.request("GET", "/api/auth/get-session")
    if status != 200:
        raise RuntimeError(f"get-session answered {status}")
    return json.loads(body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


# -- the revoker (another process) -----------------------------------------------------------


def revoker(
    database_url: str,
    config: dict[str, t.Any],
    port: int,
    sessions: list[dict[str, t.Any]],
    passwords: dict[str, str],
    revoke_every: float,
    password_every: float,
    seconds: float,
    out: str,
    check_ports: t.Sequence[int] = (),
) -> None:
    """Revoke sessions and change passwords through the Python API, from its own
    process and connection pool, while the load runs. With ``check_ports``,
    each revoked cookie is tried at once on every one of those servers
    (``accepted_after_revoke`` counts the answers that still accepted it)."""
    demo, app = load_demo(database_url, config)
    auth, db, user_model = demo.auth, demo.db, demo.User
    rng = random.Random(7)
    live = {s["session_id"]: s for s in sessions}
    revoked: list[dict[str, t.Any]] = []
    created: list[dict[str, t.Any]] = []
    changes = checked = accepted = 0
    start = time.monotonic()
    next_revoke, next_password = start + revoke_every, start + password_every
    while (now := time.monotonic()) < start + seconds:
        with app.app_context():
            if now >= next_password and live:
                next_password += password_every
                victim = rng.choice(list(live.values()))
                email = victim["email"]
                user = db.session.get(user_model, victim["user_id"])
                new_password = f"changed {changes} {rng.random()}"
                auth.change_password(user, passwords[email], new_password, revoke_other_sessions=True)
                passwords[email] = new_password
                changes += 1
                for sid in [sid for sid, s in live.items() if s["email"] == email]:
                    revoked.append(live.pop(sid))
                # The owner signs in again (through the API, under load).
                cookie = Browser(port).sign_in(email, new_password)
                entry = {**victim, "cookie": cookie, "session_id": cookie.split(".")[0]}
                live[entry["session_id"]] = entry
                created.append(entry)
            elif now >= next_revoke and live:
                next_revoke += revoke_every
                victim = rng.choice(list(live.values()))
                if not auth.revoke_session(victim["session_id"], victim["user_id"]):
                    raise RuntimeError(f"revoking {victim['session_id']} found nothing")
                revoked.append(live.pop(victim["session_id"]))
            db.session.remove()
        for entry in revoked[checked:]:
            accepted += sum(session_of(check, entry["cookie"]) is not None for check in check_ports)
        checked = len(revoked)
        time.sleep(0.01)
    result = {"revoked": revoked, "created": created, "live": list(live.values()), "changes": changes}
    with open(out, "w") as f:
        json.dump({**result, "accepted_after_revoke": accepted, "checks": checked * len(check_ports)}, f)


# -- load -----------------------------------------------------------------------------------

WRK_SCRIPT = """
local cookies = {}
local paths = {%(paths)s}
local n = 0
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  n = math.random(#cookies)
end

function request()
  n = n + 1
  local headers = {["Cookie"] = "%(cookie)s=" .. cookies[(n %% #cookies) + 1], ["User-Agent"] = "%(ua)s"}
  return wrk.format("GET", paths[(n %% #paths) + 1], headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do io.write(string.format("STATUS %%d %%d\\n", status, count)) end
  io.write(string.format("LATENCY %%d %%d %%d %%d\\n",
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
  io.write(string.format("SUMMARY %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout))
end
"""


def run_wrk(port: int, cookies: list[str], seconds: float, connections: int, workdir: str) -> dict[str, t.Any]:
    cookie_file = os.path.join(workdir, "cookies.txt")
    with open(cookie_file, "w") as f:
        f.write("\n".join(cookies) + "\n")
    script = os.path.join(workdir, "soak.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % {"paths": ", ".join(f'"{p}"' for p in PATHS), "cookie": COOKIE, "ua": USER_AGENT})
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, int(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        script,
        f"http://127.0.0.1:{port}/",
        "--",
        cookie_file,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, t.Any] = {"statuses": {}}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["STATUS"]:
            result["statuses"][int(parts[1])] = int(parts[2])
        elif parts[:1] == ["LATENCY"]:
            result["p50_ms"], result["p99_ms"], result["max_ms"], result["mean_ms"] = (int(v) / 1000 for v in parts[1:])
        elif parts[:1] == ["SUMMARY"]:
            result["requests"], duration, result["socket_errors"], result["timeouts"] = map(int, parts[1:])
            result["seconds"] = duration / 1e6
    return result


# -- memory ---------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    try:
        with open(f"/proc/{master}/task/{master}/children") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:
        return []


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, master: int, every: float) -> None:
        super().__init__(daemon=True)
        self.master, self.every = master, every
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.wait(self.every if self.samples else 0):
            sizes = {pid: kb for pid in worker_pids(self.master) if (kb := rss_kb(pid)) is not None}
            self.samples.append((time.monotonic() - start, sizes))


# -- main -----------------------------------------------------------------------------------


def prepare_database(url: str | None, name: str) -> str:
    """A fresh database of its own, so a soak never collides with a test run."""
    import sqlalchemy as sa

    if url:
        return url
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"invalid database name {name!r}")
    engine = sa.create_engine(f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"{SERVER_URL}/{name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the load phase (default 1)")
    parser.add_argument("--seconds", type=float, help="length of the load phase in seconds (overrides --minutes)")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=3, help="signed-in devices per user")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--revoke-every",
        type=float,
        help="seconds between single revocations (default: a quarter of the sessions over the run)",
    )
    parser.add_argument(
        "--password-every",
        type=float,
        help="seconds between password changes (default: a tenth of the users over the run)",
    )
    parser.add_argument("--update-age", type=int, default=15, help="SESSIONAUTH_UPDATE_AGE for the run")
    parser.add_argument("--activity-resolution", type=int, default=5)
    parser.add_argument("--database", default=DATABASE, help=f"database to (re)create (default {DATABASE})")
    parser.add_argument("--database-url", help="use this (emptied) database instead of a fresh one")
    parser.add_argument("--max-rss-growth-mb", type=float, default=16.0)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds else args.minutes * 60
    config = app_config(args)

    database_url = prepare_database(args.database_url, args.database)
    demo, app = load_demo(database_url, config)
    with app.app_context():
        demo.db.drop_all()
        demo.db.create_all()
        passwords, users = {}, []
        for i in range(args.users):
            email, password = f"soak{i}@example.com", f"soak password {i}"
            user = demo.auth.create_user(email, password, name=f"Soak {i}")
            passwords[email] = password
            users.append((user.id, email))
        demo.auth.create_user(demo.DEMO_EMAIL, demo.DEMO_PASSWORD, name="Demo User")
        demo.db.session.remove()

    port = free_port()
    workdir = tempfile.mkdtemp(prefix="sessionauth-soak-")
    gunicorn = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--pythonpath",
            EXAMPLES,
            "--log-level",
            "warning",
            f"demo:create_app({config!r})",
        ],
        env=app_environ(database_url),
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, "gunicorn.log"), "w"),
        start_new_session=True,
    )
    failures: list[str] = []
    figures: dict[str, t.Any] = {"users": args.users, "workers": args.workers, "connections": args.connections}
    try:
        wait_for(port)
        started = time.monotonic()

        def sign_in_all(user: tuple[int, str]) -> list[dict[str, t.Any]]:
            user_id, email = user
            out = []
            for _ in range(args.sessions):
                cookie = Browser(port).sign_in(email, passwords[email])
                out.append({"user_id": user_id, "email": email, "cookie": cookie, "session_id": cookie.split(".")[0]})
            return out

        with ThreadPoolExecutor(4) as pool:
            sessions = [s for group in pool.map(sign_in_all, users) for s in group]
        figures["sessions"] = len(sessions)
        # Churn scaled to the run, so the load keeps hitting mostly live sessions
        # however long it lasts (the cookie list wrk rotates through is fixed).
        revoke_every = args.revoke_every or max(0.2, seconds / max(1, len(sessions) // 4))
        password_every = args.password_every or max(1.0, seconds / max(1, args.users // 10))
        figures["revoke_every_s"], figures["password_every_s"] = round(revoke_every, 2), round(password_every, 2)
        figures["sign_in_seconds"] = round(time.monotonic() - started, 1)
        print(f"signed in {len(sessions)} sessions of {args.users} users in {figures['sign_in_seconds']} s")

        sampler = RssSampler(gunicorn.pid, every=max(1.0, seconds / 60))
        sampler.start()
        results = os.path.join(workdir, "revoker.json")
        ctx = multiprocessing.get_context("spawn")
        rev = ctx.Process(
            target=revoker,
            args=(
                database_url,
                config,
                port,
                sessions,
                passwords,
                revoke_every,
                password_every,
                max(1.0, seconds - 2),
                results,
            ),
        )
        rev.start()
        print(f"load: wrk {args.connections} connections for {seconds:.0f} s, {args.workers} gunicorn workers")
        load = run_wrk(port, [s["cookie"] for s in sessions], seconds, args.connections, workdir)
        rev.join(60)
        sampler.stop.set()
        sampler.join()
        if rev.exitcode != 0:
            failures.append(f"revoker process failed (exit {rev.exitcode})")
            return report(figures, failures, args)
        with open(results) as f:
            churn = json.load(f)

        statuses = load["statuses"]
        five_xx = sum(count for status, count in statuses.items() if status >= 500)
        figures.update(
            requests=load["requests"],
            rps=round(load["requests"] / load["seconds"], 1),
            latency_ms={"p50": load["p50_ms"], "p99": load["p99_ms"], "max": load["max_ms"]},
            statuses=dict(sorted(statuses.items())),
            socket_errors=load["socket_errors"],
            timeouts=load["timeouts"],
            revoked=len(churn["revoked"]),
            live_at_end=len(churn["live"]),
            password_changes=churn["changes"],
            sign_ins_during_load=len(churn["created"]),
        )
        if five_xx:
            failures.append(f"{five_xx} responses were 5xx")
        if load["socket_errors"] or load["timeouts"]:
            failures.append(f"{load['socket_errors']} socket errors, {load['timeouts']} timeouts")

        # Every revoked session is rejected, every other one still works.
        with ThreadPoolExecutor(8) as pool:
            revoked_answers = list(pool.map(lambda s: session_of(port, s["cookie"]), churn["revoked"]))
            live_answers = list(pool.map(lambda s: session_of(port, s["cookie"]), churn["live"]))
        accepted = sum(answer is not None for answer in revoked_answers)
        lost = sum(answer is None for answer in live_answers)
        figures["revoked_still_accepted"] = accepted
        figures["live_sessions_lost"] = lost
        if accepted:
            failures.append(f"{accepted} revoked sessions were still accepted")
        if lost:
            failures.append(f"{lost} sessions that were never revoked stopped working")

        figures["rows"] = check_rows(database_url, churn, failures)
        figures["rss"] = check_rss(sampler.samples, args.max_rss_growth_mb, failures)
        figures["worker_restarts"] = max(0, len({pid for _, s in sampler.samples for pid in s}) - args.workers)
        if figures["worker_restarts"]:
            failures.append(f"{figures['worker_restarts']} gunicorn workers were replaced (crashed?)")
    except BaseException:
        failures.append(f"soak aborted; gunicorn log and wrk script kept in {workdir}")
        raise
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(30)
        with app.app_context():
            demo.db.engine.dispose()
        if failures:
            print(f"gunicorn log: {os.path.join(workdir, 'gunicorn.log')}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report(figures, failures, args)


def check_rows(database_url: str, churn: dict[str, t.Any], failures: list[str]) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    revoked_ids = [s["session_id"] for s in churn["revoked"]]
    live_ids = {s["session_id"] for s in churn["live"]}
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM user_session")).scalar_one()
        orphans = conn.execute(
            sa.text("SELECT count(*) FROM user_session s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL")
        ).scalar_one()
        duplicates = conn.execute(
            sa.text("SELECT count(*) FROM (SELECT secret_hash FROM user_session GROUP BY 1 HAVING count(*) > 1) d")
        ).scalar_one()
        resurrected = conn.execute(
            sa.text("SELECT count(*) FROM user_session WHERE id = ANY(:ids)"), {"ids": revoked_ids}
        ).scalar_one()
        ids = set(conn.execute(sa.text("SELECT id FROM user_session")).scalars())
    engine.dispose()
    rows = {
        "total": total,
        "expected": len(live_ids),
        "orphans": orphans,
        "duplicates": duplicates,
        "resurrected": resurrected,
        "unexpected": len(ids - live_ids),
    }
    if orphans or duplicates or resurrected or ids != live_ids:
        failures.append(f"session table inconsistent: {rows}")
    return rows


def check_rss(samples: list[tuple[float, dict[int, int]]], limit_mb: float, failures: list[str]) -> dict[str, t.Any]:
    """RSS per worker: after warm-up (the first fifth of the run) it must stay flat."""
    if len(samples) < 3:
        return {}
    warm = samples[max(1, len(samples) // 5)]
    last = samples[-1]
    per_worker = {}
    for pid, first_kb in warm[1].items():
        series = [s[pid] for _, s in samples if pid in s]
        last_kb = last[1].get(pid, series[-1])
        per_worker[pid] = {
            "start_mb": round(series[0] / 1024, 1),
            "after_warmup_mb": round(first_kb / 1024, 1),
            "end_mb": round(last_kb / 1024, 1),
            "max_mb": round(max(series) / 1024, 1),
            "growth_after_warmup_mb": round((last_kb - first_kb) / 1024, 1),
        }
        if (last_kb - first_kb) / 1024 > limit_mb:
            failures.append(f"worker {pid} grew {(last_kb - first_kb) / 1024:.1f} MB after warm-up")
    return {"samples": len(samples), "warmup_at_s": round(warm[0], 1), "workers": per_worker}


def report(figures: dict[str, t.Any], failures: list[str], args: argparse.Namespace) -> int:
    figures["ok"] = not failures
    figures["failures"] = failures
    print(json.dumps(figures, indent=2, default=str))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2, default=str)
    print("SOAK OK" if not failures else "SOAK FAILED:\n  " + "\n  ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
