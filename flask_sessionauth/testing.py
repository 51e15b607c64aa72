"""Test helpers for applications: a test client that is already signed in.

Like Flask-Login's ``FlaskLoginClient``::

    app.test_client_class = SessionAuthClient
    client = app.test_client(user=user)              # signed in, not fresh
    client = app.test_client(user=user, fresh=True)  # as if the password was just typed
    client.sign_in(other_user, user_agent="Mozilla/5.0 (iPhone; …)")
    client.sign_out()

A sign-in here is a real one without the form and without the password: the
extension's own ``login_user`` runs in a request context carrying this
client's cookie, address and user agent, so the session row, the signals, the
replacement of a previous session and the cookie are exactly a real sign-in's,
and no password hash is computed. Inactive users are refused as they are at
sign-in. The pytest fixtures are in :mod:`flask_sessionauth.pytest_plugin`.
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from .glue import actions
from .glue.hook import request_state
from .glue.state import STATE_KEY
from .glue.state import AppState


class SessionAuthClient(FlaskClient):
    """A :class:`~flask.testing.FlaskClient` that signs users in and out directly.

    Use it as ``app.test_client_class``; ``app.test_client(user=…, fresh=…,
    user_agent=…)`` then returns a signed-in client. ``user_agent`` becomes the
    client's ``User-Agent`` for every request (and the device shown on the
    devices page).
    """

    def __init__(
        self, *args: t.Any, user: t.Any = None, fresh: bool = False, user_agent: str | None = None, **kwargs: t.Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if user_agent is not None:
            self.environ_base["HTTP_USER_AGENT"] = user_agent
        if user is not None:
            self.sign_in(user, fresh=fresh)

    @property
    def _state(self) -> AppState:
        app: Flask = self.application
        if STATE_KEY not in app.extensions:
            raise RuntimeError("SessionAuthClient needs an app with SessionAuth.init_app() called on it.")
        return t.cast(AppState, app.extensions[STATE_KEY])

    @property
    def _domain(self) -> str:
        """The host the client sends requests to, which its cookies are stored for."""
        server_name = self.application.config.get("SERVER_NAME") or "localhost"
        return str(server_name).rsplit(":", 1)[0] if not server_name.endswith("]") else str(server_name)

    def _context(self) -> t.Any:
        """A request context as this client's next request would make it."""
        name = self._state.settings.cookie_name
        cookie = self.get_cookie(name, domain=self._domain)
        headers = {"Cookie": f"{name}={cookie.value}"} if cookie is not None else {}
        return self.application.test_request_context("/", environ_base=dict(self.environ_base), headers=headers)

    def sign_in(
        self, user: t.Any, fresh: bool = False, user_agent: str | None = None, *, remember: bool = True
    ) -> t.Any:
        """Sign ``user`` in on this client (replacing its current session, if
        any) and return the new ``UserSession``. ``fresh=True`` counts as a
        password just entered (``fresh_login_required`` views and sudo mode
        let it through); ``remember=False`` is an unticked "remember me"."""
        if user_agent is not None:
            self.environ_base["HTTP_USER_AGENT"] = user_agent
        state = self._state
        with self._context():
            session = actions.login_user(_attached(state, user), remember, fresh=fresh)
            cookie = request_state().cookie  # type: ignore[union-attr]
        assert cookie is not None and cookie.value is not None
        self._write(state.settings.cookie_name, cookie.value, cookie.max_age)
        return session

    def sign_out(self) -> None:
        """End this client's session (its row is deleted, as by the sign-out
        button) and forget its cookies. Nothing happens if it has none."""
        state = self._state
        with self._context():
            actions.logout_user()
        for name in (state.settings.cookie_name, state.settings.cookie_name + "_cache"):
            self.delete_cookie(name, domain=self._domain)

    def _write(self, name: str, value: str, max_age: int | None) -> None:
        settings = self._state.settings
        self.set_cookie(
            name,
            value,
            domain=self._domain,
            path="/",
            max_age=max_age,
            secure=settings.cookie_secure,
            httponly=True,
            samesite=settings.cookie_samesite,
        )


def _attached(state: AppState, user: t.Any) -> t.Any:
    """``user``, reloaded if it is a detached instance (typically created in
    an app context the test has left, its attributes expired by the commit)."""
    inspected = sa.inspect(user, raiseerr=False)
    if inspected is None or not inspected.detached or not inspected.expired_attributes:
        return user
    loaded = state.db.session.get(type(user), inspected.identity)
    if loaded is None:
        raise LookupError(f"{user!r} is not in the database.")
    return loaded


__all__ = ["SessionAuthClient"]
