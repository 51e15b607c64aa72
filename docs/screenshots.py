"""Regenerate the README screenshots of the account pages and the mails.

    .venv/bin/python docs/screenshots.py

Serves the test app on 127.0.0.1 at a frozen time (``NOW``) with a few devices
signed in from different places (a small dict resolver stands in for GeoIP),
one of them renamed, one signed out from this device, a wrong password and a
password change in the activity log, and every mail collected by a
``SESSIONAUTH_MAIL_SEND`` callable. Chromium then saves the pages at desktop
(1280 px) and phone (390 px) widths, light and dark, the devices page in German,
Japanese and Arabic (the browser's language and time zone, as a visitor's would
be; needs the CJK and Arabic fonts ``scripts/setup --with-browser`` installs),
and the mails' HTML parts at desktop (800 px) and phone widths, light and dark.
PNGs are reduced to a palette (Pillow, extra ``[docs]``) to keep the repository small.
Name shots to make only those: ``docs/screenshots.py devices-de mail-new-device-dark``.
"""

from __future__ import annotations

import datetime as dt
import email.message
import pathlib
import sys
import tempfile
import typing as t
from urllib.parse import urlsplit

import time_machine

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_sessionauth.core.location import Location  # noqa: E402
from tests.helpers import NEW_PASSWORD  # noqa: E402
from tests.helpers import PASSWORD  # noqa: E402
from tests.helpers import UA_IPHONE  # noqa: E402
from tests.live import launch_chromium  # noqa: E402
from tests.live import live_app  # noqa: E402
from tests.live import live_server  # noqa: E402

NOW = dt.datetime(2026, 12, 1, 15, 30, tzinfo=dt.timezone.utc)
EMAIL = "alice@example.com"
UA_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
UA_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
UA_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
UA_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
PLACES = {
    "2600:1700:5d4a:3e10::1b": Location("US", "Texas", "Austin"),
    "90.84.146.17": Location("FR", "Auvergne-Rhône-Alpes", "Lyon"),
    "85.214.132.117": Location("DE", "Berlin", "Berlin"),
    "85.214.20.141": Location("DE", "Berlin", "Berlin"),
    "177.92.61.208": Location("BR", "São Paulo", "São Paulo"),
}
# (user agent, address, signed in this long ago, last active this long ago)
DEVICES = [
    (UA_IPHONE, "2600:1700:5d4a:3e10::1b", dt.timedelta(days=5), dt.timedelta(hours=3)),
    (UA_FIREFOX, "90.84.146.17", dt.timedelta(days=3), dt.timedelta(days=1, hours=2)),
    (UA_IPAD, "85.214.132.117", dt.timedelta(days=6), dt.timedelta(days=5)),
]
THIS_DEVICE = (UA_CHROME, "85.214.20.141")
STRANGER = (UA_ANDROID, "177.92.61.208")  # signed in, then signed out from this device
WORK_LAPTOP = 1  # DEVICES[1] is renamed "Work laptop"
PUBLIC_URL = "https://accounts.example.com"
DESKTOP, PHONE, MAIL_DESKTOP = 1280, 390, 800
ENGLISH = ("en-US", "UTC")


def resolve(address: str) -> Location | None:
    """The screenshots' GeoIP: a few public addresses to made-up places (the
    documentation ranges would show as "Local network", being not global)."""
    return PLACES.get(address)


def request_as(app: t.Any, device: tuple[str, str], cookie: str | None = None) -> t.Any:
    environ = {"REMOTE_ADDR": device[1], "HTTP_USER_AGENT": device[0]}
    if cookie is not None:
        name = app.extensions["sessionauth"].state_for(app).settings.cookie_name
        environ["HTTP_COOKIE"] = f"{name}={cookie}"
    return app.test_request_context("/", environ_base=environ)


def sign_in_at(app: t.Any, device: tuple[str, str], when: dt.datetime) -> tuple[str, str]:
    """A session created at ``when`` from that browser and address: (cookie value, session id)."""
    with time_machine.travel(when, tick=False), request_as(app, device):
        auth = app.extensions["sessionauth"]
        issued = auth.login_user(auth.find_user(EMAIL))
        return str(issued.token), str(issued.id)


