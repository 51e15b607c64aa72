"""``current_user`` behaves exactly like ``db.session.get(User, id)``, in every storage mode.

Its own models (a relationship, a deferred column, a SQL-expression column
property) on its own ``SQLAlchemy()``, since the shared test ``User`` has none;
with them ``current_user`` comes from ``db.session.get`` (the fast path is for
plain mappings: ``test_current_user_exact.py`` compares the two).
Each view checks, in one request: the object is a real ``User``; it is the
identity-map instance of ``db.session`` whether the app created the session
before or after reading ``current_user`` (or never did until an unloaded
attribute was read); relationships, deferred and expression columns load;
changes made through it commit with ``db.session.commit()``.
"""

from __future__ import annotations

import logging
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import orm

from flask_sessionauth import SessionAuth
from flask_sessionauth import current_user
from flask_sessionauth import login_required
from tests.conftest import EVERY_STORAGE
from tests.conftest import FAST_HASH
from tests.conftest import dispose
from tests.helpers import PASSWORD

sdb = SQLAlchemy()


class Author(sdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "authors"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    is_active = sa.Column(sa.Boolean, nullable=False, default=True)
    name = sa.Column(sa.String(100))
    bio = orm.deferred(sa.Column(sa.Text))
    shout = orm.column_property(sa.func.upper(email))
    posts = orm.relationship("Post", back_populates="author", order_by="Post.id")

    loaded_by_orm = False

    @orm.reconstructor
    def _on_load(self) -> None:
        self.loaded_by_orm = True


class Post(sdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "posts"
    id = sa.Column(sa.Integer, primary_key=True)
    author_id = sa.Column(sa.ForeignKey("authors.id"), nullable=False)
    title = sa.Column(sa.String(100), nullable=False)
    author = orm.relationship(Author, back_populates="posts")


pytestmark = pytest.mark.storage(*EVERY_STORAGE)


@pytest.fixture
def sapp(storage_config: dict[str, t.Any]) -> t.Iterator[Flask]:
    config: dict[str, t.Any] = {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS": FAST_HASH,
        "SESSIONAUTH_COOKIE_SECURE": False,
        "SESSIONAUTH_TABLE_NAME": "author_session",
        **storage_config,
    }
    app = Flask(__name__)
    app.config.update(config)
    sdb.init_app(app)
    SessionAuth(app, db=sdb, user_model=Author)
    _views(app)
    with app.app_context():
        sdb.drop_all()
        sdb.create_all()
        author = Author(email="ada@example.com", password_hash=app.extensions["sessionauth"].hash_password(PASSWORD))
        author.bio = "wrote the first program"
        author.posts = [Post(title="notes"), Post(title="sketch")]
        sdb.session.add(author)
        sdb.session.commit()
    yield app
    with app.app_context():
        sdb.session.remove()
        sdb.drop_all()
    dispose(app)


def _views(app: Flask) -> None:
    @app.post("/login")
    def login() -> t.Any:
        app.extensions["sessionauth"].login_user(sdb.session.get(Author, 1))
        return "ok"

    @app.get("/after")  # the app's session is created after current_user is read
    @login_required
    def after() -> t.Any:
        user = current_user._get_current_object()
        same = user is sdb.session.get(Author, user.id)
        return jsonify(type=type(user).__name__, same=same, email=user.email, orm=user.loaded_by_orm)

    @app.get("/before")  # ... and before
    @login_required
    def before() -> t.Any:
        got = sdb.session.get(Author, 1)
        return jsonify(same=current_user._get_current_object() is got)

    @app.get("/lazy")  # unloaded attributes first, no db.session use before them
    @login_required
    def lazy() -> t.Any:
        user = current_user._get_current_object()
        titles = [p.title for p in user.posts]
        return jsonify(
            titles=titles,
            bio=user.bio,
            shout=user.shout,
            same=user is sdb.session.get(Author, user.id),
            back=user.posts[0].author is user,
        )

    @app.post("/rename")  # a change made before the session exists
    @login_required
    def rename() -> t.Any:
        current_user.name = "Ada L."
        sdb.session.commit()
        return "ok"

    @app.post("/post")
    @login_required
    def post() -> t.Any:
        current_user.posts.append(Post(title="more"))
        sdb.session.commit()
        return "ok"

    @app.get("/name")
    @login_required
    def name() -> t.Any:
        return jsonify(name=current_user.name, posts=len(current_user.posts))


def test_current_user_is_the_session_instance(sapp: Flask) -> None:
    client = sapp.test_client()
    assert client.post("/login").status_code == 200
    for _ in range(2):  # the second request is a cookie-cache / Redis hit
        assert client.get("/after").json == {"type": "Author", "same": True, "email": "ada@example.com", "orm": True}
        assert client.get("/before").json == {"same": True}
        assert client.get("/lazy").json == {
            "titles": ["notes", "sketch"],
            "bio": "wrote the first program",
            "shout": "ADA@EXAMPLE.COM",
            "same": True,
            "back": True,
        }


def test_changes_through_current_user_commit(sapp: Flask) -> None:
    client = sapp.test_client()
    client.post("/login")
    assert client.post("/rename").status_code == 200
    assert client.post("/post").status_code == 200
    assert client.get("/name").json == {"name": "Ada L.", "posts": 3}
    with sapp.app_context():
        assert sdb.session.get(Author, 1).name == "Ada L."


def test_the_fast_path_internals_are_there() -> None:
    """Fails loudly when an upgrade removes an internal ``orm_fastpath`` uses
    (``current_user`` then loads through ``db.session.get``: slower, correct)."""
    from flask_sessionauth.storage import orm_fastpath

    orm_fastpath.check()


def test_a_model_the_fast_path_cannot_build_exactly_says_why(sapp: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """``Author`` has an SQL-expression column: ``current_user`` comes from ``db.session.get``
    (the tests above pass through it), and ``init_app`` says so."""
    assert sapp.extensions["sessionauth"].state_for(sapp).objects.fast is False
    again = Flask(__name__)
    again.config.update(sapp.config)
    sdb.init_app(again)
    with caplog.at_level(logging.INFO, logger="flask_sessionauth"):
        SessionAuth(again, db=sdb, user_model=Author)
    dispose(again)
    assert "current_user for Author loads through db.session.get: 'shout': an SQL expression" in caplog.text
