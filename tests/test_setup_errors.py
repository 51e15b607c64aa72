"""Set-up mistakes say what is wrong and how to fix it (issue 16, item 6): a missing
database is not a missing table, a dropped ``__Host-`` cookie is not an expired form,
``create-user`` asks the database before the password, a configuration error is not
"temporarily unavailable", ``init_app`` names ``db.init_app`` and
``SESSIONAUTH_PASSWORD_FIELD``, and the account pages' 404/405 are styled."""

from __future__ import annotations

import logging
import typing as t
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_sessionauth import SessionAuth
from tests.attack_support import OUTAGE_MESSAGE
from tests.attack_support import all_logs
from tests.attack_support import build_app
from tests.attack_support import csrf_from
from tests.attack_support import dispose
from tests.attack_support import same_origin
from tests.attack_support import session_cookie_name
from tests.attack_support import sqlite_url
from tests.attack_support import text
from tests.conftest import User
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import require
from tests.helpers import PASSWORD
from tests.helpers import device

EMAIL = "alice@example.com"
SET_UP_WRONG = "not set up correctly"
COOKIE = "AAAAAAAAAAAAAAAAAAAAAA." + "B" * 43


def signed_in_request(app: Flask, path: str = "/account/devices") -> t.Any:
    """A request with a session cookie, so storage is asked."""
    c = device(app)
    c.set_cookie(session_cookie_name(app), COOKIE)
    return c.get(path)


def missing_database_url(kind: str, tmp_path: t.Any) -> tuple[str, str]:
    """A URL whose database does not exist, and the name the log must give."""
    if kind == "postgres":
        require("postgres")
        name = f"tset_{uuid.uuid4().hex[:12]}"  # a misspelt "test"
        return f"postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/{name}", name
    path = tmp_path / "no-such-dir" / "app.db"
    return f"sqlite:///{path}", str(path)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_missing_database_is_not_called_a_missing_table(tmp_path: t.Any, kind: str) -> None:
    url, name = missing_database_url(kind, tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PROPAGATE_EXCEPTIONS": False})
    try:
        with all_logs() as records:
            resp = signed_in_request(app)
        logged = " ".join(records.messages(logging.WARNING))
        assert name in logged and "cannot be opened" in logged, logged
        assert "create_all" not in logged and "hunter2" not in logged
        assert SET_UP_WRONG in text(resp) and OUTAGE_MESSAGE not in text(resp)
    finally:
        dispose(app, drop=False)


@pytest.fixture
def no_tables(tmp_path: t.Any) -> t.Iterator[Flask]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url(tmp_path), "PROPAGATE_EXCEPTIONS": False})
    yield app
    dispose(app, drop=False)


def test_a_configuration_error_page_is_not_temporarily_unavailable(no_tables: Flask) -> None:
    resp = signed_in_request(no_tables)
    assert resp.status_code == 503
    assert "Temporarily unavailable" not in text(resp) and "temporarily unavailable" not in text(resp)
    assert "Sign-in is not set up correctly" in text(resp)


def test_create_user_reports_a_missing_table_before_asking_for_the_password(no_tables: Flask) -> None:
    result = no_tables.test_cli_runner().invoke(args=["sessionauth", "create-user", EMAIL], input="")
    assert result.exit_code == 1
    assert "Password" not in result.output
    assert "Traceback" not in result.output and "administrators" not in result.output
    assert "db.create_all()" in result.output and "users" in result.output


def test_create_user_with_a_password_option(tmp_path: t.Any) -> None:
    app = build_app(sqlite_url(tmp_path), [])
    try:
        result = app.test_cli_runner().invoke(args=["sessionauth", "create-user", EMAIL, "--password", PASSWORD])
        assert result.exit_code == 0, result.output
        assert "Created user" in result.output
    finally:
        dispose(app)


def test_a_dropped_host_cookie_over_http_is_named_on_the_page(tmp_path: t.Any) -> None:
    """A browser drops the Secure ``__Host-session`` cookie over http://intranet.lan (not the host
    test_migration_errors uses: the transport warning is logged once per host), so the
    form's token cannot be checked: the page says so (debug off), not "form expired"."""
    app = build_app(sqlite_url(tmp_path), [EMAIL])
    try:
        for base, expected in (("http://intranet.lan", "HTTPS"), ("http://localhost", "This form has expired")):
            page = device(app, remote_addr="192.168.1.20")
            token = csrf_from(text(page.get("/account/login", base_url=base)))
            browser = device(app, remote_addr="192.168.1.20")  # the cookie did not come back
            resp = browser.post(
                "/account/login",
                data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
                base_url=base,
                headers=same_origin(base),
            )
            assert resp.status_code == 400
            assert expected in text(resp)
        assert "intranet.lan" in text(browser.post("/account/login", base_url="http://intranet.lan"))
    finally:
        dispose(app)


def test_init_app_before_db_init_app_names_the_fix(tmp_path: t.Any) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=sqlite_url(tmp_path))
    with pytest.raises(RuntimeError, match=r"db\.init_app\(app\).*before SessionAuth\.init_app"):
        SessionAuth().init_app(app, db=db, user_model=User)


other_db = SQLAlchemy()


class Person(other_db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "people"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320))
    password = sa.Column(sa.String(255))


def test_a_model_without_password_hash_names_the_setting(tmp_path: t.Any) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", SQLALCHEMY_DATABASE_URI=sqlite_url(tmp_path))
    other_db.init_app(app)
    with pytest.raises(TypeError, match=r"'password_hash'.*email, id, password.*SESSIONAUTH_PASSWORD_FIELD"):
        SessionAuth().init_app(app, db=other_db, user_model=Person)
    app.config["SESSIONAUTH_PASSWORD_FIELD"] = "password"
    SessionAuth().init_app(app, db=other_db, user_model=Person)


def test_account_pages_404_and_405_are_styled(tmp_path: t.Any) -> None:
    app = build_app(sqlite_url(tmp_path), [])
    try:
        c = device(app)
        missing = c.get("/account/no-such-page")
        assert missing.status_code == 404
        assert "sessionauth.css" in text(missing) and "Page not found" in text(missing)
        wrong = c.put("/account/devices")
        assert wrong.status_code == 405
        assert "sessionauth.css" in text(wrong) and wrong.headers["Allow"]
        elsewhere = c.get("/no-such-page")
        assert elsewhere.status_code == 404 and "sessionauth.css" not in text(elsewhere)
    finally:
        dispose(app)
