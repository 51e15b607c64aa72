"""The translated devices page in Chromium: Arabic lays out right to left (measured, not
assumed), and the browser's time zone reaches the server through ``tz.js``."""

from __future__ import annotations

import typing as t

import pytest

from tests.conftest import BrowserDevice
from tests.helpers import PASSWORD
from tests.helpers import UA_CHROME
from tests.helpers import session_cards

pytestmark = pytest.mark.browser


def sign_in_in_any_language(page: t.Any, base: str) -> None:
    """The sign-in form by its field ids, whatever language its labels are in."""
    page.goto(f"{base}/account/login")
    page.fill("#email", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("form.sa-form button[type=submit]")
    page.wait_for_url(f"{base}/account/devices")


def boxes(page: t.Any) -> dict[str, dict[str, float]]:
    card = session_cards(page).filter(has=page.locator(".sa-badge")).first
    return {
        "card": card.bounding_box(),
        "icon": card.locator(".sa-session__icon").bounding_box(),
        "name": card.locator(".sa-session__name > span").first.bounding_box(),
        "badge": card.locator(".sa-badge").bounding_box(),
        "button": card.locator(".sa-session__actions button").bounding_box(),
    }


def centre(box: dict[str, float]) -> float:
    return box["x"] + box["width"] / 2


def test_arabic_devices_page_is_mirrored(base_url: str, browser_device: t.Callable[..., BrowserDevice]) -> None:
    english = browser_device(UA_CHROME, locale="en-US", viewport={"width": 1280, "height": 800})
    arabic = browser_device(UA_CHROME, locale="ar-EG", viewport={"width": 1280, "height": 800})
    for device in (english, arabic):
        sign_in_in_any_language(device.page, base_url)
    page = arabic.page
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert "هذا الجهاز" in page.locator(".sa-badge").inner_text()

    ltr, rtl = boxes(english.page), boxes(arabic.page)
    # English: icon, then name, then badge from left to right; the button at the right edge.
    assert ltr["icon"]["x"] < ltr["name"]["x"] < ltr["badge"]["x"]
    assert centre(ltr["button"]) > centre(ltr["card"])
    # Arabic: the same row mirrored: icon at the right, badge left of the name, button at the left edge.
    assert centre(rtl["icon"]) > centre(rtl["card"])
    assert rtl["badge"]["x"] + rtl["badge"]["width"] <= rtl["name"]["x"] + 1
    assert centre(rtl["button"]) < centre(rtl["card"])
    card_left = rtl["card"]["x"]
    card_right = card_left + rtl["card"]["width"]
    assert rtl["button"]["x"] - card_left < 60  # hugs the start (left) edge as it hugs the right in English
    assert card_right - (ltr["button"]["x"] + ltr["button"]["width"]) < 60
    assert arabic.errors == [] and english.errors == []


def test_the_browsers_time_zone_reaches_the_server(
    base_url: str, browser_device: t.Callable[..., BrowserDevice]
) -> None:
    device = browser_device(UA_CHROME, locale="de-DE", timezone_id="Asia/Tokyo")
    sign_in_in_any_language(device.page, base_url)
    device.page.reload()  # the first page sets the cookie; later ones use it
    meta = session_cards(device.page).first.locator(".sa-session__meta").inner_text()
    assert "JST" in meta and "UTC" not in meta, meta
    cookies = {c["name"]: c["value"] for c in device.page.context.cookies()}
    assert cookies["sa_tz"] == "Asia/Tokyo"
    assert device.errors == []
