"""Password reset by e-mail: pages, Better Auth's endpoints, and the abuse
cases (enumeration by answer or time, replay, stale tokens, a race for one
token, hostile bytes, host-header poisoning, open redirects, rate limits).
Mail goes to a real SMTP server (``mailbox``)."""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time
import typing as t
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from flask_sessionauth.core import messages
from flask_sessionauth.core import signals
from flask_sessionauth.core.errors import InvalidResetToken
from flask_sessionauth.storage.verification import TABLE_NAME
from tests.conftest import db
from tests.helpers import API
from tests.helpers import PASSWORD
from tests.helpers import api_post
from tests.helpers import api_signed_in
from tests.helpers import auth_of
from tests.helpers import device
from tests.helpers import page_csrf_token
from tests.helpers import page_sign_in
from tests.helpers import session_ids
from tests.helpers import state_of
from tests.helpers import text
from tests.helpers import wire_code
from tests.mailbox import Mailbox
from tests.mailbox import link_in

NEW = "a brand new passphrase"
PUBLIC = "https://app.example"


@pytest.fixture
def extra() -> dict[str, t.Any]:
    """Parametrize to change the app's config further."""
    return {}


@pytest.fixture
def app_config(mailbox: Mailbox, extra: dict[str, t.Any]) -> dict[str, t.Any]:
    return {**mailbox.config(), "SESSIONAUTH_PUBLIC_URL": PUBLIC, "SESSIONAUTH_RESET_MIN_SECONDS": 0.0, **extra}


def ask(client: t.Any, email: str = "alice@example.com", **kwargs: t.Any) -> t.Any:
    token = page_csrf_token(client, "/account/forgot-password")
    return client.post("/account/forgot-password", data={"email": email, "csrf_token": token}, **kwargs)


def mailed_link(app: Flask, mailbox: Mailbox, count: int = 1) -> str:
    assert state_of(app).mailer.wait()
    received = mailbox.wait_for(count)
    assert len(received) == count, mailbox.subjects()
    return link_in(received[-1], "reset-password")


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def requested_token(app: Flask, client: t.Any, mailbox: Mailbox) -> str:
    assert ask(client).status_code == 200
    return token_of(mailed_link(app, mailbox))


def set_new(client: t.Any, token: str, password: str = NEW) -> t.Any:
    csrf = page_csrf_token(client, "/account/forgot-password")
    data = {"token": token, "new_password": password, "confirm_password": password, "csrf_token": csrf}
    return client.post("/account/reset-password", data=data)


def link_free_subject(app: Flask, mailbox: Mailbox) -> str:
    assert state_of(app).mailer.wait()
    (message,) = mailbox.wait_for(1)
    return str(message["Subject"])


def test_reset_through_the_pages(
    app: Flask, user: t.Any, client: t.Any, second_client: t.Any, mailbox: Mailbox
) -> None:
    page_sign_in(second_client)
    assert api_signed_in(second_client)
    assert "new sign-in" in link_free_subject(app, mailbox)  # that first sign-in was mailed
    mailbox.clear()
    resets: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, **kw: t.Any) -> None:
        resets.append(kw)

    signals.password_reset.connect(receiver)
    try:
        sent = ask(client)
        assert sent.status_code == 200 and str(messages.RESET_REQUESTED) in text(sent).replace("&#39;", "'")
        link = mailed_link(app, mailbox)
        assert link.startswith(f"{PUBLIC}/account/reset-password?token=")
        token = token_of(link)
        message = mailbox.messages[0]
        assert message["To"] == "alice@example.com" and "reset" in message["Subject"].lower()
        assert client.get(f"/account/reset-password?token={token}").status_code == 200
        done = set_new(client, token)
        assert done.status_code == 302 and done.headers["Location"].endswith("/account/login")
    finally:
        signals.password_reset.disconnect(receiver)
    assert [r["revoked"] for r in resets] == [1]
    assert not api_signed_in(second_client)  # every session ended
    assert page_sign_in(device(app), password=PASSWORD).status_code == 401
    assert page_sign_in(device(app), password=NEW).status_code == 302
    # the "password was reset" mail (and no separate "changed" mail)
    assert state_of(app).mailer.wait()
    subjects = [str(m["Subject"]) for m in mailbox.wait_for(3)]  # + the new sign-in's mail
    assert len(subjects) == 3 and sum("was reset" in s for s in subjects) == 1, subjects
    assert not any("was changed" in s for s in subjects), subjects
    # replay
    again = set_new(device(app), token)
    assert again.status_code == 400 and "invalid or has expired" in text(again)


