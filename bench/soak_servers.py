"""Many app servers on one PostgreSQL: ``.venv/bin/python bench/soak_servers.py``.

Like ``bench/soak.py`` (whose pieces it reuses), with two gunicorn instances
of ``examples/demo.py`` (separate processes and connection pools, each with
``--workers`` sync workers and its own ``application_name``) on one
PostgreSQL database, Redis as secondary storage (``--redis``, default DB 12,
keys under a fresh prefix removed afterwards) and, with ``--local-cache N``,
the process-local cache (``SESSIONAUTH_REDIS_LOCAL_CACHE``) in every worker.

1. ``--users`` × ``--sessions`` sign-ins through the JSON API, spread over
   both servers; Redis's memory for them is measured (``MEMORY USAGE`` of
   every key under the prefix, and the ``INFO memory`` delta) and scaled to
   10,000 sessions.
2. Two ``wrk`` processes, each driving one server with its half of the
   sessions, for ``--seconds``; meanwhile a third process revokes sessions and
   changes passwords through the Python API and, right after each revoke,
   asks *both* servers for the revoked cookie (``revoked_then_accepted``).
3. A sampler counts PostgreSQL connections per server (``pg_stat_activity``
   filtered by ``application_name``); afterwards every revoked session is
   tried on both servers, every live one must still work.

With ``--redis-cluster`` a real 3-master + 3-replica Redis Cluster is started
for the run (``tests/redis_nodes.py``, free 127.0.0.1 ports, stopped at the
end) and the servers use its ``redis+cluster://`` URL; Redis memory is then
summed over the three masters. ``--redis-sentinel`` likewise starts a master,
2 replicas and 3 sentinels and uses a ``redis+sentinel://`` URL.

Prints the figures as JSON; exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import typing as t
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import soak  # noqa: E402

SERVERS = ("a", "b")
APPLICATION = "sessionauth-soak-"


def with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def start_server(
    name: str, database_url: str, config: dict[str, t.Any], workers: int, workdir: str
) -> tuple[t.Any, int]:
    port = soak.free_port()
    environ = soak.app_environ(with_application_name(database_url, APPLICATION + name))
    proc = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            f"--workers={workers}",
            f"--bind=127.0.0.1:{port}",
            f"--pythonpath={soak.EXAMPLES}",
            "--log-level=warning",
            f"demo:create_app({config!r})",
        ],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, f"gunicorn-{name}.log"), "w"),
        start_new_session=True,
    )
    return proc, port


class PgSampler(threading.Thread):
    """The most PostgreSQL connections each server held at once."""

    def __init__(self, database_url: str, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        import sqlalchemy as sa

        self.engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
        self.query = sa.text(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE :like GROUP BY 1"
        )
        self.every = every
        self.peak: dict[str, int] = {}
        self.stop = threading.Event()

    def sample(self) -> None:
        with self.engine.connect() as conn:
            for name, count in conn.execute(self.query, {"like": APPLICATION + "%"}):
                self.peak[name] = max(self.peak.get(name, 0), int(count))

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()


def used_memory(client: t.Any) -> int:
    """``used_memory`` of the server, or summed over a cluster's masters."""
    if hasattr(client, "get_primaries"):
        nodes = [client.get_redis_connection(node) for node in client.get_primaries()]
        return sum(int(node.info("memory")["used_memory"]) for node in nodes)
    return int(client.info("memory")["used_memory"])


