"""``mypy --strict tests/typing/check_public_api.py`` prints what the public API
reveals to a type checker (the issue's reveal table). Not a test: pytest does
not collect it (no ``test_`` prefix); ``test_public_api.py`` asserts the types."""

from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from typing_extensions import reveal_type

import flask_sessionauth as fsa


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class User(fsa.UserMixin, Base):  # an app writes db.Model; mypy sees Base (Flask-SQLAlchemy's docs)
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    password_hash: Mapped[str]


app = Flask(__name__)
auth = fsa.SessionAuth(app, db=db, user_model=User)
user = User(email="a@example.com", password_hash="x")


def view() -> str:
    return "ok"


reveal_type(auth)
reveal_type(auth.login_user(user))
reveal_type(auth.get_session())
reveal_type(auth.list_sessions())
reveal_type(auth.revoke_session("id"))
reveal_type(auth.revoke_sessions())
reveal_type(auth.revoke_other_sessions())
reveal_type(auth.change_password(user, "old", "new"))
reveal_type(auth.set_password(user, "new"))
reveal_type(auth.reauthenticate("pw"))
reveal_type(auth.authenticate("a@example.com", "pw"))
reveal_type(auth.create_user("a@example.com", "pw"))
reveal_type(auth.hash_password("pw"))
reveal_type(auth.verify_password(user, "pw"))
reveal_type(auth.cleanup_expired())
reveal_type(auth.session_model)
reveal_type(fsa.current_user)
reveal_type(fsa.current_user.is_authenticated)
reveal_type(fsa.current_session)
reveal_type(fsa.current_session.expires_at)
reveal_type(fsa.login_required(view))
reveal_type(fsa.fresh_login_required(view))
reveal_type(fsa.sensitive(view))
reveal_type(fsa.RateLimited(60).retry_after)
