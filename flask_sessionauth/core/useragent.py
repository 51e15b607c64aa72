"""Readable device names ("Chrome 131 on macOS", "Safari on iPhone") from user agents.

Parsing uses the maintained ``ua-parser`` rules. Results are cached because a
devices page shows the same few user agents over and over, and parsing is
only ever done for display, never on the request hot path.
"""

from __future__ import annotations

import functools
import typing as t

from ua_parser import parse

from .i18n import _

_BROWSERS = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "HeadlessChrome": "Headless Chrome",
}
_OSES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
# Versions help tell devices apart, so every browser gets its major version.
_VERSIONED = {"Chrome", "Firefox", "Edge", "Opera", "Brave", "Vivaldi", "Headless Chrome", "Chromium", "Safari"}
_TABLET_HINTS = ("ipad", "tablet", "kindle", "silk", "sm-t", "sm-x", "nexus 7", "nexus 9")


class Device(t.NamedTuple):
    name: str  # e.g. "Chrome 131 on macOS"
    browser: str | None
    os: str | None
    kind: str  # "desktop", "phone", "tablet" or "unknown"

    @property
    def display(self) -> str:
        """:func:`display_name`: the name in the current language."""
        return display_name(self)


UNKNOWN = Device("Unknown device", None, None, "unknown")


@functools.lru_cache(maxsize=1024)
def describe(user_agent: str | None) -> Device:
    """Describe a user agent for people; never raises."""
    if not user_agent:
        return UNKNOWN
    try:
        result = parse(user_agent[:512])
    except Exception:  # a parser bug must not break a page
        return UNKNOWN
    browser = os_name = None
    if result.user_agent is not None and result.user_agent.family != "Other":
        family = result.user_agent.family
        browser = _BROWSERS.get(family, family)
        if browser in _VERSIONED and result.user_agent.major:
            browser = f"{browser} {result.user_agent.major}"
    device_family = result.device.family if result.device is not None else ""
    if result.os is not None and result.os.family != "Other":
        os_name = _OSES.get(result.os.family, result.os.family)
        if os_name == "iOS" and device_family in ("iPhone", "iPad"):
            os_name = device_family
    kind = _kind(user_agent, os_name, device_family, result.device.brand if result.device else None)
    if browser and os_name:
        name = f"{browser} on {os_name}"
    else:
        name = browser or os_name or "Unknown device"
    return Device(name, browser, os_name, kind)


def _kind(user_agent: str, os_name: str | None, device_family: str, brand: str | None) -> str:
    lowered = user_agent.lower()
    if device_family == "iPad" or any(h in lowered for h in _TABLET_HINTS) or (brand or "").endswith("Tablet"):
        return "tablet"
    if device_family == "iPhone" or "mobile" in lowered or os_name in ("Android", "iOS"):
        return "phone" if "mobile" in lowered or device_family == "iPhone" else "tablet"
    if os_name is None:
        return "unknown"
    return "desktop"


def display_name(device: Device) -> str:
    """The device's name for people, in the current language ("Chrome 131 unter macOS");
    ``Device.name`` stays English (logs, the JSON API)."""
    if device.browser and device.os:
        return _("%(browser)s on %(os)s", browser=device.browser, os=device.os)
    return device.browser or device.os or _("Unknown device")