def redis_memory(client: t.Any, prefix: str) -> tuple[int, int]:
    """(bytes of every key under ``prefix`` by ``MEMORY USAGE``, number of keys)."""
    total = keys = 0
    for key in client.scan_iter(match=prefix + "*", count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
        keys += 1
    return total, keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load phase (default 30)")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=3, help="signed-in devices per user")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per server")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections per server")
    parser.add_argument("--revoke-every", type=float, default=0.5, help="seconds between single revocations")
    parser.add_argument("--password-every", type=float, default=5.0, help="seconds between password changes")
    parser.add_argument("--redis", default=os.environ.get("SOAK_REDIS", "redis://127.0.0.1:6379/12"))
    topology = parser.add_mutually_exclusive_group()
    topology.add_argument("--redis-cluster", action="store_true", help="start a 3+3 Redis Cluster and use it")
    topology.add_argument("--redis-sentinel", action="store_true", help="start a master, 2 replicas and 3 sentinels")
    parser.add_argument("--local-cache", type=int, default=0, help="SESSIONAUTH_REDIS_LOCAL_CACHE (0 = off)")
    parser.add_argument("--database", default="sessionauth_soak_servers")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    from flask_sessionauth.storage.redis_clients import connect

    nodes: t.Any = None
    if args.redis_cluster or args.redis_sentinel:
        from tests import redis_nodes

        nodes = redis_nodes.RedisCluster() if args.redis_cluster else redis_nodes.RedisSentinel()
        args.redis = nodes.url
    prefix = f"sessionauth-soak-{uuid.uuid4().hex[:8]}:"
    config = {
        **soak.app_config(argparse.Namespace(update_age=15, activity_resolution=5)),
        "SESSIONAUTH_REDIS_URL": args.redis,
        "SESSIONAUTH_REDIS_PREFIX": prefix,
        "SESSIONAUTH_REDIS_LOCAL_CACHE": args.local_cache,
    }
    rclient = connect(args.redis)
    database_url = soak.prepare_database(None, args.database)
    demo, app = soak.load_demo(database_url, config)
    passwords, users = {}, []
    with app.app_context():
        demo.db.drop_all()
        demo.db.create_all()
        for i in range(args.users):
            email, password = f"soak{i}@example.com", f"soak password {i}"
            passwords[email] = password
            users.append((demo.auth.create_user(email, password, name=f"Soak {i}").id, email))
        # The demo creates it at start-up otherwise: two servers would race for it.
        demo.auth.create_user(demo.DEMO_EMAIL, demo.DEMO_PASSWORD, name="Demo User")
        demo.db.session.remove()

    workdir = tempfile.mkdtemp(prefix="sessionauth-soak-servers-")
    servers = {name: start_server(name, database_url, config, args.workers, workdir) for name in SERVERS}
    ports = {name: port for name, (_, port) in servers.items()}
    failures: list[str] = []
    figures: dict[str, t.Any] = {
        "servers": len(SERVERS),
        "workers_per_server": args.workers,
        "local_cache": args.local_cache,
        "redis_topology": args.redis.split("://")[0] if nodes else "one server",
        "connections_per_server": args.connections,
    }
    pg = PgSampler(database_url)
    try:
        for port in ports.values():
            soak.wait_for(port)
        pg.start()
        before_bytes = used_memory(rclient)

        def sign_in_all(job: tuple[int, tuple[int, str]]) -> list[dict[str, t.Any]]:
            index, (user_id, email) = job
            port = ports[SERVERS[index % len(SERVERS)]]
            return [
                {"user_id": user_id, "email": email, "cookie": cookie, "session_id": cookie.split(".")[0], "port": port}
                for cookie in (soak.Browser(port).sign_in(email, passwords[email]) for _ in range(args.sessions))
            ]

        with ThreadPoolExecutor(4) as pool:
            sessions = [s for group in pool.map(sign_in_all, enumerate(users)) for s in group]
        used, keys = redis_memory(rclient, prefix)
        delta = used_memory(rclient) - before_bytes
        figures["sessions"] = len(sessions)
        figures["redis"] = {
            "keys": keys,
            "memory_usage_bytes": used,
            "mb_per_10k_sessions": round(used / len(sessions) * 10_000 / 2**20, 2),
            "info_delta_mb_per_10k_sessions": round(delta / len(sessions) * 10_000 / 2**20, 2),
            "sessions_per_gb": int(2**30 / (used / len(sessions))),
        }

        results = os.path.join(workdir, "revoker.json")
        rev = multiprocessing.get_context("spawn").Process(
            target=soak.revoker,
            args=(database_url, config, ports["a"], sessions, passwords, args.revoke_every, args.password_every),
            kwargs={"seconds": max(1.0, args.seconds - 2), "out": results, "check_ports": list(ports.values())},
        )
        rev.start()

        def load(name: str) -> dict[str, t.Any]:
            cookies = [s["cookie"] for s in sessions if s["port"] == ports[name]]
            os.makedirs(os.path.join(workdir, name))
            return soak.run_wrk(ports[name], cookies, args.seconds, args.connections, os.path.join(workdir, name))

        with ThreadPoolExecutor(len(SERVERS)) as pool:
            loads = dict(zip(SERVERS, pool.map(load, SERVERS), strict=True))
        rev.join(120)
        pg.stop.set()
        pg.join()
        if rev.exitcode != 0:
            failures.append(f"revoker process failed (exit {rev.exitcode})")
            return soak.report(figures, failures, args)
        with open(results) as f:
            churn = json.load(f)
        for name, got in loads.items():
            five_xx = sum(count for status, count in got["statuses"].items() if status >= 500)
            figures[f"server_{name}"] = {
                "requests": got["requests"],
                "rps": round(got["requests"] / got["seconds"], 1),
                "five_xx": five_xx,
                "p99_ms": got["p99_ms"],
                "pg_connections_peak": pg.peak.get(APPLICATION + name, 0),
            }
            if five_xx or got["socket_errors"] or got["timeouts"]:
                failures.append(f"server {name}: {five_xx} 5xx, {got['socket_errors'] + got['timeouts']} errors")
        figures["requests"] = sum(got["requests"] for got in loads.values())
        figures["pg_connections_peak_total"] = sum(pg.peak.values())
        figures["revoked"] = len(churn["revoked"])
        figures["password_changes"] = churn["changes"]
        figures["revoked_then_accepted"] = f"{churn['accepted_after_revoke']} of {churn['checks']} checks"
        if churn["accepted_after_revoke"]:
            failures.append(f"{churn['accepted_after_revoke']} revoked sessions accepted right after the revoke")
        with ThreadPoolExecutor(8) as pool:
            late = sum(
                pool.map(
                    lambda pair: soak.session_of(pair[0], pair[1]["cookie"]) is not None,
                    [(port, s) for s in churn["revoked"] for port in ports.values()],
                )
            )
            lost = sum(pool.map(lambda s: soak.session_of(s["port"], s["cookie"]) is None, churn["live"]))
        figures["revoked_accepted_at_end"], figures["live_sessions_lost"] = late, lost
        if late or lost:
            failures.append(f"at the end: {late} revoked sessions accepted, {lost} live sessions lost")
        figures["rows"] = soak.check_rows(database_url, churn, failures)
    except BaseException:
        failures.append(f"soak aborted; gunicorn logs kept in {workdir}")
        raise
    finally:
        for proc, _ in servers.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        pg.stop.set()
        pg.engine.dispose()
        with app.app_context():
            demo.db.engine.dispose()
        stale = list(rclient.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(stale), 500):
            rclient.delete(*stale[i : i + 500])
        rclient.close()
        if nodes is not None:
            nodes.stop()
        if not failures:
            shutil.rmtree(workdir, ignore_errors=True)
    return soak.report(figures, failures, args)


if __name__ == "__main__":
    sys.exit(main())
