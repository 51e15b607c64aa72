"""Issue 17.6: administrators list and end any user's sessions and read their
activity, when the app registers ``auth.admin_check``.

Abuse considered: a non-admin probing user ids (the same 404 for every id,
existing or not, and for every admin route without a check); hostile ids
(letters, huge numbers, NULs: 404, never a 500); a cross-site form (origin
and CSRF checks of the account pages); a stale administrator session (asked
for the password again first); the administrator's own device and address
leaking into the user's log (left out, the admin named by id only).
"""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

from flask_sessionauth import SessionAuth
from flask_sessionauth import admin_action
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import API
from tests.helpers import PASSWORD
from tests.helpers import UA_FIREFOX
from tests.helpers import device
from tests.helpers import form_post
from tests.helpers import login
from tests.helpers import page_csrf_token
from tests.helpers import session_ids
from tests.helpers import stale
from tests.helpers import text

pytestmark = pytest.mark.storage("sqlite", "postgres", "redis")

ADMIN = "admin@example.com"


@pytest.fixture
def ext() -> SessionAuth:
    return SessionAuth()


@pytest.fixture
def app(storage_config: dict[str, t.Any], ext: SessionAuth) -> t.Iterator[Flask]:
    """An app of its own extension object: the admin check stays with it."""
    app = create_app({**storage_config, "WTF_CSRF_ENABLED": True}, ext=ext)
    with app.app_context():
        db.drop_all()
        db.create_all()
        ext.create_user(ADMIN, PASSWORD)
        for email in ("alice@example.com", "bob@example.com"):
            ext.create_user(email, PASSWORD)
    yield app
    dispose(app, drop=True)


@pytest.fixture
def admin_check(ext: SessionAuth) -> None:
    @ext.admin_check
    def is_admin(user: t.Any) -> bool:
        return bool(user.email == ADMIN)


def user_id(app: Flask, email: str) -> t.Any:
    with app.app_context():
        return app.extensions["sessionauth"].find_user(email).id


def signed_in(app: Flask, email: str, user_agent: str | None = None) -> t.Any:
    client = device(app, user_agent) if user_agent else device(app)
    login(client, email)
    return client


def test_without_a_check_every_admin_route_is_a_404(app: Flask) -> None:
    admin = signed_in(app, ADMIN)
    alice = user_id(app, "alice@example.com")
    for path in (f"/account/admin/users/{alice}/sessions", f"/account/admin/users/{alice}/activity"):
        assert admin.get(path).status_code == 404
    token = page_csrf_token(admin, "/account/devices")
    resp = admin.post(f"/account/admin/users/{alice}/sessions/revoke-all", data={"csrf_token": token})
    assert resp.status_code == 404


@pytest.mark.usefixtures("admin_check")
def test_non_admins_cannot_tell_user_ids_apart(app: Flask) -> None:
    bob = signed_in(app, "bob@example.com")
    alice = user_id(app, "alice@example.com")
    answers = set()
    for uid in (alice, 999999, "x"):
        for page in ("sessions", "activity"):
            resp = bob.get(f"/account/admin/users/{uid}/{page}")
            # The page's CSRF token is signed with the time: the one part that may differ.
            answers.add((resp.status_code, re.sub(r'csrf-token" content="[^"]*"', "", text(resp))))
    assert len(answers) == 1 and next(iter(answers))[0] == 404
    assert device(app).get(f"/account/admin/users/{alice}/sessions").status_code == 404


@pytest.mark.usefixtures("admin_check")
@pytest.mark.parametrize("raw", ["abc", "9" * 40, "-1", "1%00", "%F0%9F%92%A9"])
def test_hostile_ids_are_a_404(app: Flask, raw: str) -> None:
    admin = signed_in(app, ADMIN)
    assert admin.get(f"/account/admin/users/{raw}/sessions").status_code == 404