def test_host_header_poisoning(app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox) -> None:
    """An attacker's own request names the victim and a Host of their choosing:
    the mailed link still points at the configured origin."""
    evil = {"Host": "evil.example", "Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}
    resp = api_post(client, "request-password-reset", {"email": "alice@example.com"}, headers=evil)
    assert resp.status_code == 200
    link = mailed_link(app, mailbox)
    assert link.startswith(f"{PUBLIC}/account/reset-password?token=") and "evil" not in link


@pytest.mark.parametrize("extra", [{"SESSIONAUTH_PUBLIC_URL": None}])
def test_no_configured_origin_no_link(
    app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    resp = api_post(
        client,
        "request-password-reset",
        {"email": "alice@example.com"},
        headers={"Host": "evil.example", "Origin": "http://evil.example"},
    )
    assert resp.status_code == 200
    assert state_of(app).mailer.wait()
    (message,) = mailbox.wait_for(1)
    assert "evil" not in message.as_string() and "http" not in message.get_body(("plain",)).get_content()


def test_unknown_address_gets_the_same_answer_and_no_mail(app: Flask, user: t.Any, mailbox: Mailbox) -> None:
    known = ask(device(app), "alice@example.com")
    unknown = ask(device(app), "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: text(r).split('name="csrf-token"')[0] + text(r).split("</form>")[-1]  # noqa: E731
    assert strip(known) == strip(unknown)
    assert state_of(app).mailer.wait()
    assert len(mailbox.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(mailbox.messages) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {
            "SESSIONAUTH_RESET_MIN_SECONDS": 0.15,
            "SESSIONAUTH_RATE_LIMIT_RESET_ACCOUNT": 50,
            "SESSIONAUTH_RATE_LIMIT_RESET_IP": 50,
        }
    ],
)
def test_the_time_does_not_tell_whether_the_account_exists(app: Flask, user: t.Any) -> None:
    client = device(app)
    times: dict[str, list[float]] = {"alice@example.com": [], "nobody@example.com": []}
    for _ in range(6):
        for email in times:
            started = time.perf_counter()
            resp = api_post(client, "request-password-reset", {"email": email})
            times[email].append(time.perf_counter() - started)
            assert resp.status_code == 200
    assert state_of(app).mailer.wait()
    assert all(s >= 0.15 for samples in times.values() for s in samples)
    known, unknown = (statistics.median(s) for s in times.values())
    assert abs(known - unknown) < 0.05, times


def test_api_shapes_and_the_callback_link(app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox) -> None:
    resp = api_post(client, "request-password-reset", {"email": "alice@example.com", "redirectTo": "/app/reset"})
    assert resp.status_code == 200 and resp.json == {"status": True, "message": messages.RESET_REQUESTED}
    link = mailed_link(app, mailbox)
    assert link.startswith(f"{PUBLIC}{API}/reset-password/")
    path = urlsplit(link)
    token = path.path.rsplit("/", 1)[1]
    assert parse_qs(path.query)["callbackURL"] == ["/app/reset"]
    hop = client.get(f"{path.path}?{path.query}")
    assert hop.status_code == 302 and hop.headers["Location"] == f"/app/reset?token={token}"
    done = api_post(client, "reset-password", {"newPassword": NEW, "token": token})
    assert done.status_code == 200 and done.json == {"status": True}
    hop = client.get(f"{path.path}?{path.query}")
    assert hop.headers["Location"] == "/app/reset?error=INVALID_TOKEN"
    replay = api_post(client, "reset-password", {"newPassword": NEW + "!", "token": token})
    assert replay.status_code == 400 and wire_code(replay) == "INVALID_TOKEN"


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_no_open_redirect(app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox, target: str) -> None:
    api_post(client, "request-password-reset", {"email": "alice@example.com", "redirectTo": target})
    link = mailed_link(app, mailbox)
    assert link.startswith(f"{PUBLIC}/account/reset-password?token=")  # the page, not the target
    token = token_of(link)
    hop = client.get(f"{API}/reset-password/{token}", query_string={"callbackURL": target})
    assert hop.status_code == 302
    assert hop.headers["Location"].startswith(f"/account/reset-password?token={token}")


def test_token_is_void_after_the_password_or_email_changes(
    app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox
) -> None:
    first = requested_token(app, client, mailbox)
    with app.app_context():
        auth_of(app).set_password(db.session.get(type(user), user.id), "changed meanwhile")
    assert set_new(client, first).status_code == 400
    second = token_of(mailed_link(app, mailbox, 3) if ask(client).status_code == 200 else "")
    with app.app_context():
        row = db.session.get(type(user), user.id)
        row.email = "alice2@example.com"
        db.session.commit()
    assert api_post(client, "reset-password", {"newPassword": NEW, "token": second}).status_code == 400


def test_expired_token(app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox) -> None:
    token = requested_token(app, client, mailbox)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3601)
    with time_machine.travel(later, tick=False):
        assert api_post(client, "reset-password", {"newPassword": NEW, "token": token}).status_code == 400


def test_only_the_token_hash_is_stored(app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox) -> None:
    token = requested_token(app, client, mailbox)
    with app.app_context():
        rows = db.session.execute(sa.text(f"SELECT * FROM {TABLE_NAME}")).all()
    assert rows and token not in repr(rows)


@pytest.mark.parametrize(
    "token", ["", "x", "A" * 42, "A" * 44, "A" * 10_000, "\x00" * 43, "../../etc/passwd", "é" * 43, "\ud800", 17, None]
)
def test_hostile_tokens(app: Flask, user: t.Any, client: t.Any, token: t.Any) -> None:
    resp = api_post(client, "reset-password", {"newPassword": NEW, "token": token})
    assert resp.status_code == 400
    assert wire_code(resp) in ("INVALID_TOKEN", "VALIDATION_ERROR")
    if isinstance(token, str) and token and "\x00" not in token and "\ud800" not in token:
        assert client.get("/account/reset-password", query_string={"token": token}).status_code == 400


def test_two_concurrent_resets_with_one_token_only_one_wins(
    app: Flask, user: t.Any, client: t.Any, mailbox: Mailbox
) -> None:
    token = requested_token(app, client, mailbox)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def reset(password: str) -> None:
        own = device(app)
        barrier.wait()
        results.append(api_post(own, "reset-password", {"newPassword": password, "token": token}).status_code)

    threads = [threading.Thread(target=reset, args=(p,)) for p in ("first passphrase", "second passphrase")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 400]


@pytest.mark.parametrize("extra", [{"SESSIONAUTH_RATE_LIMIT_RESET_IP": 3}])
def test_rate_limited_per_address(app: Flask, user: t.Any) -> None:
    client = device(app)
    codes = [api_post(client, "request-password-reset", {"email": f"n{i}@example.com"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    assert (
        api_post(
            device(app, remote_addr="198.51.100.9"), "request-password-reset", {"email": "x@example.com"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("extra", [{"SESSIONAUTH_RATE_LIMIT_RESET_ACCOUNT": 2}])
def test_rate_limited_per_address_and_account(app: Flask, user: t.Any) -> None:
    client = device(app)
    codes = [api_post(client, "request-password-reset", {"email": "alice@example.com"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert api_post(client, "request-password-reset", {"email": "bob@example.com"}).status_code == 200
    page = ask(client)
    assert page.status_code == 429 and page.headers["Retry-After"]


@pytest.mark.parametrize("extra", [{"SESSIONAUTH_REVOKE_SESSIONS_ON_PASSWORD_RESET": False}])
def test_sessions_can_be_kept(app: Flask, user: t.Any) -> None:
    signed_in = device(app)
    page_sign_in(signed_in)
    with app.app_context():
        token = state_of(app).resets.issue(db.session.get(type(user), user.id))
    assert api_post(device(app), "reset-password", {"newPassword": NEW, "token": token}).status_code == 200
    assert api_signed_in(signed_in) and len(session_ids(app)) == 1


def test_the_error_is_typed(app: Flask, user: t.Any) -> None:
    with app.test_request_context("/"), pytest.raises(InvalidResetToken):
        state_of(app).resets.reset("A" * 43, NEW)
