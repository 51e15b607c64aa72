"""The account pages in a real browser: Debian's Chromium driven by Playwright,
against the app served by a real WSGI server on 127.0.0.1.

These catch what the test client cannot: cookies as a browser keeps them,
forms submitted by clicks and keys, layout at phone widths, and the strict
CSP actually letting the stylesheet load.
"""

from __future__ import annotations

import typing as t

import pytest

from tests.conftest import BrowserDevice
from tests.helpers import NEW_PASSWORD
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import UA_FIREFOX
from tests.helpers import UA_IPHONE
from tests.helpers import browser_sign_in
from tests.helpers import session_cards
from tests.live import live_app
from tests.live import live_server

pytestmark = pytest.mark.browser


def expect(locator: t.Any) -> t.Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_two_devices_see_and_sign_out_each_other(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    laptop = browser_device(UA_CHROME).page
    other = browser_device(UA_FIREFOX).page
    browser_sign_in(laptop, base_url)
    browser_sign_in(other, base_url)

    laptop.reload()
    cards = session_cards(laptop)
    expect(cards).to_have_count(2)
    current = cards.filter(has_text="This device")
    assert current.count() == 1
    assert "Chrome 131 on macOS" in current.inner_text()
    assert "Firefox 133 on Windows" in cards.nth(1).inner_text()
    assert "Active now" in cards.nth(1).inner_text()

    # The stylesheet loaded under the strict CSP (the page is styled).
    assert laptop.evaluate("getComputedStyle(document.body).margin") == "0px"

    # With JavaScript on, devices.js signs the device out without a page load;
    # either way the same message appears and the card goes.
    laptop.get_by_role("button", name="Sign out Firefox 133 on Windows").click()
    expect(laptop.locator(".sa-flashes")).to_contain_text("Firefox 133 on Windows has been signed out.")
    expect(session_cards(laptop)).to_have_count(1)

    # The signed-out device finds out on its next navigation.
    other.goto(f"{base_url}/account/password")
    assert other.url.startswith(f"{base_url}/account/login?next=")
    assert other.get_by_role("button", name="Sign in").is_visible()

    # Signed in again, then a password change with the checkbox signs it out.
    other.get_by_label("Email address").fill("alice@example.com")
    other.get_by_label("Password", exact=True).fill(PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    other.wait_for_url(f"{base_url}/account/password")

    laptop.goto(f"{base_url}/account/password")
    laptop.get_by_label("Current password").fill(PASSWORD)
    laptop.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    laptop.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    laptop.get_by_label("Sign out of other devices").check()
    laptop.get_by_role("button", name="Update password").click()
    laptop.wait_for_url(f"{base_url}/account/devices")
    expect(laptop.locator(".sa-flashes")).to_contain_text("all other devices were signed out")
    expect(session_cards(laptop)).to_have_count(1)

    other.goto(f"{base_url}/account/devices")
    assert other.url.startswith(f"{base_url}/account/login")

    laptop.reload()
    assert laptop.url == f"{base_url}/account/devices"
    assert "This device" in session_cards(laptop).first.inner_text()


def test_sign_out_button_works_from_the_keyboard(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    laptop = browser_device(UA_CHROME).page
    phone = browser_device(UA_IPHONE).page
    browser_sign_in(phone, base_url)
    browser_sign_in(laptop, base_url)
    laptop.wait_for_load_state("networkidle")  # devices.js (if any) is listening
    target = "Sign out Safari 17 on iPhone"

    laptop.locator("body").focus()
    for _ in range(40):
        laptop.keyboard.press("Tab")
        if laptop.evaluate("document.activeElement.getAttribute('aria-label')") == target:
            break
    else:
        pytest.fail(f"Tab never reached the {target!r} button")
    outline = laptop.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "focused button has no visible focus ring"

    laptop.keyboard.press("Enter")
    expect(laptop.locator(".sa-flashes")).to_contain_text("Safari 17 on iPhone has been signed out.")
    expect(session_cards(laptop)).to_have_count(1)
    phone.goto(f"{base_url}/account/devices")
    assert phone.url.startswith(f"{base_url}/account/login")


def test_everything_works_with_javascript_off(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    laptop = browser_device(UA_CHROME, java_script_enabled=False).page
    other = browser_device(UA_FIREFOX, java_script_enabled=False).page
    browser_sign_in(other, base_url)
    browser_sign_in(laptop, base_url)
    # Fresh session (password just entered): no confirm step.
    laptop.get_by_role("button", name="Sign out of all other devices").click()
    laptop.wait_for_url(f"{base_url}/account/devices")
    assert "This is the only device signed in" in laptop.content()
    laptop.get_by_role("button", name="Sign out everywhere").click()
    laptop.wait_for_url(f"{base_url}/account/login")
    other.goto(f"{base_url}/account/devices")
    assert other.url.startswith(f"{base_url}/account/login")


@pytest.mark.parametrize("width", [390, 360])
def test_no_horizontal_scroll_on_phones(
    base_url: str, browser_device: t.Callable[..., BrowserDevice], width: int
) -> None:
    long_ua = "Mozilla/5.0 (Linux; Android 14; SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) " + "X" * 200
    phone = browser_device(UA_IPHONE, viewport={"width": width, "height": 800}, is_mobile=True, has_touch=True).page
    browser_sign_in(browser_device(long_ua).page, base_url)
    browser_sign_in(browser_device(UA_FIREFOX).page, base_url)
    phone.goto(f"{base_url}/account/login")
    assert fits(phone), "login page scrolls sideways"
    browser_sign_in(phone, base_url)
    assert session_cards(phone).count() == 3
    for path in ("/account/devices", "/account/password", "/account/confirm?action=revoke_all"):
        phone.goto(f"{base_url}{path}")
        assert fits(phone), f"{path} scrolls sideways at {width}px"
    # Errors make the password form taller and wider text; still no sideways scroll.
    phone.goto(f"{base_url}/account/password")
    phone.get_by_label("Current password").fill("wrong")
    phone.get_by_label("New password", exact=True).fill("short")
    phone.get_by_label("Confirm new password").fill("different")
    phone.get_by_role("button", name="Update password").click()
    assert phone.locator(".sa-error").count() >= 2
    assert fits(phone)


def fits(page: t.Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_real_browser_keeps_a_host_only_secure_httponly_cookie(
    tmp_path: t.Any, browser_device: t.Callable[..., BrowserDevice]
) -> None:
    """Checklist 1 in a real browser: with the default secure settings Chromium stores
    ``__Host-sessionauth`` (127.0.0.1 is a secure context) as a host-only, Secure,
    HttpOnly, SameSite=Lax cookie on ``/`` that page scripts cannot read."""
    app = live_app(str(tmp_path / "secure.db"), SESSIONAUTH_COOKIE_SECURE=True)
    with live_server(app) as base:
        page = browser_device().page
        browser_sign_in(page, base)
        (cookie,) = [c for c in page.context.cookies() if c["name"].endswith("sessionauth")]
        assert cookie["name"] == "__Host-sessionauth"
        assert cookie["domain"] == "127.0.0.1"  # host-only: no Domain attribute
        assert cookie["path"] == "/"
        assert cookie["secure"] is True
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Lax"
        assert "sessionauth" not in page.evaluate("document.cookie")
        # the cookie works: the devices page shows this device
        expect(session_cards(page)).to_have_count(1)


def test_activity_log_and_the_signed_out_device(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    """Issue 17.3: the signed-out browser is told from which device, and the
    activity page (linked from the devices page) lists and filters events."""
    laptop = browser_device(UA_CHROME).page
    other = browser_device(UA_FIREFOX).page
    browser_sign_in(laptop, base_url)
    browser_sign_in(other, base_url)
    laptop.reload()
    laptop.get_by_role("button", name="Sign out Firefox 133 on Windows").click()
    expect(laptop.locator(".sa-flashes")).to_contain_text("Firefox 133 on Windows has been signed out.")

    other.goto(f"{base_url}/account/devices")
    assert other.url.startswith(f"{base_url}/account/login")
    expect(other.locator("#sa-signed-out-from")).to_contain_text("Chrome 131 on macOS signed this device out on")

    laptop.get_by_role("link", name="Activity").click()
    laptop.wait_for_url(f"{base_url}/account/activity")
    events = laptop.locator("#activity-list > li")
    expect(events.first).to_contain_text("Device signed out")
    laptop.get_by_label("Show").select_option("sign_in")
    laptop.get_by_role("button", name="Filter").click()
    expect(events).to_have_count(2)
    expect(events.first).to_contain_text("Signed in")
