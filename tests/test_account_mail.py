"""The account-protection mails and the new-device mail's "This wasn't me"
link, on a real SMTP server (``mailbox``). A sign-in from a device new to the
account sends ``new_device_sign_in`` itself, so each account's first sign-in mails."""

from __future__ import annotations

import datetime as dt
import email.message
import logging
import typing as t
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import Flask
from jinja2 import ChoiceLoader
from jinja2 import DictLoader

from flask_sessionauth import SessionAuth
from flask_sessionauth.core import signals
from flask_sessionauth.core.errors import ReportedSessionEnded
from flask_sessionauth.core.errors import ReportLinkExpired
from flask_sessionauth.core.errors import ReportLinkInvalid
from flask_sessionauth.core.errors import ReportLinkUsed
from tests.conftest import create_app
from tests.conftest import db
from tests.conftest import dispose
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.helpers import api_post
from tests.helpers import api_signed_in
from tests.helpers import auth_of
from tests.helpers import device
from tests.helpers import form_post
from tests.helpers import free_port
from tests.helpers import page_csrf_token
from tests.helpers import page_sign_in
from tests.helpers import session_cookie
from tests.helpers import state_of
from tests.helpers import text
from tests.mailbox import Mailbox
from tests.mailbox import bodies
from tests.mailbox import link_in
from tests.mailbox import received

PUBLIC = "https://app.example"


@pytest.fixture
def app_config(mailbox: Mailbox) -> dict[str, t.Any]:
    return {**mailbox.config(), "SESSIONAUTH_PUBLIC_URL": PUBLIC, "SESSIONAUTH_SITE_NAME": "Example Shop"}


def newest_session(app: Flask, user: t.Any) -> t.Any:
    """``user``'s newest session: the sign-in just made from a device new to the
    account, which sent ``new_device_sign_in`` (and so the mail)."""
    with app.app_context():
        return auth_of(app).list_sessions(db.session.get(type(user), user.id))[0]


def local(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def reported(app: Flask, user: t.Any, second_client: t.Any, mailbox: Mailbox) -> tuple[str, t.Any]:
    """The second device signed in (new to the account, so mailed): the mail's report link and that session."""
    page_sign_in(second_client)
    session = newest_session(app, user)
    (message,) = received(app, mailbox, 1)
    return local(link_in(message, "report-device")), session


def test_new_device_mail(app: Flask, user: t.Any, second_client: t.Any, mailbox: Mailbox) -> None:
    page_sign_in(second_client)
    newest_session(app, user)
    (message,) = received(app, mailbox, 1)
    assert message["To"] == "alice@example.com" and message["From"] == "security@example.com"
    assert message["Subject"] == "Example Shop: new sign-in from Firefox 133 on Windows"
    plain, html = bodies(message)
    assert "203.0.113.7" in plain and "Firefox 133 on Windows" in html
    link = link_in(message, "report-device")
    assert link.startswith(f"{PUBLIC}/account/report-device?token=") and 'id="report-link"' in html
    # Never a session credential in a mail.
    secret = session_cookie(second_client, app)
    assert secret and secret not in message.as_string() and secret.split(".")[-1] not in message.as_string()


def test_get_changes_nothing_post_signs_the_device_out(
    app: Flask, user: t.Any, second_client: t.Any, reported: tuple[str, t.Any]
) -> None:
    path, session = reported
    stranger = device(app)  # the mailbox's owner, on another device, not signed in
    for _ in range(3):  # a mail scanner prefetching the link
        resp = stranger.get(path)
        assert resp.status_code == 200 and "Firefox 133 on Windows" in text(resp)
    assert api_signed_in(second_client)
    events: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, **kw: t.Any) -> None:
        events.append(kw)

    signals.session_reported.connect(receiver)
    try:
        token = page_csrf_token(stranger, path)
        done = stranger.post("/account/report-device", data={"csrf_token": token, "token": path.split("token=")[1]})
    finally:
        signals.session_reported.disconnect(receiver)
    assert done.status_code == 302 and "/account/reset-password?token=" in done.headers["Location"]
    assert events == [{"user_id": user.id, "session_id": session.id}]
    assert not api_signed_in(second_client)
    # ... and leads to a password reset that works
    reset_page = stranger.get(done.headers["Location"])
    assert reset_page.status_code == 200
    token = done.headers["Location"].split("token=")[1]
    assert api_post(stranger, "reset-password", {"newPassword": NEW_PASSWORD, "token": token}).status_code == 200
    # Twice: says so (409), distinct from the other failures.
    again = stranger.get(path)
    assert again.status_code == 409 and str(ReportLinkUsed.default_message) in text(again)


def test_post_without_csrf_changes_nothing(app: Flask, second_client: t.Any, reported: tuple[str, t.Any]) -> None:
    path, _ = reported
    resp = device(app).post("/account/report-device", data={"token": path.split("token=")[1]})
    assert resp.status_code == 400
    assert api_signed_in(second_client)


def test_expired_link(app: Flask, second_client: t.Any, reported: tuple[str, t.Any]) -> None:
    path, _ = reported
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=7, seconds=5)
    with time_machine.travel(later, tick=False):
        resp = device(app).get(path)
    assert resp.status_code == 410 and "expired" in text(resp)
    assert api_signed_in(second_client)


