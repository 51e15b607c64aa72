"""Naming a device (issue 17.2): the devices page (a form per device, no
JavaScript needed), the API (``update-session-name``), the CLI and the Python
API; the ``session_renamed`` signal; Redis and the cookie cache.

Abuse considered: hostile names (HTML, control characters, bidirectional
overrides, 10 kB, not a string) are cleaned or refused and escaped on every
page; another user's session answers exactly like a missing one (no way to
probe ids); a cross-site form or a missing CSRF token changes nothing; a
renamed session's cached copy (Redis) never outlives the rename nor turns a
tombstone back into a live entry.
"""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

from flask_sessionauth import InvalidDeviceName
from flask_sessionauth import SessionNotFound
from flask_sessionauth import session_renamed
from flask_sessionauth.core.names import clean_device_name
from tests.conftest import EVERY_STORAGE
from tests.helpers import API
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.helpers import api_post
from tests.helpers import auth_of
from tests.helpers import browser_sign_in
from tests.helpers import device
from tests.helpers import form_post
from tests.helpers import in_request
from tests.helpers import login
from tests.helpers import session_cards
from tests.helpers import session_row
from tests.helpers import store_of
from tests.helpers import text
from tests.helpers import wire_code
from tests.helpers import without_tokens

HOSTILE = [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept as text, escaped on output
    ("Work\x00 laptop\x1b[31m\x07", "Work laptop[31m"),
    ("\u202eevil\u202c gpj.exe\u2066x\u2069", "evil gpj.exex"),
    ("  two\n\tlines\u2028here  ", "two lines here"),
    ("Cafe\u0301", "Café"),  # NFC
    ("👩\u200d💻 laptop", "👩\u200d💻 laptop"),  # a zero-width joiner of an emoji stays
    ("", None),
    ("   ", None),
    (None, None),
    ("x" * 60, "x" * 60),
]


@pytest.mark.parametrize(("given", "stored"), HOSTILE)
def test_names_are_cleaned(given: str | None, stored: str | None) -> None:
    assert clean_device_name(given) == stored


@pytest.mark.parametrize("given", ["x" * 61, "x" * 10_240, 42, ["a"], {"a": 1}, True])
def test_names_too_long_or_not_text_are_refused(given: object) -> None:
    with pytest.raises(InvalidDeviceName):
        clean_device_name(given)


