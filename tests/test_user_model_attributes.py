"""``current_user.is_authenticated`` / ``is_active`` / ``is_anonymous`` / ``get_id()`` on
every user model (the Quick start's has no mixin), and ``SESSIONAUTH_LOGIN_VIEW``."""

from __future__ import annotations

import typing as t

import flask_login
import pytest
from flask import Flask
from flask import jsonify
from flask import render_template_string

from flask_sessionauth import current_user
from flask_sessionauth import login_required
from tests.conftest import EVERY_STORAGE
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import dispose
from tests.helpers import login

TEMPLATE = "{% if current_user.is_authenticated %}in:{{ current_user.get_id() }}{% else %}out{% endif %}"


@pytest.fixture
def probe(app: Flask) -> Flask:
    @app.get("/probe")
    def probe_view() -> t.Any:
        return jsonify(
            template=render_template_string(TEMPLATE),
            authenticated=current_user.is_authenticated,
            anonymous=current_user.is_anonymous,
            active=current_user.is_active,
            id=current_user.get_id(),
        )

    return app


@pytest.mark.storage(*EVERY_STORAGE)
def test_a_model_without_mixin_answers_like_flask_login(probe: Flask, user: t.Any, client: t.Any) -> None:
    assert "is_authenticated" not in vars(User) or not issubclass(User, flask_login.UserMixin)
    assert client.get("/probe").json == {
        "template": "out",
        "authenticated": False,
        "anonymous": True,
        "active": False,
        "id": None,
    }
    login(client)
    assert client.get("/probe").json == {
        "template": f"in:{user.id}",
        "authenticated": True,
        "anonymous": False,
        "active": True,
        "id": str(user.id),
    }


def test_what_the_model_defines_is_never_replaced(app: Flask) -> None:
    """``User.is_active`` stays the column (it signs a user out when False)."""
    assert User.is_active.property.columns[0].name == "is_active"  # type: ignore[attr-defined]
    from tests.test_flask_login_bridge import Member

    assert Member.is_authenticated is flask_login.UserMixin.is_authenticated  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("login_view", "location"),
    [("own_login", "/signin?next=/me"), ("/signin", "/signin?next=/me"), (None, "/account/login?next=/me")],
)
def test_login_view_sends_login_required_to_the_apps_page(
    tmp_path: t.Any, login_view: str | None, location: str
) -> None:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}", "SESSIONAUTH_LOGIN_VIEW": login_view}
    )
    app.add_url_rule("/signin", "own_login", lambda: "the app's own sign-in page")

    @app.post("/private")
    @login_required
    def private() -> str:
        return "private"

    try:
        resp = app.test_client().get("/me")
        assert resp.status_code == 302
        assert resp.location == location
        assert app.test_client().post("/private").location == location.split("?")[0]  # no next for a POST
    finally:
        dispose(app)