def mark_active(app: t.Any, session_token: str, when: dt.datetime) -> None:
    """Pretend the device was last used at ``when``: a request with its cookie then."""
    name = app.extensions["sessionauth"].state_for(app).settings.cookie_name
    with time_machine.travel(when, tick=False):
        client = app.test_client(use_cookies=False)
        client.get("/whoami", headers={"Cookie": f"{name}={session_token}"})


def seed(app: t.Any) -> dict[str, str]:
    """Devices, a renamed one, events of several kinds; returns the cookies and links the shots need."""
    auth = app.extensions["sessionauth"]
    ids = []
    for index, (user_agent, address, signed_in, active) in enumerate(DEVICES):
        token, session_id = sign_in_at(app, (user_agent, address), NOW - signed_in)
        mark_active(app, token, NOW - active)
        ids.append(session_id)
        if index == WORK_LAPTOP:  # named from that device, when it was last used
            with time_machine.travel(NOW - active, tick=False), request_as(app, (user_agent, address), token):
                auth.rename_session(session_id, "Work laptop")
    mine, _ = sign_in_at(app, THIS_DEVICE, NOW - dt.timedelta(days=1))
    with time_machine.travel(NOW - dt.timedelta(hours=6), tick=False), request_as(app, STRANGER):
        auth.authenticate(EMAIL, "not-the-password")  # a wrong password, logged
    stranger, stranger_id = sign_in_at(app, STRANGER, NOW - dt.timedelta(hours=5, minutes=58))
    with time_machine.travel(NOW - dt.timedelta(hours=5), tick=False), request_as(app, THIS_DEVICE, mine):
        auth.revoke_session(stranger_id, auth.find_user(EMAIL))
    with time_machine.travel(NOW - dt.timedelta(hours=4, minutes=55), tick=False), request_as(app, THIS_DEVICE, mine):
        rotated = auth.change_password(auth.find_user(EMAIL), PASSWORD, NEW_PASSWORD, confirm_password=NEW_PASSWORD)
        mine = str(rotated.token)  # the current session's new cookie
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False), request_as(app, THIS_DEVICE):
        from flask_sessionauth.glue import recovery

        recovery.request_reset(EMAIL)
    with app.app_context():
        assert auth.state_for(app).mailer.wait()
    return {"mine": mine, "stranger": stranger, "user_id": str(auth_user_id(app))}


def auth_user_id(app: t.Any) -> t.Any:
    with app.app_context():
        return app.extensions["sessionauth"].find_user(EMAIL).id


def link_path(message: email.message.EmailMessage, marker: str) -> str:
    """The path and query of the mail's link containing ``marker`` (served here, not at ``PUBLIC_URL``)."""
    html = html_part(message)
    start = html.index(PUBLIC_URL, html.index(marker) - 400 if marker in html else 0)
    link = html[start : html.index('"', start)].replace("&amp;", "&")
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def html_part(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, message["Subject"]
    return str(part.get_content())


def compress(path: pathlib.Path) -> None:
    """Reduce the PNG to a 256-colour palette, optimized (UI screenshots lose nothing visible)."""
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)


Shot = tuple[str, str, int, str, tuple[str, str], str]  # name, path or mail, width, scheme, (locale, zone), cookie


