"""The database dies after a sign-in committed, while the answer is being built
(the user's attributes expired on commit and reload): a 503, never a 500."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import db
from tests.helpers import API
from tests.helpers import ORIGIN
from tests.helpers import PASSWORD
from tests.helpers import page_csrf_token
from tests.helpers import wire_code

pytestmark = pytest.mark.storage("sqlite", "postgres")


def fail_user_reads_after_the_session_insert(app: Flask) -> t.Callable[[], int]:
    """From the session INSERT on, any SELECT of the users table fails as if the
    server went away; returns the function that removes the fault and says how
    many statements it failed (so a test knows the fault really struck)."""
    state = {"inserted": False, "failed": 0}

    def before(conn: t.Any, cursor: t.Any, statement: str, params: t.Any, context: t.Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO USER_SESSION"):
            state["inserted"] = True
        elif state["inserted"] and "FROM users" in statement:
            state["failed"] += 1
            raise sa.exc.OperationalError(statement, params, Exception("server closed the connection unexpectedly"))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)

    def remove() -> int:
        sa.event.remove(engine, "before_cursor_execute", before)
        return state["failed"]

    return remove


def test_api_sign_in_answers_503_when_storage_dies_after_the_commit(app: Flask, user: t.Any) -> None:
    client = app.test_client()
    remove = fail_user_reads_after_the_session_insert(app)
    try:
        resp = client.post(
            f"{API}/sign-in/email",
            json={"email": "alice@example.com", "password": PASSWORD},
            headers={"Origin": ORIGIN},
        )
    finally:
        failed = remove()
    assert failed >= 1  # the fault struck
    assert resp.status_code == 503, resp.data
    assert wire_code(resp) == "STORAGE_UNAVAILABLE"
    assert "Traceback" not in resp.get_data(as_text=True)


def test_page_sign_in_answers_503_when_storage_dies_after_the_commit(app: Flask, user: t.Any) -> None:
    client = app.test_client()
    token = page_csrf_token(client)
    remove = fail_user_reads_after_the_session_insert(app)
    try:
        resp = client.post(
            "/account/login",
            data={"email": "alice@example.com", "password": PASSWORD, "csrf_token": token},
            headers={"Origin": ORIGIN},
        )
    finally:
        failed = remove()
    # The page reads the user again only if it must (a 503 then); the activity log and the
    # new-device mail read it too, after the commit, and their failure never fails the
    # sign-in (a 302). Either way never a 500.
    assert failed >= 1  # the fault struck
    assert resp.status_code in (302, 503), (failed, resp.data)
    assert "Traceback" not in resp.get_data(as_text=True)
    if resp.status_code == 302:  # a redirect is a real sign-in, not one that half happened
        assert client.get("/whoami").json == {"user_id": user.id}