def test_session_already_ended(app: Flask, second_client: t.Any, reported: tuple[str, t.Any]) -> None:
    path, _ = reported
    form_post(second_client, "/account/logout")
    resp = device(app).get(path)
    assert resp.status_code == 410 and "no longer signed in" in text(resp)


@pytest.mark.parametrize(
    "damage", [lambda p: p[:-3] + "xyz", lambda p: p.split("token=")[0] + "token=", lambda p: p + "\x00"]
)
def test_tampered_link(app: Flask, second_client: t.Any, reported: tuple[str, t.Any], damage: t.Any) -> None:
    path, _ = reported
    resp = device(app).get(damage(path))
    assert resp.status_code == 400 and str(ReportLinkInvalid.default_message).split(".")[0] in text(resp)
    assert api_signed_in(second_client)


def test_errors_are_distinct() -> None:
    errors = (ReportLinkInvalid, ReportLinkExpired, ReportLinkUsed, ReportedSessionEnded)
    assert len({e.default_message for e in errors}) == 4 and all(400 <= e.status < 500 for e in errors)


def test_another_app_with_the_same_secret_key_refuses_the_link(
    app: Flask, storage_config: dict[str, t.Any], second_client: t.Any, reported: tuple[str, t.Any], tmp_path: t.Any
) -> None:
    path, _ = reported
    other = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/other.db"}, ext=SessionAuth())
    try:
        with other.app_context():
            db.create_all()
        assert other.config["SECRET_KEY"] == app.config["SECRET_KEY"]
        resp = device(other).get(path)
        assert resp.status_code == 400
    finally:
        dispose(other, drop=True)
    assert api_signed_in(second_client)


def test_password_change_and_sign_out_everywhere_are_mailed(
    app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox
) -> None:
    page_sign_in(client)
    (new_device,) = received(app, mailbox, 1)
    assert "new sign-in" in new_device["Subject"]
    mailbox.clear()
    resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 200
    api_post(client, "revoke-sessions", {})
    first, second = received(app, mailbox, 2)
    assert first["Subject"] == "Example Shop: your password was changed"
    assert second["Subject"] == "Example Shop: you were signed out everywhere"
    assert all(m.get_body(("html",)) is not None for m in (first, second))


@pytest.fixture
def dead_smtp(app_config: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**app_config, "MAIL_PORT": free_port()}  # nothing listens there


def test_smtp_down_never_blocks_or_fails_the_action(
    storage_config: dict[str, t.Any], dead_smtp: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app({**storage_config, **dead_smtp})
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            auth_of(app).create_user("alice@example.com", PASSWORD)
        client = device(app)
        page_sign_in(client)
        with caplog.at_level(logging.ERROR, logger="flask_sessionauth.mail"):
            resp = api_post(client, "change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
            assert resp.status_code == 200
            assert state_of(app).mailer.wait()
        assert any("sending the mail" in r.getMessage() for r in caplog.records)
        assert "alice@example.com" not in caplog.text
    finally:
        dispose(app, drop=True)


def test_an_app_callable_sends_and_may_fail(storage_config: dict[str, t.Any], caplog: pytest.LogCaptureFixture) -> None:
    sent: list[email.message.EmailMessage] = []

    def send(message: email.message.EmailMessage) -> None:
        sent.append(message)
        raise ConnectionError("the app's mail API is down")

    app = create_app({**storage_config, "SESSIONAUTH_MAIL_SEND": send})
    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader({"sessionauth/email/password_changed.txt": "Custom text for {{ site_name }}."}),
            app.jinja_env.loader,
        ]
    )
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            auth = auth_of(app)
            user = auth.create_user("alice@example.com", PASSWORD)
            with caplog.at_level(logging.ERROR, logger="flask_sessionauth.mail"):
                auth.set_password(user, NEW_PASSWORD)  # outside any request
                assert state_of(app).mailer.wait()
        (message,) = sent
        assert isinstance(message, email.message.EmailMessage)
        assert bodies(message)[0].strip() == "Custom text for Account."  # the app's template wins
        assert any("sending the mail" in r.getMessage() for r in caplog.records)
    finally:
        dispose(app, drop=True)


def test_signing_in_from_a_new_device_sends_the_mail(app: Flask, user: t.Any, mailbox: Mailbox) -> None:
    page_sign_in(device(app, UA_CHROME))  # never seen on this account: mailed
    page_sign_in(device(app, UA_CHROME))  # the same browser, OS and country: known, no mail
    page_sign_in(device(app, UA_FIREFOX))  # another browser and OS: mailed
    messages = received(app, mailbox, 2)
    subjects = [m["Subject"] for m in messages]
    assert all("new sign-in" in s for s in subjects), subjects
    assert any("Firefox" in s for s in subjects) and any("Chrome" in s for s in subjects), subjects
    assert len(mailbox.wait_for(3, timeout=0.5)) == 2  # the known device's sign-in sent nothing


def test_a_failing_mail_receiver_never_fails_the_action(
    app: Flask, user: t.Any, client: t.Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    page_sign_in(client)

    def broken(user_id: str) -> None:
        raise RuntimeError("database gone while preparing the mail")

    monkeypatch.setattr(state_of(app).resets, "load_user", broken)
    with caplog.at_level(logging.ERROR, logger="flask_sessionauth.mail"):
        resp = api_post(client, "revoke-sessions", {})
    assert resp.status_code == 200 and not api_signed_in(client)
    assert any("preparing the _on_revoked mail failed" in r.getMessage() for r in caplog.records)
