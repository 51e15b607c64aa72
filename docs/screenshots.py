"""Regenerate the README screenshots of the account pages.

    .venv/bin/python docs/screenshots.py

Serves the test app on 127.0.0.1 with a few devices signed in at different
times (through the extension's own ``login_user``), then has Chromium save the
devices and password pages at desktop (1280 px) and phone (390 px) widths,
light theme, plus the devices page in the dark theme and in German, Japanese and
Arabic (the browser's language and time zone, as a visitor's would be; needs the
CJK and Arabic fonts ``scripts/setup --with-browser`` installs). Name shots to
make only those: ``docs/screenshots.py devices-de devices-ar``.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sys
import tempfile
import typing as t

import time_machine

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import UA_IPHONE  # noqa: E402
from tests.live import launch_chromium  # noqa: E402
from tests.live import live_app  # noqa: E402
from tests.live import live_server  # noqa: E402

UA_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
UA_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
UA_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
# (user agent, address, signed in this long ago, last active this long ago)
DEVICES = [
    (UA_IPHONE, "2001:db8:85a3::8a2e:370:7334", dt.timedelta(days=5), dt.timedelta(hours=3)),
    (UA_FIREFOX, "198.51.100.42", dt.timedelta(days=3), dt.timedelta(days=1, hours=2)),
    (UA_IPAD, "203.0.113.77", dt.timedelta(days=6), dt.timedelta(days=5)),
]
THIS_DEVICE = (UA_CHROME, "203.0.113.24")


def sign_in_at(app: t.Any, user_agent: str, address: str, when: dt.datetime) -> str:
    """A session created at ``when`` from that browser and address; returns its cookie value."""
    with time_machine.travel(when, tick=False):
        environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": user_agent}
        with app.test_request_context("/", environ_base=environ):
            auth = app.extensions["sessionauth"]
            user = auth.find_user("alice@example.com")
            return str(auth.login_user(user).token)


def mark_active(app: t.Any, session_token: str, when: dt.datetime) -> None:
    """Pretend the device was last used at ``when``: a request with its cookie then."""
    name = app.extensions["sessionauth"].state_for(app).settings.cookie_name
    with time_machine.travel(when, tick=False):
        client = app.test_client(use_cookies=False)
        client.get("/whoami", headers={"Cookie": f"{name}={session_token}"})


def main(out: pathlib.Path = ROOT / "docs", only: t.Sequence[str] = ()) -> list[pathlib.Path]:
    now = dt.datetime.now(dt.timezone.utc)
    saved: list[pathlib.Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = live_app(f"{tmp}/shots.db")
        for user_agent, address, signed_in, active in DEVICES:
            token = sign_in_at(app, user_agent, address, now - signed_in)
            mark_active(app, token, now - active)
        mine = sign_in_at(app, *THIS_DEVICE, now - dt.timedelta(days=1))
        with live_server(app) as base, launch_chromium() as browser:
            english = ("en-US", "UTC")
            shots = [
                ("devices-desktop", "/account/devices", 1280, 1, "light", english),
                ("devices-phone", "/account/devices", 390, 2, "light", english),
                ("password-desktop", "/account/password", 1280, 1, "light", english),
                ("password-phone", "/account/password", 390, 2, "light", english),
                ("devices-dark", "/account/devices", 1280, 1, "dark", english),
                ("devices-de", "/account/devices", 1280, 1, "light", ("de-DE", "Europe/Berlin")),
                ("devices-ja", "/account/devices", 1280, 1, "light", ("ja-JP", "Asia/Tokyo")),
                ("devices-ar", "/account/devices", 1280, 1, "light", ("ar-EG", "Africa/Cairo")),
            ]
            for name, path, width, scale, scheme, (locale, zone) in shots:
                if only and name not in only:
                    continue
                context = browser.new_context(
                    user_agent=THIS_DEVICE[0],
                    viewport={"width": width, "height": 800 if width > 600 else 760},
                    device_scale_factor=scale,
                    is_mobile=width < 600,
                    color_scheme=scheme,
                    locale=locale,
                    timezone_id=zone,
                )
                context.add_cookies([{"name": "sessionauth", "value": mine, "url": base}])
                page = context.new_page()
                page.goto(base + path)
                page.reload()  # tz.js has set the time-zone cookie: dates in local time
                assert page.url == base + path, page.url
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                saved.append(target)
                context.close()
    return saved


if __name__ == "__main__":
    for path in main(only=sys.argv[1:]):
        print(path.relative_to(ROOT))
