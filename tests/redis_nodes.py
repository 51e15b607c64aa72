"""Real Redis topologies for the tests: a 3-master + 3-replica cluster and a
master with 2 replicas watched by 3 sentinels, started from the machine's
``redis-server`` on free 127.0.0.1 ports in a temporary directory.

Each node runs in a process group of its own so teardown (and the failover
tests' "crash the master") kill it whole; every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import typing as t

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
#: Seconds any one startup step may take before the topology counts as broken.
STARTUP_TIMEOUT = 30.0
SERVICE = "sessionauth"


def free_ports(count: int) -> list[int]:
    """Distinct free ports whose ``port + 10000`` (a cluster node's bus) is free too."""
    ports: list[int] = []
    sockets = []
    while len(ports) < count:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        port = int(sock.getsockname()[1])
        if port >= 55000 or port in ports:
            continue
        bus = socket.socket()
        try:
            bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            bus.close()
            continue
        sockets.append(bus)
        ports.append(port)
    for sock in sockets:
        sock.close()
    return ports


def wait_for(check: t.Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


class Nodes:
    """Redis processes of one topology, in one temporary directory."""

    def __init__(self, name: str) -> None:
        if not os.path.exists(REDIS_SERVER):
            raise RuntimeError(f"{REDIS_SERVER} not found")
        self.base = tempfile.mkdtemp(prefix=f"sessionauth-{name}-")
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.args: dict[int, list[str]] = {}

    def start(self, port: int, *extra: str, sentinel: bool = False) -> None:
        home = os.path.join(self.base, str(port))
        os.makedirs(home, exist_ok=True)
        if sentinel:
            conf = os.path.join(home, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("\n".join(extra) + "\n")
            args = [REDIS_SERVER, conf, "--sentinel", "--port", str(port), "--bind", "127.0.0.1", "--dir", home]
        else:
            args = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", home, "--save", ""]
            # Replicas sync at once (the default waits 5 s for more replicas to join).
            args += ["--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra]
        self.args[port] = args
        self._spawn(port)

    def _spawn(self, port: int) -> None:
        log = open(os.path.join(self.base, str(port), "log"), "ab")  # noqa: SIM115
        self.procs[port] = subprocess.Popen(
            self.args[port], stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.base
        )
        log.close()
        wait_for(lambda: self.ping(port), f"redis on port {port}")

    def ping(self, port: int) -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def kill(self, port: int) -> None:
        """Crash one node (SIGKILL to its process group): nothing is saved or handed over."""
        proc = self.procs.pop(port, None)
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def restart(self, port: int) -> None:
        self._spawn(port)

    def stop(self) -> None:
        for port in list(self.procs):
            self.kill(port)
        shutil.rmtree(self.base, ignore_errors=True)


def replicas_online(port: int) -> int:
    """How many replicas of the master on ``port`` finished their sync."""
    state = info(port, "replication")
    return sum(1 for i in range(int(state["connected_slaves"])) if state[f"slave{i}"]["state"] == "online")


def info(port: int, section: str) -> dict[str, t.Any]:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return dict(client.info(section))
    finally:
        client.close()


class RedisCluster(Nodes):
    """3 masters + 3 replicas (``redis-cli --cluster create --cluster-replicas 1``)."""

    def __init__(self) -> None:
        super().__init__("cluster")
        self.ports = free_ports(6)
        try:
            for port in self.ports:
                self.start(
                    port,
                    *("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"),
                    *("--cluster-node-timeout", "1000", "--dir", os.path.join(self.base, str(port))),
                )
            nodes = [f"127.0.0.1:{port}" for port in self.ports]
            subprocess.run(
                [REDIS_CLI, "--cluster", "create", *nodes, "--cluster-replicas", "1", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=STARTUP_TIMEOUT,
            )
            wait_for(self.healthy, "the cluster to settle")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])

    def healthy(self) -> bool:
        """Every live node sees the whole cluster ok with 3 masters, each with a replica."""
        for port in self.procs:
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
            try:
                state = client.execute_command("CLUSTER", "INFO").decode()
                if "cluster_state:ok" not in state or "cluster_size:3" not in state:
                    return False
            finally:
                client.close()
        return len(self.masters()) == 3 and all(replicas_online(p) for p in self.masters())

    def masters(self) -> list[int]:
        return [p for p in self.procs if info(p, "replication")["role"] == "master"]


class RedisSentinel(Nodes):
    """1 master + 2 replicas, 3 sentinels (quorum 2) watching them."""

    def __init__(self) -> None:
        super().__init__("sentinel")
        self.data_ports = free_ports(3)
        self.sentinel_ports = [p for p in free_ports(6) if p not in self.data_ports][:3]
        try:
            master = self.data_ports[0]
            self.start(master)
            for port in self.data_ports[1:]:
                self.start(port, "--replicaof", "127.0.0.1", str(master))
            wait_for(lambda: replicas_online(master) == 2, "the replicas")
            for port in self.sentinel_ports:
                self.start(
                    port,
                    f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2",
                    f"sentinel down-after-milliseconds {SERVICE} 1000",
                    f"sentinel failover-timeout {SERVICE} 3000",
                    f"sentinel parallel-syncs {SERVICE} 2",
                    sentinel=True,
                )
            wait_for(self.healthy, "the sentinels to know each other")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + f"/{SERVICE}"

    def master(self) -> int:
        client = redis.Redis(host="127.0.0.1", port=self.sentinel_ports[0], socket_timeout=1)
        try:
            _host, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
            return int(port)
        finally:
            client.close()

    def healthy(self) -> bool:
        for port in self.sentinel_ports:
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
            try:
                state = client.sentinel_master(SERVICE)
                if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 2:
                    return False
                if state["is_sdown"] or state["is_odown"]:
                    return False
            finally:
                client.close()
        master = self.master()
        return master in self.procs and replicas_online(master) == 2