@pytest.mark.usefixtures("admin_check")
def test_admin_lists_and_revokes(app: Flask) -> None:
    sent: list[dict[str, t.Any]] = []

    def receive(sender: t.Any, **payload: t.Any) -> None:
        sent.append({**payload, "admin": payload["admin"].email})  # read in the request

    alice = user_id(app, "alice@example.com")
    phone = signed_in(app, "alice@example.com", UA_FIREFOX)
    laptop = signed_in(app, "alice@example.com")
    admin = signed_in(app, ADMIN)
    sessions_page = f"/account/admin/users/{alice}/sessions"
    page = text(admin.get(sessions_page))
    assert "Firefox 133 on Windows" in page and "Chrome 131 on macOS" in page
    own = text(admin.get(f"/account/admin/users/{user_id(app, ADMIN)}/sessions"))
    assert "Active now" in own and "Last active Active now" not in re.sub(r"<[^>]+>", "", own)
    [one, *_] = sorted(session_ids(app, alice))
    with admin_action.connected_to(receive, app):
        resp = form_post(admin, f"{sessions_page}/{one}/revoke", page=sessions_page)
        assert resp.status_code == 302 and resp.location.endswith(sessions_page)
        assert one not in session_ids(app, alice)
        resp = form_post(admin, f"{sessions_page}/revoke-all", page=sessions_page)
        assert resp.status_code == 302
    assert session_ids(app, alice) == set()
    assert [(p["action"], p["user_id"], p["admin"]) for p in sent] == [
        ("revoke", alice, ADMIN),
        ("revoke_all", alice, ADMIN),
    ]
    assert len(sent[0]["session_ids"]) == 1 and len(sent[1]["session_ids"]) == 1
    for client in (phone, laptop):
        assert client.get("/whoami/storage").json == {"user_id": None}
    # The admin still is signed in; the user's log names the administrator, not their device.
    assert admin.get("/whoami/storage").json["user_id"] == user_id(app, ADMIN)
    log = text(admin.get(f"/account/admin/users/{alice}/activity"))
    assert log.count('data-event-kind="admin_action"') == 2
    assert "Administrator" in log and "by an administrator" in log
    fresh = signed_in(app, "alice@example.com")
    listed = fresh.get(f"{API}/list-activity").json
    admin_rows = [e for e in listed if e["byAdministrator"]]
    assert admin_rows and all(e["ipAddress"] is None and e["device"] == "Administrator" for e in admin_rows)


@pytest.mark.usefixtures("admin_check")
def test_admin_revoking_needs_csrf_same_origin_and_a_fresh_password(app: Flask) -> None:
    alice = user_id(app, "alice@example.com")
    signed_in(app, "alice@example.com")
    admin = signed_in(app, ADMIN)
    path = f"/account/admin/users/{alice}/sessions/revoke-all"
    assert admin.post(path).status_code == 400  # no CSRF token
    token = page_csrf_token(admin, "/account/devices")
    cross = admin.post(path, data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross.status_code in (400, 403)
    assert len(session_ids(app, alice)) == 1
    with stale(app):
        resp = form_post(admin, path)
        assert resp.status_code == 302 and "/account/confirm" in resp.location
        assert len(session_ids(app, alice)) == 1


@pytest.mark.usefixtures("admin_check")
def test_cli_activity_of_any_user(app: Flask) -> None:
    signed_in(app, "alice@example.com")
    result = app.test_cli_runner().invoke(args=["sessionauth", "activity", "alice@example.com", "--json"])
    assert result.exit_code == 0, result.output
    assert '"kind": "sign_in"' in result.output


@pytest.mark.usefixtures("admin_check")
def test_a_device_the_admin_signed_out_is_told_so(app: Flask) -> None:
    alice = user_id(app, "alice@example.com")
    phone = signed_in(app, "alice@example.com", UA_FIREFOX)
    admin = signed_in(app, ADMIN)
    sessions_page = f"/account/admin/users/{alice}/sessions"
    assert form_post(admin, f"{sessions_page}/revoke-all", page=sessions_page).status_code == 302
    page = text(phone.get("/account/devices", follow_redirects=True))
    assert "An administrator signed this device out on" in page
    assert "127.0.0.1" not in page
