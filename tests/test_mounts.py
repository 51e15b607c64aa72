"""Several apps on one host: ``__Host-`` cookies must have ``Path=/``, so two
apps mounted at ``/a`` and ``/b`` (Werkzeug's ``DispatcherMiddleware``, or a
proxy prefix) would share one cookie name and sign each other out. Each mount
gets its own names by default; an explicit ``SESSIONAUTH_COOKIE_NAME`` is kept."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import page_csrf_token
from tests.helpers import set_cookies

MOUNTS = ("/a", "/b")


def mounted_apps(tmp_path: t.Any, mounts: t.Iterable[str], **config: t.Any) -> dict[str, Flask]:
    """Separate apps (own database, own ``SECRET_KEY``), one user each."""
    apps = {}
    for i, mount in enumerate(mounts):
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/app{i}.db",
                "SECRET_KEY": f"secret of {mount}",
                "WTF_CSRF_ENABLED": True,
                **config,
            }
        )
        with app.app_context():
            db.create_all()
            app.extensions["sessionauth"].create_user("alice@example.com", PASSWORD)
        apps[mount] = app
    return apps


@pytest.fixture(params=[0, 300], ids=["database", "cookie_cache"])
def apps(request: pytest.FixtureRequest, tmp_path: t.Any) -> t.Iterator[dict[str, Flask]]:
    made = mounted_apps(tmp_path, MOUNTS, SESSIONAUTH_COOKIE_CACHE_MAX_AGE=request.param)
    yield made
    for app in made.values():
        dispose(app)


def browser(apps: dict[str, Flask]) -> t.Any:
    """One test client (one cookie jar) for every app on the host."""
    host = Flask("host")
    host.wsgi_app = DispatcherMiddleware(NotFound(), apps)  # type: ignore[method-assign]
    client = host.test_client()
    client.environ_base.update(HTTP_USER_AGENT=UA_CHROME)
    return client


def sign_in(client: t.Any, mount: str) -> t.Any:
    token = page_csrf_token(client, f"{mount}/account/login")
    data = {"email": "alice@example.com", "password": PASSWORD, "csrf_token": token}
    return client.post(f"{mount}/account/login", data=data)


def signed_in(client: t.Any, mount: str) -> bool:
    return client.get(f"{mount}/whoami/storage").json["user_id"] is not None


def test_two_apps_on_one_host_stay_signed_in(apps: dict[str, Flask]) -> None:
    client = browser(apps)
    for mount in MOUNTS:
        assert sign_in(client, mount).status_code == 302
    assert [signed_in(client, mount) for mount in MOUNTS] == [True, True]
    # Ordinary views too (with the cookie cache: each app's own cache cookie).
    assert [client.get(f"{mount}/me").status_code for mount in MOUNTS] == [200, 200]
    client.post("/b/test/logout")
    assert [signed_in(client, mount) for mount in MOUNTS] == [True, False]


def test_each_mount_has_its_own_cookie_names(apps: dict[str, Flask]) -> None:
    client = browser(apps)
    assert "__Host-session-a" in set_cookies(client.get("/a/account/login"))  # Flask's, with the CSRF secret
    assert "__Host-sessionauth-a" in set_cookies(sign_in(client, "/a"))
    jar = {cookie.key: cookie for cookie in client._cookies.values()}
    assert "__Host-sessionauth-a" in jar and not any(name.startswith("__Host-sessionauth-b") for name in jar)
    for cookie in jar.values():
        assert cookie.path == "/" and cookie.secure


def test_a_form_of_one_app_survives_a_page_of_the_other(apps: dict[str, Flask]) -> None:
    """Flask's session cookie holds the CSRF secret: loading ``/b``'s page must
    not replace the one ``/a``'s form was made with."""
    client = browser(apps)
    token = page_csrf_token(client, "/a/account/login")
    page_csrf_token(client, "/b/account/login")
    data = {"email": "alice@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/a/account/login", data=data).status_code == 302
    assert signed_in(client, "/a")


def test_a_cookie_of_one_mount_is_nothing_to_the_other(apps: dict[str, Flask]) -> None:
    client = browser(apps)
    sign_in(client, "/a")
    value = client.get_cookie("__Host-sessionauth-a").value
    client.set_cookie("__Host-sessionauth-b", value)
    assert not signed_in(client, "/b")
    assert signed_in(client, "/a")


def test_odd_mount_points_give_distinct_valid_names(tmp_path: t.Any) -> None:
    """Any script root maps to a distinct cookie-safe name (quoted, so ``/a/b``
    and ``/a-b`` never meet); the app at the root keeps the plain name."""
    mounts = ("/a/b", "/a-b", "/a.b", "/caf\u00e9", "/x;y=z")
    apps = mounted_apps(tmp_path, mounts)
    # WSGI paths are latin-1 decoded UTF-8 bytes: the dispatcher's keys are too.
    client = browser({m.encode().decode("latin-1"): app for m, app in apps.items()})
    try:
        for mount in apps:
            assert sign_in(client, mount).status_code == 302, mount
        assert all(signed_in(client, mount) for mount in apps)
        names = [c.key for c in client._cookies.values() if c.key.startswith("__Host-sessionauth")]
        assert len(set(names)) == len(mounts)
        assert all(";" not in n and "=" not in n and " " not in n and n.isascii() for n in names)
    finally:
        for app in apps.values():
            dispose(app)


def test_an_explicit_cookie_name_is_kept_under_a_mount(tmp_path: t.Any) -> None:
    """Two mounts of one deployment may share the session on purpose: a name
    set in the config is used as it is, everywhere."""
    apps = mounted_apps(tmp_path, ["/a"], SESSIONAUTH_COOKIE_NAME="shared")
    try:
        client = browser(apps)
        assert "__Host-shared" in set_cookies(sign_in(client, "/a"))
    finally:
        dispose(apps["/a"])
