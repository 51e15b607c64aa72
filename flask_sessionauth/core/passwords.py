"""Password hashing and policy.

A passlib ``CryptContext`` with argon2id first: new hashes use it, older
schemes or weaker parameters still verify and are marked for upgrade
(``deprecated="auto"``), so a successful sign-in stores a current hash.
Passwords longer than the maximum are refused, never truncated (bcrypt would
silently ignore everything after 72 bytes).
"""

from __future__ import annotations

import typing as t

from passlib.context import CryptContext

from .errors import PasswordPolicyError
from .errors import PasswordTooLong
from .errors import PasswordTooShort


class PasswordHasher:
    def __init__(
        self,
        schemes: t.Sequence[str],
        options: t.Mapping[str, t.Any],
        min_length: int,
        max_length: int,
    ) -> None:
        self.context = CryptContext(schemes=list(schemes), deprecated="auto", **dict(options))
        self.min_length = min_length
        self.max_length = max_length

    def check_policy(self, password: str, confirm: str | None = None) -> None:
        """Raise :class:`PasswordPolicyError` with a message a form can show."""
        if not isinstance(password, str):
            raise PasswordPolicyError("Enter a password.")
        if len(password) < self.min_length:
            raise PasswordTooShort(f"Use at least {self.min_length} characters.")
        if len(password) > self.max_length:
            raise PasswordTooLong(f"Use at most {self.max_length} characters.")
        if "\x00" in password:
            raise PasswordPolicyError("The password contains a character that is not allowed.")
        if confirm is not None and confirm != password:
            raise PasswordPolicyError("The passwords do not match.")

    def hash(self, password: str) -> str:
        self.check_policy(password)
        return str(self.context.hash(password))

    def verify(self, password: str, stored_hash: str | None) -> tuple[bool, str | None]:
        """Return ``(ok, new_hash)``; ``new_hash`` is set when the stored one is outdated.

        Any malformed hash, unknown scheme or backend refusal counts as a
        failure: verification fails closed and never raises into a request.
        """
        if not isinstance(password, str) or len(password) > self.max_length or not stored_hash:
            self.dummy_verify()
            return False, None
        try:
            ok, new_hash = self.context.verify_and_update(password, stored_hash)
            return bool(ok), new_hash
        except (ValueError, TypeError):
            return False, None

    def dummy_verify(self) -> None:
        """Spend the same work as a real verification (unknown users)."""
        self.context.dummy_verify()
