"""Which Redis the app talks to: ``SESSIONAUTH_REDIS_URL`` (one server, a
cluster, Sentinel) or a client the app built (``SESSIONAUTH_REDIS_CLIENT``),
and the configuration mistakes ``init_app`` refuses with a clear message."""

from __future__ import annotations

import typing as t

import pytest
import redis
from flask import Flask
from redis.cluster import RedisCluster
from redis.sentinel import Sentinel
from redis.sentinel import SentinelConnectionPool

from flask_sessionauth.storage.redis_clients import connect
from tests.conftest import REDIS_MODES
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import cookie_name
from tests.helpers import device
from tests.helpers import raw_client
from tests.helpers import signed_in_as
from tests.helpers import store_of


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("localhost:6379", "expected redis://"),
        ("http://127.0.0.1:6379", "unknown scheme 'http'"),
        ("redis+mongo://127.0.0.1", "unknown scheme 'redis+mongo'"),
        ("redis+cluster://127.0.0.1:7000/1", "a cluster has only database 0"),
        ("redis+cluster://u:s3cret@127.0.0.1:notaport", "is not host:port"),
        ("redis+cluster://127.0.0.1:70000", "is not host:port"),
        ("redis+cluster://,", "is not host:port"),
        ("redis+cluster://127.0.0.1:7000?ssl_cert_reqs=none", "SESSIONAUTH_REDIS_CLIENT"),
        ("redis+sentinel://127.0.0.1:26379", "<service name>"),
        ("redis+sentinel://:s3cret@127.0.0.1:26379/mymaster/x", "<service name>"),
        ("redis+sentinel://127.0.0.1:26379/a/1/2", "<service name>"),
    ],
)
def test_a_bad_url_stops_init_app_saying_why(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="SESSIONAUTH_REDIS_URL") as caught:
        create_app({"SESSIONAUTH_REDIS_URL": url})
    assert problem in str(caught.value)
    assert "s3cret" not in str(caught.value)


def bad_client_config() -> list[tuple[dict[str, t.Any], str]]:
    return [
        ({"SESSIONAUTH_REDIS_CLIENT": "redis://127.0.0.1"}, "must be a redis.Redis"),
        ({"SESSIONAUTH_REDIS_CLIENT": redis.Redis(decode_responses=True)}, "decode_responses=False"),
        ({"SESSIONAUTH_REDIS_CLIENT": redis.Redis(), "SESSIONAUTH_REDIS_URL": "redis://x"}, "not both"),
        ({"SESSIONAUTH_REDIS_URL": "redis://x", "SESSIONAUTH_REDIS_WAIT_REPLICAS": -1}, "WAIT_REPLICAS"),
        ({"SESSIONAUTH_REDIS_URL": "redis://x", "SESSIONAUTH_REDIS_WAIT_REPLICAS": True}, "WAIT_REPLICAS"),
        ({"SESSIONAUTH_REDIS_URL": "redis://x", "SESSIONAUTH_REDIS_WAIT_REPLICAS": "1"}, "WAIT_REPLICAS"),
        ({"SESSIONAUTH_REDIS_URL": "redis://x", "SESSIONAUTH_REDIS_FAILOVER_WINDOW": -1}, "FAILOVER_WINDOW"),
        ({"SESSIONAUTH_REDIS_URL": "redis://x", "SESSIONAUTH_REDIS_FAILOVER_WINDOW": "30"}, "FAILOVER_WINDOW"),
    ]


@pytest.mark.parametrize(("config", "problem"), bad_client_config())
def test_bad_client_settings_stop_init_app(config: dict[str, t.Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        create_app(config)


def test_each_url_kind_makes_its_client(redis_cluster: t.Any, redis_sentinel: t.Any) -> None:
    assert type(connect("redis://127.0.0.1:1/15")) is redis.Redis
    assert type(connect("unix:///tmp/no-such.sock")) is redis.Redis
    cluster = connect(redis_cluster.url)
    assert isinstance(cluster, RedisCluster)
    assert cluster.ping()
    sentinel = connect(redis_sentinel.url + "/3")
    assert isinstance(sentinel.connection_pool, SentinelConnectionPool)
    assert sentinel.connection_pool.connection_kwargs["db"] == 3
    assert sentinel.ping()
    for client in (cluster, sentinel):
        client.close()


def ready_client(kind: str, nodes: t.Any) -> t.Any:
    if kind == "cluster":
        host, port = nodes.url.split("://")[1].split(",")[0].split(":")
        return RedisCluster(host=host, port=int(port))
    sentinels = [(h, int(p)) for h, p in (a.split(":") for a in nodes.url.split("://")[1].split("/")[0].split(","))]
    return Sentinel(sentinels, socket_timeout=1).master_for("sessionauth", socket_timeout=1)


@pytest.mark.parametrize("kind", ["cluster", "sentinel", "single"])
def test_a_client_the_app_built_is_used_as_is(
    kind: str, request: pytest.FixtureRequest, tmp_path: t.Any, private_redis: t.Any
) -> None:
    if kind == "single":
        client, replicas = redis.Redis.from_url(private_redis.url), 0
    else:
        client, replicas = ready_client(kind, request.getfixturevalue(f"redis_{kind}")), 1
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}",
            "SESSIONAUTH_REDIS_CLIENT": client,
            "SESSIONAUTH_REDIS_PREFIX": private_redis.prefix,
        }
    )
    try:
        with app.app_context():
            db.create_all()
            user = app.extensions["sessionauth"].create_user("carol@example.com", "correct horse battery")
            user_id = user.id
        store = store_of(app)
        assert store.client is client
        assert store.wait_replicas == replicas
        browser = device(app)
        session = browser.sign_in(user)
        assert signed_in_as(browser) == user_id
        assert client.get(store.key(session.id)) not in (None, b"-")
        with app.test_request_context():
            assert app.extensions["sessionauth"].revoke_session(session.id, db.session.get(type(user), user_id))
        assert client.get(store.key(session.id)) == b"-"
        assert signed_in_as(browser) is None
    finally:
        for key in client.scan_iter(match=f"{private_redis.prefix}*"):
            client.delete(key)
        dispose(app)


@pytest.mark.storage(*REDIS_MODES)
@pytest.mark.parametrize("cookie", ["{x}", "a{b}c.d", "}{", "{" * 200, "x.{y}", "%7Bx%7D.y"])
def test_hostile_cookies_never_reach_a_5xx(app: Flask, user: t.Any, cookie: str) -> None:
    """Braces pick a key's hash slot on a cluster: cookies full of them are just unknown sessions."""
    client = raw_client(app)
    headers = {"Cookie": f"{cookie_name(app)}={cookie}"}
    assert client.get("/whoami/storage", headers=headers).json == {"user_id": None}
    assert client.get("/me", headers=headers).status_code in (302, 401)
