"""Redis failover under load, measured: ``python -m bench.failover [runs]``.

Starts a Redis Cluster (3 masters + 3 replicas) and a Sentinel setup (master,
2 replicas, 3 sentinels) from ``redis-server`` on free 127.0.0.1 ports, and
for each, with ``SESSIONAUTH_REDIS_FALLBACK`` ``"database"`` and ``"fail"``,
runs the scenario of ``tests/test_redis_failover.py`` ``runs`` times (3 by
default): signed-in requests on 3 threads and revocations alongside, the
master holding the sessions SIGKILLed, a replica promoted, the node restarted.
Prints one line of figures per run. The database is PostgreSQL
(``SESSIONAUTH_TEST_POSTGRES``).
"""

from __future__ import annotations

import sys

from tests.conftest import postgres_url
from tests.failover_support import run_once
from tests.redis_nodes import RedisCluster
from tests.redis_nodes import RedisSentinel
from tests.redis_nodes import wait_for


def main(runs: int = 3) -> None:
    database = postgres_url()
    for make in (RedisCluster, RedisSentinel):
        nodes = make()
        try:
            for fallback in ("database", "fail"):
                for run in range(1, runs + 1):
                    wait_for(nodes.healthy, "the topology to heal")
                    figures = run_once(nodes, database, SESSIONAUTH_REDIS_FALLBACK=fallback)
                    print(f"{make.__name__:13} fallback={fallback:8} run={run} {figures.line()}", flush=True)
        finally:
            nodes.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