@pytest.fixture
def renamed() -> t.Iterator[list[dict[str, t.Any]]]:
    sent: list[dict[str, t.Any]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        sent.append(kwargs)

    session_renamed.connect(receiver)
    yield sent
    session_renamed.disconnect(receiver)


def name_on_page(page: str) -> list[str]:
    """The device names as the cards show them (escaped text)."""
    return re.findall(r'class="sa-session__name">\s*<span[^>]*><bdi>([^<]*)</bdi>', page)


# -- the devices page ---------------------------------------------------------------------


@pytest.mark.storage(*EVERY_STORAGE)
def test_rename_from_the_page_without_javascript(
    app: Flask, client: t.Any, second_client: t.Any, user: t.Any, renamed: list[dict[str, t.Any]]
) -> None:
    login(client)
    other = login(second_client)
    resp = form_post(client, f"/account/devices/{other}/rename", {"name": "  Work laptop "})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/account/devices")
    page = text(client.get("/account/devices"))
    assert "Device renamed to “Work laptop”." in page
    assert "Work laptop" in name_on_page(page)
    assert '<p class="sa-session__device sa-muted">Firefox 133 on Windows</p>' in page  # the parsed name stays
    assert session_row(app, other).device_name == "Work laptop"
    assert renamed == [{"user_id": user.id, "session_id": other, "name": "Work laptop"}]
    # The renamed device sees its new name too (Redis drops its copy; the API reads storage).
    assert second_client.get(f"{API}/get-session").json["session"]["deviceName"] == "Work laptop"
    # Empty clears it: the parsed name again.
    form_post(client, f"/account/devices/{other}/rename", {"name": ""})
    assert session_row(app, other).device_name is None
    assert "Firefox 133 on Windows" in name_on_page(text(client.get("/account/devices")))
    assert renamed[-1]["name"] is None


@pytest.mark.parametrize(("given", "stored"), [h for h in HOSTILE if h[1]])
def test_hostile_names_are_escaped_on_the_page(client: t.Any, user: t.Any, given: str, stored: str) -> None:
    session_id = login(client)
    form_post(client, f"/account/devices/{session_id}/rename", {"name": given})
    page = text(client.get("/account/devices"))
    assert "<script>alert(1)" not in page
    assert "\u202e" not in page and "\x1b" not in page
    assert name_on_page(page) == [stored.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")]


def test_a_too_long_name_is_refused_on_the_page(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    resp = form_post(client, f"/account/devices/{session_id}/rename", {"name": "x" * 10_240})
    assert resp.status_code == 400
    assert str(InvalidDeviceName.default_message) in text(resp)
    assert session_row(app, session_id).device_name is None


def test_another_users_session_is_a_404_like_a_missing_one(
    app: Flask, client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    login(client)
    bobs = login(device(app, UA_FIREFOX), "bob@example.com")
    theirs = form_post(client, f"/account/devices/{bobs}/rename", {"name": "mine now"})
    missing = form_post(client, f"/account/devices/{'A' * 32}/rename", {"name": "mine now"})
    junk = form_post(client, "/account/devices/not-an-id/rename", {"name": "mine now"})
    assert theirs.status_code == missing.status_code == junk.status_code == 404
    assert without_tokens(text(theirs)) == without_tokens(text(missing)) == without_tokens(text(junk))
    assert session_row(app, bobs).device_name is None


def test_renaming_needs_the_csrf_token_and_the_same_origin(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    client.get("/account/devices")
    assert client.post(f"/account/devices/{session_id}/rename", data={"name": "x"}).status_code == 400
    cross = form_post(client, f"/account/devices/{session_id}/rename", {"name": "x"})  # the right token...
    assert cross.status_code == 303
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(client.get("/account/devices"))).group(1)  # type: ignore[union-attr]
    evil = client.post(
        f"/account/devices/{session_id}/rename",
        data={"name": "evil", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status_code in (400, 403)
    assert session_row(app, session_id).device_name == "x"


def test_renaming_needs_a_signed_in_user(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    stranger = device(app, UA_CHROME)
    resp = form_post(stranger, f"/account/devices/{session_id}/rename", {"name": "x"}, page="/account/login")
    assert resp.status_code in (302, 401)
    assert session_row(app, session_id).device_name is None


# -- the API ----------------------------------------------------------------------------------


@pytest.mark.storage(*EVERY_STORAGE)
def test_rename_through_the_api(app: Flask, client: t.Any, user: t.Any, renamed: list[dict[str, t.Any]]) -> None:
    session_id = login(client)
    resp = api_post(client, "update-session-name", {"id": session_id, "name": "<b>Phone</b>\u202e"})
    assert resp.status_code == 200 and resp.json == {"status": True, "deviceName": "<b>Phone</b>"}
    assert client.get(f"{API}/get-session").json["session"]["deviceName"] == "<b>Phone</b>"
    [listed] = client.get(f"{API}/list-sessions").json
    assert (listed["deviceName"], listed["device"]) == ("<b>Phone</b>", "Chrome 131 on macOS")
    assert api_post(client, "update-session-name", {"token": session_id, "name": None}).json["deviceName"] is None
    assert [s["name"] for s in renamed] == ["<b>Phone</b>", None]


@pytest.mark.parametrize(
    "body", [{"name": "x" * 61}, {"name": 5}, {"name": "x" * 10_240}, {"name": "x"}, {"id": 7, "name": "x"}]
)
def test_the_api_refuses_bad_names_with_400(app: Flask, client: t.Any, user: t.Any, body: dict[str, t.Any]) -> None:
    session_id = login(client)
    resp = api_post(client, "update-session-name", {"id": session_id, **body} if "id" not in body else body)
    if body == {"name": "x"}:  # the control: a fine name passes
        assert resp.status_code == 200
        return
    assert resp.status_code == 400 and wire_code(resp) == "VALIDATION_ERROR"


def test_the_api_answers_another_users_session_like_a_missing_one(
    app: Flask, client: t.Any, user: t.Any, other_user: t.Any
) -> None:
    login(client)
    bobs = login(device(app, UA_FIREFOX), "bob@example.com")
    theirs = api_post(client, "update-session-name", {"id": bobs, "name": "x"})
    missing = api_post(client, "update-session-name", {"id": "B" * 32, "name": "x"})
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json == missing.json and wire_code(theirs) == "SESSION_NOT_FOUND"
    assert session_row(app, bobs).device_name is None


def test_the_api_refuses_cross_site_and_anonymous_calls(app: Flask, client: t.Any, user: t.Any) -> None:
    session_id = login(client)
    body = {"id": session_id, "name": "x"}
    assert api_post(client, "update-session-name", body, headers={"Origin": "https://evil.example"}).status_code == 403
    assert api_post(client, "update-session-name", body, headers={"Origin": None}).status_code == 403
    assert api_post(device(app), "update-session-name", body).status_code == 401
    assert session_row(app, session_id).device_name is None


# -- CLI and Python API ---------------------------------------------------------------------------


def test_rename_from_the_cli(app: Flask, client: t.Any, user: t.Any, other_user: t.Any) -> None:
    session_id = login(client)
    run = app.test_cli_runner().invoke
    result = run(args=["sessionauth", "rename", "alice@example.com", session_id, "Work \x1b[2J laptop"])
    assert result.exit_code == 0 and "Device renamed to “Work [2J laptop”." in result.output
    listing = run(args=["sessionauth", "list", "alice@example.com"]).output
    assert "Work [2J laptop" in listing and "\x1b" not in listing
    # Not Bob's session: the same answer as no session.
    theirs = run(args=["sessionauth", "rename", "bob@example.com", session_id, "x"])
    missing = run(args=["sessionauth", "rename", "bob@example.com", "C" * 32, "x"])
    assert theirs.exit_code == missing.exit_code == 1 and theirs.output == missing.output
    assert run(args=["sessionauth", "rename", "alice@example.com", session_id, "y" * 61]).exit_code == 1
    assert run(args=["sessionauth", "rename", "alice@example.com", session_id]).exit_code == 0  # clears
    assert session_row(app, session_id).device_name is None


@pytest.mark.storage(*EVERY_STORAGE)
def test_rename_from_python(app: Flask, client: t.Any, user: t.Any, other_user: t.Any) -> None:
    session_id = login(client)
    auth = auth_of(app)
    with in_request(app, client):
        assert auth.rename_session(session_id, "Kitchen iPad") == "Kitchen iPad"
        assert auth.get_session().device_name == "Kitchen iPad"
    with app.app_context():
        assert auth.rename_session(session_id, "Hall iPad", user) == "Hall iPad"
        with pytest.raises(SessionNotFound):
            auth.rename_session(session_id, "x", other_user)
        with pytest.raises(InvalidDeviceName):
            auth.rename_session(session_id, "y" * 61, user)
    assert session_row(app, session_id).device_name == "Hall iPad"


@pytest.mark.storage("redis")
def test_a_rename_never_brings_back_a_revoked_sessions_copy(app: Flask, client: t.Any, user: t.Any) -> None:
    """The rename drops a live Redis copy, but leaves a tombstone alone."""
    session_id = login(client)
    store = store_of(app)
    with app.app_context():
        auth_of(app).rename_session(session_id, "Laptop", user)
        assert store.client.get(store.key(session_id)) is None  # dropped: the next read has the name
    assert client.get(f"{API}/get-session").json["session"]["deviceName"] == "Laptop"
    with app.app_context():
        store.forget([session_id])  # as a revoke does, before its delete
        store._uncache(keys=[store.key(session_id)])
        assert store.client.get(store.key(session_id)) == b"-"


# -- a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_rename_in_a_real_browser(base_url: str, browser_device: t.Callable[..., t.Any]) -> None:
    """Chromium: open "Rename" on a card, type, press Enter; the card shows the
    name, the parsed device below it, and where it signed in from."""
    from playwright.sync_api import expect

    laptop = browser_device(UA_CHROME).page
    browser_sign_in(laptop, base_url)
    card = session_cards(laptop).first
    card.get_by_text("Rename").click()
    field = card.get_by_label("Device name")
    field.fill("<i>Work</i> \u202elaptop")
    field.press("Enter")
    laptop.wait_for_url(f"{base_url}/account/devices")
    expect(laptop.locator(".sa-flashes")).to_contain_text("Device renamed to “<i>Work</i> laptop”.")
    card = session_cards(laptop).first
    expect(card.locator(".sa-session__name")).to_contain_text("<i>Work</i> laptop")
    expect(card.locator(".sa-session__device")).to_have_text("Chrome 131 on macOS")
    expect(card.locator(".sa-session__location")).to_have_text("Local network")
    assert card.locator("i").count() == 0  # text, never markup
