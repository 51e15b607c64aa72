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
    country = None
    region = None
    city = None
    device_name = None
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


def _always_true(self: t.Any) -> bool:
    return True


def _never(self: t.Any) -> bool:
    return False


#: The attributes :func:`add_user_mixin` adds; ``is_active`` is recognised by identity.
ALWAYS_ACTIVE = property(_always_true, doc="Always True: the model has no is_active of its own.")


class UserMixin:
    """Optional mixin for the app's ``User`` model (Flask-Login compatible names).

    ``init_app`` adds these to a model that lacks them anyway (see
    :func:`add_user_mixin`); the mixin says it in the model's source. Override
    ``is_active`` (a column or property) to sign a user out everywhere."""

    id: t.Any
    is_active = ALWAYS_ACTIVE

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


def add_user_mixin(model: type, primary_key: str) -> list[str]:
    """Give the app's user model :class:`UserMixin`'s attributes it lacks.

    ``current_user.is_authenticated`` (templates, Python, Flask-Login code)
    then works on any model, mixin or not, and ``current_user`` stays the
    model instance itself. Attributes the model defines (a column, a
    property, Flask-Login's mixin) are never replaced. Returns what was added.
    """

    def get_id(self: t.Any) -> str:
        return str(getattr(self, primary_key))

    attrs: dict[str, t.Any] = {
        "is_authenticated": property(_always_true),
        "is_anonymous": property(_never),
        "is_active": ALWAYS_ACTIVE,
        "get_id": get_id,
    }
    added = [name for name in attrs if not hasattr(model, name)]
    for name in added:
        setattr(model, name, attrs[name])
    return added
