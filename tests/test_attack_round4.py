"""Issue 17, round four attacker pass: account recovery, activity, admin and naming."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_sessionauth.core import signals
from tests.conftest import db
from tests.helpers import API
from tests.helpers import NEW_PASSWORD
from tests.helpers import api_post
from tests.helpers import api_signed_in
from tests.helpers import device
from tests.helpers import page_csrf_token
from tests.helpers import page_sign_in
from tests.test_account_mail import app_config  # noqa: F401 (the mailbox and public URL)
from tests.test_account_mail import reported  # noqa: F401 (the new-device mail's report link)

# -- "This wasn't me" after the account's address changed ------------------------------


def test_report_link_is_void_after_the_email_changes(
    app: Flask,
    user: t.Any,
    second_client: t.Any,
    reported: tuple[str, t.Any],  # noqa: F811
) -> None:
    """The link mints a password reset token: mailed to the old address, it
    must not still work once the account moved to a new one (as reset links)."""
    path, _ = reported
    with app.app_context():
        row = db.session.get(type(user), user.id)
        row.email = "alice2@example.com"
        db.session.commit()
    old_mailbox = device(app)
    assert old_mailbox.get(path).status_code == 400
    token = page_csrf_token(old_mailbox, "/account/forgot-password")
    done = old_mailbox.post("/account/report-device", data={"csrf_token": token, "token": path.split("token=")[1]})
    assert done.status_code == 400
    assert "reset-password?token=" not in done.headers.get("Location", "")


# -- a redirect target urlsplit cannot parse -------------------------------------------

UNPARSABLE = ["https://[evil.example", "http://[::1", "https://a]b@[x/"]


@pytest.mark.parametrize("target", UNPARSABLE)
def test_unparsable_redirect_to_neither_fails_nor_tells_the_account_exists(
    app: Flask, user: t.Any, target: str
) -> None:
    """It was read only when the address had an account: a 500 there, a 200 else."""
    c = device(app)
    known = api_post(c, "request-password-reset", {"email": "alice@example.com", "redirectTo": target})
    unknown = api_post(c, "request-password-reset", {"email": "nobody@example.com", "redirectTo": target})
    assert known.status_code == unknown.status_code == 200
    assert known.get_json() == unknown.get_json()


@pytest.mark.parametrize("target", UNPARSABLE)
def test_unparsable_callback_url_is_never_a_500(app: Flask, user: t.Any, target: str) -> None:
    resp = device(app).get(f"{API}/reset-password/{'a' * 43}", query_string={"callbackURL": target})
    assert resp.status_code in (302, 400)
    assert "evil" not in resp.headers.get("Location", "")


# -- the report link and the reset it leads to, on Redis and with the cookie cache -------


@pytest.mark.storage("redis", "cookie_cache")
def test_report_then_reset_ends_every_session_in_each_store(
    app: Flask,
    user: t.Any,
    client: t.Any,
    second_client: t.Any,
    reported: tuple[str, t.Any],  # noqa: F811
) -> None:
    path, _ = reported
    page_sign_in(client)
    owner = device(app)
    csrf = page_csrf_token(owner, path)
    done = owner.post("/account/report-device", data={"csrf_token": csrf, "token": path.split("token=")[1]})
    assert done.status_code == 302 and not api_signed_in(second_client) and api_signed_in(client)
    token = done.headers["Location"].split("token=")[1]
    assert api_post(owner, "reset-password", {"newPassword": NEW_PASSWORD, "token": token}).status_code == 200
    assert not api_signed_in(client)
    assert api_post(owner, "reset-password", {"newPassword": "yet another one", "token": token}).status_code == 400


# -- a device reported as "not me" is never a known device -----------------------------


def test_a_reported_device_signing_in_again_is_a_new_device(
    app: Flask,
    user: t.Any,
    second_client: t.Any,
    reported: tuple[str, t.Any],  # noqa: F811
) -> None:
    """Its sign-in event made its browser, OS and country "known" for
    ``SESSIONAUTH_KNOWN_DEVICE_DAYS``: after the owner said "This wasn't me",
    the same attacker signing in again (the password not yet changed) got no mail."""
    path, _ = reported
    owner = device(app)
    csrf = page_csrf_token(owner, path)
    done = owner.post("/account/report-device", data={"csrf_token": csrf, "token": path.split("token=")[1]})
    assert done.status_code == 302 and not api_signed_in(second_client)
    announced: list[t.Any] = []

    def receiver(sender: t.Any, **kw: t.Any) -> None:
        announced.append(kw["session"].id)

    signals.new_device_sign_in.connect(receiver)
    try:
        page_sign_in(second_client)
    finally:
        signals.new_device_sign_in.disconnect(receiver)
    assert api_signed_in(second_client) and len(announced) == 1
