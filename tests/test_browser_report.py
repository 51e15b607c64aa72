"""The new-device mail's "This wasn't me" link followed in real Chromium: the
mail arrives at a real SMTP server, the link opens a confirmation page, and
its button signs the other device out."""

from __future__ import annotations

import typing as t

import pytest

from tests.conftest import BrowserDevice
from tests.helpers import NEW_PASSWORD
from tests.helpers import UA_FIREFOX
from tests.helpers import browser_sign_in
from tests.helpers import state_of
from tests.live import live_app
from tests.live import live_server
from tests.mailbox import Mailbox
from tests.mailbox import link_in

pytestmark = pytest.mark.browser


def test_this_wasnt_me_signs_the_device_out(
    tmp_path: t.Any, mailbox: Mailbox, browser_device: t.Callable[..., BrowserDevice]
) -> None:
    app = live_app(str(tmp_path / "live.db"), **mailbox.config())
    with live_server(app) as base:
        app.config["SESSIONAUTH_PUBLIC_URL"] = base
        intruder = browser_device(UA_FIREFOX)
        browser_sign_in(intruder.page, base)
        # The account's first sign-in from that browser: a new device, so a mail.
        assert state_of(app).mailer.wait()
        (message,) = mailbox.wait_for(1)
        link = link_in(message, "report-device")
        assert link.startswith(f"{base}/account/report-device?token=")

        owner = browser_device()
        owner.page.goto(link)
        assert "Firefox" in owner.page.locator("h1").inner_text()
        intruder.page.reload()  # a GET (as a scanner's) changed nothing
        assert intruder.page.url == f"{base}/account/devices"
        owner.page.get_by_role("button", name="Sign out this device").click()
        owner.page.wait_for_url(f"{base}/account/reset-password?token=*")
        intruder.page.reload()
        assert intruder.page.url.startswith(f"{base}/account/login")
        owner.page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        owner.page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        owner.page.get_by_role("button", name="Set the new password").click()
        owner.page.wait_for_url(f"{base}/account/login")
        browser_sign_in(owner.page, base, NEW_PASSWORD)
        assert owner.errors == []
