"""The public API's types, asserted: ``mypy tests/typing`` (strict, from setup.cfg)
must pass, in CI (``.ci/run``) and in ``tests/test_typing.py``. Type-checked, never
run: pytest does not collect it (no ``test_`` prefix) and nothing imports it."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from typing_extensions import assert_type

import flask_sessionauth as fsa
from flask_sessionauth import CurrentUser
from flask_sessionauth import IssuedSession
from flask_sessionauth import SessionAuth
from flask_sessionauth import UserSession


class Base(DeclarativeBase):
    pass


class User(fsa.UserMixin, Base):  # an app writes db.Model; mypy sees Base (Flask-SQLAlchemy's docs)
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    password_hash: Mapped[str]


def extension(app: Flask, db: t.Any, user: User) -> None:
    auth = SessionAuth(app, db=db, user_model=User)
    assert_type(auth, SessionAuth[User])
    assert_type(auth.login_user(user), IssuedSession)
    assert_type(auth.login_user(user, remember=False, fresh=False).token, str)
    assert_type(auth.get_session(), UserSession | None)
    assert_type(auth.list_sessions(), list[UserSession])
    assert_type(auth.list_sessions(user), list[UserSession])
    assert_type(auth.revoke_session("id", user), bool)
    assert_type(auth.revoke_sessions(), int)
    assert_type(auth.revoke_other_sessions(user), int)
    assert_type(auth.change_password(user, "old", "new", True), IssuedSession | None)
    assert_type(auth.set_password(user, "new"), int)
    assert_type(auth.reauthenticate("pw"), IssuedSession)
    assert_type(auth.authenticate("a@example.com", "pw"), User | None)
    assert_type(auth.find_user("a@example.com"), User | None)
    assert_type(auth.create_user("a@example.com", "pw", name="A"), User)
    assert_type(auth.hash_password("pw"), str)
    assert_type(auth.verify_password(user, "pw"), bool)
    assert_type(auth.cleanup_expired(), int)
    assert_type(auth.session_model, type[UserSession])


def app_factory(app: Flask, db: t.Any) -> None:
    # ``SessionAuth()`` before the model is known: Any, never an inference error.
    auth = SessionAuth()
    assert_type(auth, SessionAuth[t.Any])
    auth.init_app(app, db=db, user_model=User)
    typed: SessionAuth[User] = SessionAuth()
    assert_type(typed.create_user("a@example.com", "pw"), User)


def the_proxies_in_a_view(auth: SessionAuth[User]) -> None:
    assert_type(fsa.current_user, CurrentUser)
    assert_type(fsa.current_user.is_authenticated, bool)
    assert_type(fsa.current_user.is_active, bool)
    assert_type(fsa.current_user.is_anonymous, bool)
    assert_type(fsa.current_user.get_id(), str | None)
    assert_type(fsa.current_user.email, t.Any)  # the app's own fields
    assert_type(t.cast(User, fsa.current_user).email, str)
    # The proxy is accepted wherever a user is, but login_user wants the model.
    assert_type(auth.list_sessions(fsa.current_user), list[UserSession])
    assert_type(auth.change_password(fsa.current_user, "old", "new"), IssuedSession | None)
    auth.login_user(fsa.current_user)  # type: ignore[arg-type]

    assert_type(fsa.current_session, UserSession)
    assert_type(fsa.current_session.id, str)
    assert_type(fsa.current_session.user_id, t.Any)
    assert_type(fsa.current_session.remember, bool)
    assert_type(fsa.current_session.expires_at, dt.datetime)
    assert_type(fsa.current_session.last_active_at, dt.datetime | None)
    assert_type(fsa.current_session.ip_address, str | None)


def queries(auth: SessionAuth[User]) -> None:
    # On the class, a column is a SQL expression; on a row, its value.
    model = auth.session_model
    assert_type(model.id, InstrumentedAttribute[str])
    assert_type(model.expires_at, InstrumentedAttribute[dt.datetime])
    sa.select(model).where(model.user_id == 1, model.remember.is_(True)).order_by(model.last_active_at.desc())


def decorators() -> None:
    def page(name: str) -> str:
        return name

    async def async_page() -> int:
        return 1

    view: t.Callable[[str], str] = page
    async_view: t.Callable[[], t.Coroutine[t.Any, t.Any, int]] = async_page

    assert_type(fsa.login_required(view), t.Callable[[str], str])
    assert_type(fsa.fresh_login_required(view), t.Callable[[str], str])
    assert_type(fsa.sensitive(view), t.Callable[[str], str])
    assert_type(fsa.login_required(async_view), t.Callable[[], t.Coroutine[t.Any, t.Any, int]])


def errors() -> None:
    try:
        pass
    except fsa.RateLimited as error:
        assert_type(error.retry_after, int)
        assert_type(error.status, int)
        assert_type(error.code, str)
        assert_type(error.message, str)
