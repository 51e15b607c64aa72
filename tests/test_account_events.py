"""Account events end sessions (ASVS 7.4.2): deleting or deactivating a user,
or an administrator setting a new password with ``revoke_sessions=True``."""

from __future__ import annotations

import typing as t

from flask import Flask

from flask_sessionauth import current_user
from flask_sessionauth import session_revoked
from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD
from tests.helpers import device
from tests.helpers import login
from tests.helpers import session_ids


def test_deleting_a_user_ends_all_their_sessions(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    client.sign_in(user)
    second_client.sign_in(user)
    bystander = device(app)
    bystander.sign_in(other_user)
    assert len(session_ids(app, user.id)) == 2
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    assert session_ids(app, user.id) == set()
    for signed_out in (client, second_client):
        assert signed_out.get("/me").status_code in (302, 401)
        assert signed_out.get("/whoami").json == {"user_id": None}
    # Other users keep theirs.
    assert len(session_ids(app, other_user.id)) == 1
    assert bystander.get("/me").json == {"email": "bob@example.com"}


def test_deactivating_a_user_ends_all_their_sessions(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    client.sign_in(user)
    second_client.sign_in(user)
    bystander = device(app)
    bystander.sign_in(other_user)
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert session_ids(app, user.id) == set()
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/me").status_code in (302, 401)
    assert bystander.get("/me").json == {"email": "bob@example.com"}
    # Reactivating does not bring anything back, and a new sign-in is needed.
    with app.app_context():
        db.session.get(User, user.id).is_active = True
        db.session.commit()
    assert client.get("/whoami").json == {"user_id": None}
    login(client)
    assert client.get("/me").json == {"email": "alice@example.com"}


def test_a_deactivated_user_cannot_sign_in(app: Flask, client: t.Any, user: t.Any) -> None:
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    resp = client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert resp.status_code == 401
    assert session_ids(app, user.id) == set()


def test_unrelated_user_update_keeps_sessions(app: Flask, client: t.Any, user: t.Any) -> None:
    client.sign_in(user)
    with app.app_context():
        db.session.get(User, user.id).name = "Alice Liddell"
        db.session.commit()
    assert len(session_ids(app, user.id)) == 1
    assert client.get("/me").status_code == 200


def test_deactivation_rolled_back_keeps_sessions(app: Flask, client: t.Any, user: t.Any) -> None:
    """The revocation runs in the same transaction as the change: a rollback undoes both."""
    client.sign_in(user)
    with app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.flush()
        db.session.rollback()
    assert len(session_ids(app, user.id)) == 1
    assert client.get("/me").status_code == 200


def test_set_password_revokes_all_sessions(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    login(client)
    login(second_client)
    bystander = app.test_client()
    login(bystander, "bob@example.com")
    revoked: list[tuple[list[str], str]] = []

    def record(sender: t.Any, user_id: t.Any, session_ids: list[str], reason: str) -> None:
        revoked.append((session_ids, reason))

    before = session_ids(app, user.id)
    auth = app.extensions["sessionauth"]
    with app.app_context(), session_revoked.connected_to(record):
        assert auth.set_password(db.session.get(User, user.id), "an admin set this", revoke_sessions=True) == 2
    assert session_ids(app, user.id) == set()
    assert [(set(ids), reason) for ids, reason in revoked] == [(before, "password_reset")]
    assert client.get("/whoami").json == {"user_id": None}
    assert second_client.get("/me").status_code in (302, 401)
    assert bystander.get("/me").status_code == 200
    # The new password works, the old one does not.
    assert client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 401
    login(client, password="an admin set this")


def test_set_password_can_keep_sessions(app: Flask, client: t.Any, second_client: t.Any, user: t.Any) -> None:
    client.sign_in(user)
    second_client.sign_in(user)
    before = session_ids(app, user.id)
    auth = app.extensions["sessionauth"]
    with app.app_context():
        assert auth.set_password(db.session.get(User, user.id), "an admin set this", revoke_sessions=False) == 0
    assert session_ids(app, user.id) == before
    assert client.get("/me").status_code == 200
    assert second_client.get("/me").status_code == 200
    with app.app_context():
        assert auth.verify_password(db.session.get(User, user.id), "an admin set this")


def test_set_password_in_the_users_own_request_clears_their_cookie(app: Flask, client: t.Any, user: t.Any) -> None:
    """An admin page resetting the signed-in user's own password signs them out too."""

    @app.post("/test/reset-own")
    def reset_own() -> t.Any:
        return str(app.extensions["sessionauth"].set_password(current_user._get_current_object(), "reset by me!"))

    login(client)
    resp = client.post("/test/reset-own")
    assert resp.data == b"1"
    assert "Max-Age=0" in resp.headers["Set-Cookie"] or "expires=Thu, 01 Jan 1970" in resp.headers["Set-Cookie"]
    assert client.get("/whoami").json == {"user_id": None}
