"""Every user-facing sentence the pages, the API and the CLI share, once."""

from __future__ import annotations

from .presentation import devices_phrase

SIGNED_OUT = "You have been signed out."
#: A device whose session ended elsewhere (revoked from another device, expired).
SIGNED_OUT_ELSEWHERE = "You were signed out of this device."
CURRENT_PASSWORD_WRONG = "The current password is incorrect."
PASSWORD_WRONG = "The password is incorrect."
PASSWORD_CHANGED = "Your password has been changed."
PASSWORD_CHANGED_REVOKED = "Your password has been changed and all other devices were signed out."
ALREADY_SIGNED_OUT = "That device was already signed out."
NO_OTHER_DEVICES = "No other devices were signed in."
FORM_EXPIRED_TITLE = "This form has expired"
FORM_EXPIRED = "For your security the page timed out. Go back, reload the page and try again."
#: Titles and sentences of the account pages' 404 and 405.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    404: ("Page not found", "There is no account page at this address. Check the link, or go back and try again."),
    405: ("Not allowed", "This account page cannot be used that way. Go back and use the page's own buttons."),
}
NOT_SET_UP_TITLE = "Sign-in is not set up correctly"
COOKIES_DROPPED_TITLE = "Your browser did not keep this site's cookies"
#: The CSRF failure's real cause over plain HTTP on a host that is not loopback.
COOKIES_DROPPED = (
    "This page was served over plain HTTP at {host}, and browsers only keep this site's secure cookies over"
    " HTTPS (or on localhost), so the form could not be checked. Open the site with https://"
    " (or at localhost while developing) and try again."
)

#: Sensitive actions the confirm page can finish after the password is entered.
SUDO_ACTIONS: dict[str, str] = {
    "revoke_others": "sign out of all other devices",
    "revoke_all": "sign out everywhere",
}


def device_signed_out(name: str) -> str:
    return f"{name} has been signed out."


def signed_out_everywhere(count: int) -> str:
    return f"You have been signed out everywhere ({devices_phrase(count)})."


def signed_out_others(count: int) -> str:
    if not count:
        return NO_OTHER_DEVICES
    return f"Signed out of {devices_phrase(count)}. Only this device is still signed in."


def more_devices(count: int) -> str:
    """Below a bounded listing: how many sessions it leaves out."""
    return f"and {count} more {'device' if count == 1 else 'devices'}"


def signed_out_from(device: str, when: str) -> str:
    """The sign-in page, to a browser signed out from another device: only
    that device's name and the time (the cookie named the session)."""
    return f"{device} signed this device out on {when}."


NO_ACTIVITY = "No account activity to show."


def admin_signed_out(count: int) -> str:
    return f"Signed the user out of {devices_phrase(count)}."
