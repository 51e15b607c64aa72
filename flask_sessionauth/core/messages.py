"""Every user-facing sentence the pages, the API and the CLI share, once.

Constants are :class:`~.i18n.Lazy`: they read in the locale of whoever is shown them
(``str()`` them before storing, e.g. in a flash). Functions translate when called.
"""

from __future__ import annotations

from .i18n import Lazy
from .i18n import _
from .i18n import _l
from .i18n import _n

SIGNED_OUT = _l("You have been signed out.")
#: A device whose session ended elsewhere (revoked from another device, expired).
SIGNED_OUT_ELSEWHERE = _l("You were signed out of this device.")
CURRENT_PASSWORD_WRONG = _l("The current password is incorrect.")
PASSWORD_WRONG = _l("The password is incorrect.")
PASSWORD_CHANGED = _l("Your password has been changed.")
PASSWORD_CHANGED_REVOKED = _l("Your password has been changed and all other devices were signed out.")
ALREADY_SIGNED_OUT = _l("That device was already signed out.")
NO_OTHER_DEVICES = _l("No other devices were signed in.")
FORM_EXPIRED_TITLE = _l("This form has expired")
FORM_EXPIRED = _l("For your security the page timed out. Go back, reload the page and try again.")
#: Titles and sentences of the account pages' 404 and 405.
HTTP_ERRORS = {
    404: (
        _l("Page not found"),
        _l("There is no account page at this address. Check the link, or go back and try again."),
    ),
    405: (
        _l("Not allowed"),
        _l("This account page cannot be used that way. Go back and use the page's own buttons."),
    ),
}
NOT_SET_UP_TITLE = _l("Sign-in is not set up correctly")
COOKIES_DROPPED_TITLE = _l("Your browser did not keep this site's cookies")
#: The CSRF failure's real cause over plain HTTP on a host that is not loopback
#: (``COOKIES_DROPPED.with_values(host=...)``).
COOKIES_DROPPED = _l(
    "This page was served over plain HTTP at %(host)s, and browsers only keep this site's secure cookies over"
    " HTTPS (or on localhost), so the form could not be checked. Open the site with https://"
    " (or at localhost while developing) and try again."
)

#: Sensitive actions the confirm page can finish after the password is entered:
#: what that page asks (whole sentences, so each language words them its own way).
SUDO_ACTIONS = {
    "revoke_others": _l("To sign out of all other devices, enter your password."),
    "revoke_all": _l("To sign out everywhere, enter your password."),
}


def device_signed_out(name: str) -> str:
    return _("%(device)s has been signed out.", device=name)


def signed_out_everywhere(count: int) -> str:
    return _n(
        "You have been signed out everywhere (%(num)d device).",
        "You have been signed out everywhere (%(num)d devices).",
        count,
    )


def signed_out_others(count: int) -> str:
    if not count:
        return str(NO_OTHER_DEVICES)
    return _n(
        "Signed out of %(num)d device. Only this device is still signed in.",
        "Signed out of %(num)d devices. Only this device is still signed in.",
        count,
    )


def more_devices(count: int) -> str:
    """Below a bounded listing: how many sessions it leaves out."""
    return _n("and %(num)d more device", "and %(num)d more devices", count)


#: Password reset by e-mail: the one answer whether or not the address has an account.
RESET_REQUESTED = _l("If an account uses that address, a link to reset its password is on its way. Check your e-mail.")
PASSWORD_RESET_DONE = _l("Your password has been reset. Sign in with the new one.")
REPORT_CONFIRM = _l("Sign this device out of your account")
REPORT_DONE = _l("That device has been signed out. Now choose a new password.")

#: Subjects of the account-protection mails (``%(site)s``: ``SESSIONAUTH_SITE_NAME``;
#: ``MAIL_SUBJECTS[name] % {"site": ..., **context}``).
MAIL_SUBJECTS: dict[str, Lazy] = {
    "new_device": _l("%(site)s: new sign-in from %(device)s"),
    "password_changed": _l("%(site)s: your password was changed"),
    "password_reset": _l("%(site)s: your password was reset"),
    "signed_out_everywhere": _l("%(site)s: you were signed out everywhere"),
    "reset_link": _l("%(site)s: reset your password"),
}


def device_renamed(name: str | None) -> str:
    return _("Device renamed to “%(name)s”.", name=name) if name else _("The device name was cleared.")


def signed_out_from(device: str | None, when: str) -> str:
    """The sign-in page, to a browser signed out from another device: only
    that device's name and the time (the cookie named the session); ``None``
    means an administrator, ``""`` a device without a name."""
    if device is None:
        return _("An administrator signed this device out on %(when)s.", when=when)
    if not device:
        return _("Another device signed this device out on %(when)s.", when=when)
    return _("%(device)s signed this device out on %(when)s.", device=device, when=when)


NO_ACTIVITY = _l("No account activity to show.")


def admin_signed_out(count: int) -> str:
    return _n("Signed the user out of %(num)d device.", "Signed the user out of %(num)d devices.", count)