def page_shots(cookies: dict[str, str]) -> list[Shot]:
    mine, admin = cookies["mine"], f"/account/admin/users/{cookies['user_id']}"
    shots: list[Shot] = [
        ("devices-desktop", "/account/devices", DESKTOP, "light", ENGLISH, mine),
        ("devices-phone", "/account/devices", PHONE, "light", ENGLISH, mine),
        ("devices-dark", "/account/devices", DESKTOP, "dark", ENGLISH, mine),
        ("password-desktop", "/account/password", DESKTOP, "light", ENGLISH, mine),
        ("password-phone", "/account/password", PHONE, "light", ENGLISH, mine),
        ("activity-desktop", "/account/activity", DESKTOP, "light", ENGLISH, mine),
        ("activity-phone", "/account/activity", PHONE, "light", ENGLISH, mine),
        ("activity-dark", "/account/activity", DESKTOP, "dark", ENGLISH, mine),
        ("admin-sessions-desktop", f"{admin}/sessions", DESKTOP, "light", ENGLISH, mine),
        ("forgot-password-phone", "/account/forgot-password", PHONE, "light", ENGLISH, ""),
        ("report-device-desktop", "report-device", DESKTOP, "light", ENGLISH, ""),
        ("report-device-phone", "report-device", PHONE, "dark", ENGLISH, ""),
        ("signed-out-notice-phone", "/account/devices", PHONE, "light", ENGLISH, cookies["stranger"]),
        ("devices-de", "/account/devices", DESKTOP, "light", ("de-DE", "Europe/Berlin"), mine),
        ("devices-ja", "/account/devices", DESKTOP, "light", ("ja-JP", "Asia/Tokyo"), mine),
        ("devices-ar", "/account/devices", DESKTOP, "light", ("ar-EG", "Africa/Cairo"), mine),
    ]
    for mail in ("new-device", "password-changed"):
        for width, suffix in ((MAIL_DESKTOP, "desktop"), (PHONE, "phone")):
            for scheme in ("light", "dark"):
                name = f"mail-{mail}-{suffix}" + ("-dark" if scheme == "dark" else "")
                shots.append((name, f"mail:{mail}", width, scheme, ENGLISH, ""))
    return shots


def main(out: pathlib.Path = ROOT / "docs", only: t.Sequence[str] = ()) -> list[pathlib.Path]:
    saved: list[pathlib.Path] = []
    sent: list[email.message.EmailMessage] = []
    config = {
        "SESSIONAUTH_GEOIP_RESOLVER": resolve,
        "SESSIONAUTH_MAIL_SEND": sent.append,
        "SESSIONAUTH_PUBLIC_URL": PUBLIC_URL,
        "SESSIONAUTH_SITE_NAME": "Example Shop",
        "SESSIONAUTH_RESET_MIN_SECONDS": 0,
    }
    with tempfile.TemporaryDirectory() as tmp, time_machine.travel(NOW, tick=False):
        app = live_app(f"{tmp}/shots.db", **config)
        app.extensions["sessionauth"].admin_check(lambda user: user.email == EMAIL)
        cookies = seed(app)
        mails = {str(m["Subject"]): m for m in sent}  # the newest of each subject
        new_device = next(m for subject, m in mails.items() if ": new sign-in from " in subject)
        changed = next(m for subject, m in mails.items() if subject.endswith(": your password was changed"))
        pages = {
            "report-device": link_path(new_device, "report-link"),
            "mail:new-device": html_part(new_device),
            "mail:password-changed": html_part(changed),
        }
        with live_server(app) as base, launch_chromium() as browser:
            for name, where, width, scheme, (locale, zone), cookie in page_shots(cookies):
                if only and name not in only:
                    continue
                context = browser.new_context(
                    user_agent=THIS_DEVICE[0],
                    # a mail is as tall as its text: full_page never adds blank viewport below it
                    viewport={
                        "width": width,
                        "height": 200 if where.startswith("mail:") else 800 if width > 600 else 760,
                    },
                    device_scale_factor=1 if width > 600 else 2,
                    is_mobile=width < 600,
                    color_scheme=scheme,
                    locale=locale,
                    timezone_id=zone,
                )
                if cookie:
                    context.add_cookies([{"name": "sessionauth", "value": cookie, "url": base}])
                page = context.new_page()
                if where.startswith("mail:"):
                    page.set_content(pages[where])
                else:
                    path = pages.get(where, where)
                    page.goto(base + path)
                    if cookie and cookie != cookies["stranger"]:
                        page.reload()  # tz.js has set the time-zone cookie: dates in local time
                        assert page.url == base + path, page.url
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                compress(target)
                saved.append(target)
                context.close()
    return saved


if __name__ == "__main__":
    for path in main(only=sys.argv[1:]):
        print(path.relative_to(ROOT), f"{path.stat().st_size // 1024} KB")
