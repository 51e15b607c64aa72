"""The test suite is a good guest on a shared Redis and PostgreSQL server.

The suite's Redis is ``SESSIONAUTH_TEST_REDIS`` and nothing else; every test writes under a
key prefix of its own and deletes only its own keys, so another program's keys in any
database of the same server (or a parallel test run's) survive a run. A hard-coded Redis
URL, or a clean-up that empties a whole database, breaks these tests.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import typing as t
import uuid

import pytest
import redis

from tests.conftest import REQUIRE_SERVICES

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: The attack tests that keep Redis state (before: a fixed DB 12 they emptied).
REDIS_TESTS = [
    "tests/test_isolation.py",
    "tests/test_secrets_at_rest.py::test_throttle_keys_are_not_plain_hashes_of_email_or_address",
    "tests/test_lockout.py::test_too_many_attempts_says_how_long_to_wait",
]
#: Commands that only read or manage a connection; anything else wrote something.
READ_ONLY = {"ping", "info", "config", "select", "client", "hello", "command", "scan", "get", "exists", "ttl", "pttl"}


@pytest.fixture
def own_redis_server(tmp_path: pathlib.Path) -> t.Iterator[pathlib.Path]:
    """A Redis server of this test's own, on a UNIX socket (no port to collide on)."""
    if shutil.which("redis-server") is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is required (SESSIONAUTH_REQUIRE_SERVICES=1)")
        pytest.skip("redis-server not installed")
    sock = tmp_path / "redis.sock"
    args = ["--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", tmp_path]
    proc = subprocess.Popen(["redis-server", *map(str, args)], stdout=subprocess.DEVNULL)
    try:
        with redis.Redis(unix_socket_path=str(sock)) as client:
            for _ in range(400):  # readiness, not a race: the server answers or has died
                if proc.poll() is not None:
                    pytest.fail("redis-server exited")
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            else:
                pytest.fail("redis-server did not start")
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_tests_use_only_the_configured_redis_and_their_own_keys(own_redis_server: pathlib.Path) -> None:
    sock = own_redis_server
    sentinels = {db: f"someone-else:{uuid.uuid4().hex}" for db in (0, 3, 12, 15)}
    for db, key in sentinels.items():
        with redis.Redis(unix_socket_path=str(sock), db=db) as client:
            client.set(key, "keep me")
            client.config_resetstat()  # count only what the tests do from here
    env = {**os.environ, "SESSIONAUTH_TEST_REDIS": f"unix://{sock}?db=3", "SESSIONAUTH_REQUIRE_SERVICES": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *REDIS_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

    with redis.Redis(unix_socket_path=str(sock)) as client:
        calls = {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in client.info("commandstats").items()}
    writes = {name: n for name, n in calls.items() if name.split("|")[0] not in READ_ONLY}
    assert writes, f"the Redis tests never wrote to SESSIONAUTH_TEST_REDIS (commands seen: {calls})"
    for db, key in sentinels.items():
        with redis.Redis(unix_socket_path=str(sock), db=db) as client:
            assert client.get(key) == b"keep me", f"a test deleted another program's key in Redis DB {db}"
            leftovers = [k for k in client.scan_iter(count=1000) if k.decode() != key]
            assert not leftovers, f"the tests left keys behind in DB {db}: {leftovers[:5]}"


def test_no_test_or_benchmark_names_a_redis_database_or_empties_one() -> None:
    """Redis URLs come from the environment (``SESSIONAUTH_TEST_REDIS``, ``BENCH_REDIS``);
    a test never empties a database or deletes keys it did not make."""
    problems = []
    for path in sorted([*ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py")]):
        if path.name == "test_shared_machine.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            live_url = re.search(r"redis://[^\"']*:6379", line)
            if live_url and "environ.get(" not in line:
                problems.append(f"{where}: hard-coded Redis URL {live_url.group(0)}")
            if re.search(r"\.(flushdb|flushall)\(", line, re.I):
                problems.append(f"{where}: empties a whole Redis database")
            if re.search(r"\.scan_iter\((count=\d+)?\)", line):
                problems.append(f"{where}: scans every key, not only its own prefix")
    assert not problems, "\n".join(problems)


#: How the project's files read a variable: Python, a defaulted bash expansion, Node.
READS = re.compile(
    r"""os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]+)|getenv\(\s*["']([A-Z][A-Z0-9_]+)|"""
    r"""\$\{([A-Z][A-Z0-9_]+):-|process\.env\.([A-Z][A-Z0-9_]+)"""
)


def test_every_variable_the_project_reads_is_in_the_readme() -> None:
    files = [
        *ROOT.glob("tests/*.py"),
        *ROOT.glob("bench/*.py"),
        *ROOT.glob("examples/*.py"),
        *ROOT.glob("scripts/*"),
        ROOT / ".ci" / "run",
        *ROOT.glob("tests/js/*.mjs"),
        *ROOT.glob("tests/js/lib/*.mjs"),
    ]
    read: dict[str, str] = {}
    for path in files:
        for match in READS.finditer(path.read_text(encoding="utf-8")):
            read.setdefault(next(g for g in match.groups() if g), str(path.relative_to(ROOT)))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Environment variables", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert {"SESSIONAUTH_TEST_POSTGRES", "SESSIONAUTH_TEST_REDIS", "PORT"} <= set(read)
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"read but not in the README's environment table: {missing}"
