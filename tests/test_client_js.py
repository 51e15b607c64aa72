"""``client.js`` and the devices page's enhancement in a real browser (Debian
Chromium via Playwright) against the app served on 127.0.0.1.

The JSON client is exercised through the page's own origin and CSP, and the
devices page is used twice: with JavaScript (a device is signed out without a
page load and the list re-rendered) and without (the forms still work).
"""

from __future__ import annotations

import typing as t

import pytest

from tests.conftest import BrowserDevice
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.helpers import UA_IPHONE
from tests.helpers import browser_sign_in
from tests.helpers import session_cards

pytestmark = pytest.mark.browser

CLIENT_JS = "/account/static/sessionauth/client.js"


def card_ids(page: t.Any) -> list[str]:
    return [
        str(x)
        for x in page.eval_on_selector_all(
            "#session-list > li[data-session-id]", "els => els.map(e => e.dataset.sessionId)"
        )
    ]


def current_session_id(page: t.Any) -> str:
    return str(page.locator("#session-list > li.sa-session--current").get_attribute("data-session-id"))


def test_devices_page_signs_out_without_reload(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    laptop = browser_device(UA_CHROME)
    firefox = browser_device(UA_FIREFOX)
    browser_sign_in(laptop.page, base_url)
    browser_sign_in(firefox.page, base_url)
    firefox_id = current_session_id(firefox.page)

    page = laptop.page
    page.reload()
    page.wait_for_load_state("networkidle")  # devices.js is loaded and listening
    assert len(card_ids(page)) == 2
    # A device that signs in after the page was rendered.
    phone = browser_device(UA_IPHONE)
    browser_sign_in(phone.page, base_url)
    phone_id = current_session_id(phone.page)

    page.evaluate("window.__sameDocument = 'yes'")
    laptop.navigations.clear()
    page.get_by_role("button", name="Sign out Firefox 133 on Windows").click()

    flash = page.locator(".sa-flashes")
    assert "Firefox 133 on Windows has been signed out." in flash.inner_text()
    # Re-rendered by the server: the Firefox card is gone, the phone has appeared.
    page.wait_for_function(
        "([gone, added]) => !document.querySelector(`[data-session-id='${gone}']`)"
        " && !!document.querySelector(`[data-session-id='${added}']`)",
        arg=[firefox_id, phone_id],
    )
    assert firefox_id not in card_ids(page)
    assert phone_id in card_ids(page)
    assert len(card_ids(page)) == 2
    assert (
        "Safari 17 on iPhone"
        in session_cards(page).filter(has=page.locator("[aria-label='Sign out Safari 17 on iPhone']")).inner_text()
    )

    # No navigation happened: same document, same URL.
    assert page.evaluate("window.__sameDocument") == "yes"
    assert laptop.navigations == []
    assert page.url == f"{base_url}/account/devices"
    # Keyboard focus did not fall back to <body>.
    assert page.evaluate("document.activeElement !== document.body")
    assert laptop.errors == [], laptop.errors

    # Firefox really is signed out; the newly rendered card works too (no JS reload).
    firefox.page.goto(f"{base_url}/account/devices")
    assert firefox.page.url.startswith(f"{base_url}/account/login")
    page.get_by_role("button", name="Sign out Safari 17 on iPhone").click()
    page.wait_for_function("id => !document.querySelector(`[data-session-id='${id}']`)", arg=phone_id)
    assert page.evaluate("window.__sameDocument") == "yes"
    assert card_ids(page) == [current_session_id(page)]
    assert page.locator(".sa-empty").is_visible()
    phone.page.goto(f"{base_url}/account/devices")
    assert phone.page.url.startswith(f"{base_url}/account/login")
    assert laptop.errors == [], laptop.errors


def test_devices_page_without_javascript(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    laptop = browser_device(UA_CHROME, java_script_enabled=False)
    firefox = browser_device(UA_FIREFOX)
    browser_sign_in(laptop.page, base_url)
    browser_sign_in(firefox.page, base_url)
    firefox_id = current_session_id(firefox.page)

    page = laptop.page
    page.reload()
    assert firefox_id in card_ids(page)
    laptop.navigations.clear()
    page.get_by_role("button", name="Sign out Firefox 133 on Windows").click()
    page.wait_for_url(f"{base_url}/account/devices")
    assert laptop.navigations, "the form was submitted by the browser"
    assert "Firefox 133 on Windows has been signed out." in page.locator(".sa-flashes").inner_text()
    assert card_ids(page) == [current_session_id(page)]
    firefox.page.goto(f"{base_url}/account/devices")
    assert firefox.page.url.startswith(f"{base_url}/account/login")


def test_client_module_under_the_page_csp(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    """Every client call in both spellings, its ``{data, error}`` results with
    Better Auth's codes, run from a devices page (strict CSP) by importing the
    module; no CSRF token anywhere (the page's meta tag is removed first)."""
    laptop = browser_device(UA_CHROME)
    other = browser_device(UA_FIREFOX)
    browser_sign_in(laptop.page, base_url)
    browser_sign_in(other.page, base_url)
    other_id = current_session_id(other.page)
    page = laptop.page
    page.reload()
    result = page.evaluate(
        """async ([clientUrl, otherId, password]) => {
        document.querySelector('meta[name="csrf-token"]')?.remove();
        const { createAuthClient, authClient } = await import(clientUrl);
        const NEW = "another long one";
        const client = createAuthClient({ baseURL: "/api/auth/" });
        const out = {};
        out.defaultBase = authClient.baseURL;
        out.session = await client.getSession();
        out.list = await client.user.listSessions();
        out.listTop = await client.listSessions();
        out.missing = await client.user.revokeSession({ token: "A".repeat(22) });
        out.otherGone = await client.revokeSession({ token: otherId });
        out.otherAfter = await client.listSessions();
        out.sudo = await client.user.revokeOtherSessions();  // fresh: signed in just now
        out.badPassword = await client.user.changePassword(
            { currentPassword: "wrong password!", newPassword: NEW });
        out.tooShort = await client.changePassword({ currentPassword: password, newPassword: "short" });
        const again = createAuthClient();
        out.changed = await again.user.changePassword(
            { currentPassword: password, newPassword: NEW, revokeOtherSessions: true });
        out.signOut = await again.signOut();
        out.afterSignOut = await again.getSession();
        out.listSignedOut = await again.user.listSessions();
        out.signInWrong = await again.signIn.email({ email: "alice@example.com", password: password });
        out.signIn = await again.signIn.email({ email: "alice@example.com", password: NEW, rememberMe: false });
        out.whoami = await again.getSession();
        out.byId = await again.revokeSession({ id: out.whoami.data.session.id });  // the older spelling
        out.afterById = await again.getSession();
        let called = 0;
        out.callbacks = await again.getSession({ onSuccess: () => { called += 1; } });
        out.called = called;
        return out;
    }""",
        [CLIENT_JS, other_id, PASSWORD],
    )
    assert result["defaultBase"] == "/api/auth"
    assert result["session"]["error"] is None
    assert result["session"]["data"]["user"]["email"] == "alice@example.com"
    own = result["session"]["data"]["session"]
    assert own["current"] is True and own["token"] == own["id"]
    assert {s["token"] for s in result["list"]["data"]} == {own["id"], other_id}
    assert result["listTop"] == result["list"]
    # Better Auth's answer for a session that is not the caller's: nothing happens.
    assert result["missing"] == {"data": {"status": True}, "error": None}
    assert result["otherGone"] == {"data": {"status": True}, "error": None}
    assert [s["id"] for s in result["otherAfter"]["data"]] == [own["id"]]
    assert result["sudo"] == {"data": {"status": True, "revoked": 0}, "error": None}
    assert result["badPassword"]["error"]["code"] == "INVALID_PASSWORD"
    assert result["badPassword"]["error"]["status"] == 400
    assert result["tooShort"]["error"]["code"] == "PASSWORD_TOO_SHORT"
    assert result["changed"]["error"] is None
    assert result["changed"]["data"]["token"] is None and result["changed"]["data"]["session"]["current"] is True
    assert result["signOut"] == {"data": {"success": True}, "error": None}
    assert result["afterSignOut"] == {"data": None, "error": None}
    assert result["listSignedOut"] == {
        "data": None,
        "error": {
            "code": "UNAUTHORIZED",
            "message": "Sign in to continue.",
            "status": 401,
            "statusText": "UNAUTHORIZED",
        },
    }
    assert result["signInWrong"]["error"]["code"] == "INVALID_EMAIL_OR_PASSWORD"
    assert result["signIn"]["error"] is None
    signed = result["signIn"]["data"]
    assert signed["redirect"] is False and signed["token"] is None
    assert result["whoami"]["data"]["session"]["id"] == signed["session"]["id"]
    assert result["byId"] == {"data": {"status": True}, "error": None}
    assert result["afterById"] == {"data": None, "error": None}
    assert result["called"] == 1
    # The refused calls above are logged as failed loads; nothing else may be (no CSP violation).
    assert [e for e in laptop.errors if not e.startswith("Failed to load resource")] == []


def test_devices_page_falls_back_to_the_form(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    """When the in-page post fails (here: the network refuses ``fetch``), the
    click still signs the device out, through the ordinary form post."""
    laptop = browser_device(UA_CHROME)
    firefox = browser_device(UA_FIREFOX)
    browser_sign_in(laptop.page, base_url)
    browser_sign_in(firefox.page, base_url)
    page = laptop.page
    page.reload()
    page.wait_for_load_state("networkidle")
    # The in-page post fails; the form's own post (a navigation) still goes through.
    page.evaluate("() => { window.fetch = () => Promise.reject(new TypeError('Failed to fetch')); }")
    page.evaluate("window.__sameDocument = 'yes'")
    with page.expect_navigation(url=f"{base_url}/account/devices"):  # the form post's redirect
        page.get_by_role("button", name="Sign out Firefox 133 on Windows").click()
    assert page.evaluate("window.__sameDocument") is None  # a new document
    assert "Firefox 133 on Windows has been signed out." in page.locator(".sa-flashes").inner_text()
    assert card_ids(page) == [current_session_id(page)]


def test_client_reports_network_errors(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    laptop = browser_device(UA_CHROME)
    browser_sign_in(laptop.page, base_url)
    result = laptop.page.evaluate(
        """async (clientUrl) => {
        const { createAuthClient } = await import(clientUrl);
        // Another origin: the page's CSP (connect-src 'self') blocks it, so fetch rejects.
        return await createAuthClient({ baseURL: "http://127.0.0.1:9/api/auth" }).getSession();
    }""",
        CLIENT_JS,
    )
    assert result["data"] is None
    assert result["error"]["code"] == "network_error"
    assert result["error"]["status"] == 0
