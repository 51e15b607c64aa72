"""Falsy stand-ins for "nobody signed in", so ``if current_user:`` reads naturally."""

from __future__ import annotations

import typing as t


class _Nobody:
    """Falsy, with a readable repr."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class AnonymousUser(_Nobody):
    """What ``current_user`` is when no valid session exists."""

    is_authenticated = False
    is_anonymous = True
    is_active = False
    id = None

    def get_id(self) -> None:
        return None


class AnonymousSession(_Nobody):
    """What ``current_session`` is when no valid session exists."""

    id = None
    user_id = None
    expires_at = None
    created_at = None
    updated_at = None
    last_active_at = None
    authenticated_at = None
    ip_address = None
    user_agent = None
    remember = False


class CurrentUser(t.Protocol):
    """What a type checker knows of ``current_user``: the four Flask-Login
    attributes every user answers (the anonymous one too) and ``Any`` for the
    model's own fields. A proxy cannot know the app's model; where a view
    needs it, ``t.cast(User, current_user)`` (after ``login_required``)."""

    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    def get_id(self) -> str | None: ...
    def __getattr__(self, name: str) -> t.Any: ...


class UserMixin:
    """Optional mixin for the app's ``User`` model (Flask-Login compatible names)."""

    id: t.Any

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)
