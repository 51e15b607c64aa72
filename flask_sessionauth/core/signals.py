"""Blinker signals, sent with the app as sender (like Flask's own).

- ``session_created``: ``user``, ``session`` (the new ``UserSession``).
- ``session_revoked``: ``user_id``, ``session_ids`` (list of str), ``reason``
  (``"logout"``, ``"revoke"``, ``"revoke_others"``, ``"revoke_all"``,
  ``"password_change"``, ``"rotate"``, ``"evicted"``, ``"user_deactivated"``).
- ``password_changed``: ``user``, ``revoked`` (number of sessions ended).
- ``login_failed``: ``identity`` (the email as typed), ``reason``.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

session_created = _signals.signal("session-created")
session_revoked = _signals.signal("session-revoked")
password_changed = _signals.signal("password-changed")
login_failed = _signals.signal("login-failed")
