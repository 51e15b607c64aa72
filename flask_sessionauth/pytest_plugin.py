"""pytest fixtures for applications that use flask-sessionauth.

Opt in with one line in your ``conftest.py``::

    pytest_plugins = ["flask_sessionauth.pytest_plugin"]

It is deliberately not an auto-loaded (``pytest11``) plugin: that would import
the package at the start of every pytest run in the environment, before
coverage starts measuring it. The fixtures build on the ``app`` fixture your
own tests define (as pytest-flask's do) and are resolved only when a test asks
for them.

* ``sessionauth_client``: an anonymous
  :class:`~flask_sessionauth.testing.SessionAuthClient` for ``app``;
* ``signed_in_client``: a factory, ``signed_in_client(user, fresh=False,
  user_agent=None, remember=True)``, returning a new client signed in as ``user``.
"""

from __future__ import annotations

import typing as t

import pytest

if t.TYPE_CHECKING:
    from flask import Flask

from .testing import SessionAuthClient


def _client(app: Flask) -> SessionAuthClient:
    return SessionAuthClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def sessionauth_client(app: Flask) -> SessionAuthClient:
    """An anonymous client of ``app`` that can ``sign_in(user)`` and ``sign_out()``."""
    return _client(app)


@pytest.fixture
def signed_in_client(app: Flask) -> t.Callable[..., SessionAuthClient]:
    """``signed_in_client(user, fresh=False, user_agent=None, remember=True)``:
    a new client of ``app`` signed in as ``user``."""

    def make(
        user: t.Any, fresh: bool = False, user_agent: str | None = None, *, remember: bool = True
    ) -> SessionAuthClient:
        client = _client(app)
        client.sign_in(user, fresh=fresh, user_agent=user_agent, remember=remember)
        return client

    return make
