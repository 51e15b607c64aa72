"""Blinker signals, sent with the app as sender (like Flask's own).

- ``session_created``: ``user``, ``session`` (the new ``UserSession``).
- ``session_revoked``: ``user_id``, ``session_ids`` (list of str), ``reason``
  (``"logout"``, ``"revoke"``, ``"revoke_others"``, ``"revoke_all"``,
  ``"password_change"``, ``"password_reset"``, ``"rotate"``, ``"evicted"``,
  ``"user_deactivated"`` (sent once the deactivation committed), ``"admin"``,
  ``"reported"``: "This wasn't me").
- ``password_changed``: ``user``, ``revoked`` (number of sessions ended).
- ``login_failed``: ``identity`` (the email as typed), ``reason``.
- ``new_device_sign_in``: ``user``, ``session``: a sign-in from a device not seen on
  this account within ``SESSIONAUTH_KNOWN_DEVICE_DAYS`` (same browser, OS and country).
- ``password_reset``: ``user``, ``revoked``: a password set through a reset link.
- ``session_reported``: ``user_id``, ``session_id``: "This wasn't me" signed it out.
- ``session_renamed``: ``user_id``, ``session_id``, ``name`` (``None``: cleared).
- ``sudo_confirmed``: ``user``, ``session``: the password was confirmed again.
- ``rate_limited``: ``user_id`` (or ``None``), ``scope`` (the counter's kind: ``"pair"``,
  ``"account"``, ``"address"``, ...), ``ip`` (or ``None``): a failure just brought a limit to
  its maximum, so the next attempts are refused; sent once per filling, never for the
  refused attempts (they stay free of writes).
- ``admin_action``: ``admin``, ``user_id``, ``action``, ``session_ids``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

session_created = _signals.signal("session-created")
session_revoked = _signals.signal("session-revoked")
password_changed = _signals.signal("password-changed")
login_failed = _signals.signal("login-failed")
new_device_sign_in = _signals.signal("new-device-sign-in")
password_reset = _signals.signal("password-reset")
session_reported = _signals.signal("session-reported")
session_renamed = _signals.signal("session-renamed")
sudo_confirmed = _signals.signal("sudo-confirmed")
rate_limited = _signals.signal("rate-limited")
admin_action = _signals.signal("admin-action")
