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
