"""Differential test: ``current_user`` is exactly what ``db.session.get`` returns.

For every mapping feature an app may give its user model (single-table,
joined-table and concrete inheritance with polymorphic loading, a
TypeDecorator that maps NULL to a value, ``column_property``, deferred
columns, hybrids, composites, a version counter, ``@reconstructor``, a load
listener), one app per model signs in and compares, field by field, a
fingerprint of ``current_user`` with the same fingerprint of
``db.session.get(Model, id)`` taken in a request that never reads
``current_user``: class, every mapped attribute's value, which attributes
are loaded, identity-map membership, the session it belongs to, the events
fired. Where the extension cannot build the instance exactly, it must not use
its fast path for that model (decided at ``init_app``); the plain model must
keep it.
"""

from __future__ import annotations

import dataclasses
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from flask import g
from flask import jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy import orm
from sqlalchemy.ext.declarative import ConcreteBase
from sqlalchemy.ext.hybrid import HybridExtensionType
from sqlalchemy.ext.hybrid import hybrid_property

from flask_sessionauth import SessionAuth
from flask_sessionauth import current_session
from flask_sessionauth import current_user
from flask_sessionauth import login_required
from tests.conftest import EVERY_STORAGE
from tests.conftest import FAST_HASH
from tests.conftest import dispose

xdb = SQLAlchemy()


class Credentials:
    """The columns the extension needs on every user model."""

    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False, default="x")
    is_active = sa.Column(sa.Boolean, nullable=False, default=True)
    name = sa.Column(sa.String(100))


class Plain(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "x_plain"
    id = sa.Column(sa.Integer, primary_key=True)
    notes = orm.relationship("Note", order_by="Note.id")


class Note(xdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "x_note"
    id = sa.Column(sa.Integer, primary_key=True)
    plain_id = sa.Column(sa.ForeignKey("x_plain.id"), nullable=False)
    text = sa.Column(sa.String(100), nullable=False)

    def __repr__(self) -> str:
        return f"<Note {self.id} {self.text}>"


class Member(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    """Single-table inheritance, polymorphic on ``kind``."""

    __tablename__ = "x_member"
    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(20), nullable=False)
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "member"}

    def can_upload(self) -> bool:
        return True


class Restricted(Member):
    __mapper_args__ = {"polymorphic_identity": "restricted"}

    def can_upload(self) -> bool:
        return False


class Person(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    """Joined-table inheritance."""

    __tablename__ = "x_person"
    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(20), nullable=False)
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "person"}


class Staff(Person):
    __tablename__ = "x_staff"
    id = sa.Column(sa.ForeignKey("x_person.id"), primary_key=True)
    badge = sa.Column(sa.String(20))
    __mapper_args__ = {"polymorphic_identity": "staff"}


class Account(ConcreteBase, Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    """Concrete inheritance, loaded through a polymorphic union."""

    __tablename__ = "x_account"
    id = sa.Column(sa.Integer, primary_key=True)
    __mapper_args__ = {"polymorphic_identity": "account", "concrete": True}


class Visitor(Account):
    __tablename__ = "x_visitor"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False, default="x")
    is_active = sa.Column(sa.Boolean, nullable=False, default=True)
    name = sa.Column(sa.String(100))
    __mapper_args__ = {"polymorphic_identity": "visitor", "concrete": True}


class Role(sa.TypeDecorator[str]):
    """NULL in the database means "guest"."""

    impl = sa.String(20)
    cache_ok = True

    def process_result_value(self, value: t.Any, dialect: sa.Dialect) -> str:
        return "guest" if value is None else str(value)


class Roled(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "x_roled"
    id = sa.Column(sa.Integer, primary_key=True)
    role = sa.Column(Role, nullable=True)


class Rich(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    """An SQL-expression column property, a deferred column, a hybrid."""

    __tablename__ = "x_rich"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    bio = orm.deferred(sa.Column(sa.Text))
    shout = orm.column_property(sa.func.upper(email))

    @hybrid_property
    def display(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclasses.dataclass
class Point:
    x: int | None
    y: int | None


class Located(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "x_located"
    id = sa.Column(sa.Integer, primary_key=True)
    x = sa.Column(sa.Integer)
    y = sa.Column(sa.Integer)
    point = orm.composite(Point, x, y)


class Balanced(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    """A numeric column (its converter depends on the driver's column type)."""

    __tablename__ = "x_balanced"
    id = sa.Column(sa.Integer, primary_key=True)
    balance = sa.Column(sa.Numeric(10, 2))


class Versioned(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "x_versioned"
    id = sa.Column(sa.Integer, primary_key=True)
    version = sa.Column(sa.Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class Rebuilt(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    """``@reconstructor`` and a hybrid, on a plain mapping (the fast path)."""

    __tablename__ = "x_rebuilt"
    id = sa.Column(sa.Integer, primary_key=True)
    rebuilt = False

    @orm.reconstructor
    def _rebuild(self) -> None:
        self.rebuilt = True

    @hybrid_property
    def handle(self) -> str:
        return self.email.split("@")[0]


class Evented(Credentials, xdb.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "x_evented"
    id = sa.Column(sa.Integer, primary_key=True)


@event.listens_for(Evented, "load")
def _loaded(target: t.Any, context: t.Any) -> None:
    g.setdefault("events", []).append(f"load {type(target).__name__} {type(context).__name__}")


class Case(t.NamedTuple):
    model: t.Any  # the app's user_model
    row: t.Callable[[], t.Any]  # the signed-in user
    fast: bool  # whether the fast path may be used for this model


CASES = {
    "plain": Case(Plain, lambda: Plain(id=1, email="a@example.com", name="Ada", notes=[Note(text="n")]), fast=True),
    "numeric": Case(Balanced, lambda: Balanced(id=1, email="m@example.com", balance=12.5), fast=False),
    "single_table": Case(Member, lambda: Restricted(id=1, email="r@example.com"), fast=False),
    "joined_table": Case(Person, lambda: Staff(id=1, email="s@example.com", badge="B7"), fast=False),
    "concrete": Case(Account, lambda: Account(id=1, email="c@example.com"), fast=False),
    "null_type": Case(Roled, lambda: Roled(id=1, email="n@example.com", role=None), fast=True),
    "expressions": Case(Rich, lambda: Rich(id=1, email="e@example.com", name="E", bio="long"), fast=False),
    "composite": Case(Located, lambda: Located(id=1, email="p@example.com", point=Point(3, 4)), fast=False),
    "version": Case(Versioned, lambda: Versioned(id=1, email="v@example.com"), fast=False),
    "reconstructor": Case(Rebuilt, lambda: Rebuilt(id=1, email="b@example.com"), fast=True),
    "load_event": Case(Evented, lambda: Evented(id=1, email="l@example.com"), fast=False),
}

pytestmark = [
    pytest.mark.storage(*EVERY_STORAGE),
    # One ``UserSession`` class per user model on the shared ``xdb`` (a table each).
    pytest.mark.filterwarnings("ignore:This declarative base already contains a class"),
]


def fingerprint(user: t.Any, model: t.Any) -> dict[str, t.Any]:
    """Everything an app can observe of a freshly loaded user, before and after use."""
    state = sa.inspect(user)
    mapper = state.mapper
    seen: dict[str, t.Any] = {
        "type": type(user).__name__,
        "unloaded": sorted(state.unloaded),
        "persistent": state.persistent,
        "own_session": orm.object_session(user) is xdb.session(),
        "modified": state.modified,
        "events": list(g.get("events", [])),
    }
    pk = mapper.primary_key_from_instance(user)
    seen["identity"] = [xdb.session.get(model, pk) is user, xdb.session.get(type(user), pk) is user]
    for prop in mapper.attrs:
        if isinstance(prop, orm.RelationshipProperty):
            seen[prop.key] = repr(list(getattr(user, prop.key)))  # loads through the user's session
        else:
            seen[prop.key] = _read(user, prop.key)
    for name, descriptor in mapper.all_orm_descriptors.items():
        if getattr(descriptor, "extension_type", None) is HybridExtensionType.HYBRID_PROPERTY:
            seen[name] = _read(user, name)
    for name in ("can_upload",):
        if hasattr(user, name):
            seen[name] = getattr(user, name)()
    seen["rebuilt"] = getattr(user, "rebuilt", None)
    seen["events_after"] = list(g.get("events", []))
    return seen


def _read(obj: t.Any, name: str) -> str:
    try:
        return repr(getattr(obj, name))
    except AttributeError as exc:  # ConcreteBase's ``type``: mapped, never set on the base
        return f"AttributeError: {exc}"


def make_app(case: Case, storage_config: dict[str, t.Any], **config: t.Any) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test",
        SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS=FAST_HASH,
        SESSIONAUTH_COOKIE_SECURE=False,
        SESSIONAUTH_TABLE_NAME=f"{case.model.__tablename__}_session",
        **storage_config,
        **config,
    )
    xdb.init_app(app)
    SessionAuth(app, db=xdb, user_model=case.model)
    model = case.model

    @app.post("/login")
    def login() -> t.Any:
        app.extensions["sessionauth"].login_user(xdb.session.get(model, 1))
        return "ok"

    @app.get("/current")
    @login_required
    def from_current_user() -> t.Any:
        return jsonify(fingerprint(current_user._get_current_object(), model))

    @app.get("/get")
    @login_required
    def from_session_get() -> t.Any:  # never reads current_user
        return jsonify(fingerprint(xdb.session.get(model, current_session.user_id), model))

    @app.post("/rename")
    @login_required
    def rename() -> t.Any:
        current_user.name = "renamed"
        xdb.session.commit()
        return "ok"

    with app.app_context():
        xdb.drop_all()
        xdb.create_all()
        xdb.session.add(case.row())
        xdb.session.commit()
    return app


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


@pytest.fixture
def xapp(case: Case, storage_config: dict[str, t.Any]) -> t.Iterator[Flask]:
    app = make_app(case, storage_config)
    yield app
    dispose(app, drop=True)


def test_current_user_is_what_session_get_returns(xapp: Flask, case: Case) -> None:
    client = xapp.test_client()
    assert client.post("/login").status_code == 200
    for _ in range(2):  # the second request is a cookie-cache / Redis hit
        expected = client.get("/get").json
        assert client.get("/current").json == expected
    assert client.post("/rename").status_code == 200
    after = client.get("/get").json
    assert after["name"] == repr("renamed")
    assert client.get("/current").json == after


def test_the_fast_path_is_used_only_where_exact(xapp: Flask, case: Case) -> None:
    assert xapp.extensions["sessionauth"].state_for(xapp).objects.fast is case.fast


def test_a_restricted_account_keeps_its_override(xapp: Flask, case: Case) -> None:
    if case.model is not Member:
        pytest.skip("the single-table case")
    client = xapp.test_client()
    client.post("/login")
    assert client.get("/current").json["can_upload"] is False


def test_session_events_fire_as_for_session_get(storage_config: dict[str, t.Any]) -> None:
    """With a listener on the app's session events, both paths fire the same ones."""
    app = make_app(CASES["plain"], storage_config)
    names = ("loaded_as_persistent", "after_attach", "detached_to_persistent", "do_orm_execute")
    listeners = {name: _recorder(name) for name in names}
    for name, fn in listeners.items():
        event.listen(xdb.session, name, fn)
    try:
        client = app.test_client()
        client.post("/login")
        expected = client.get("/get").json
        assert "loaded_as_persistent" in expected["events"]
        assert client.get("/current").json == expected
    finally:
        for name, fn in listeners.items():
            event.remove(xdb.session, name, fn)
        dispose(app, drop=True)


def _recorder(name: str) -> t.Callable[..., None]:
    def record(*_args: t.Any) -> None:
        g.setdefault("events", []).append(name)

    return record


def test_the_setting_switches_the_fast_path_off(storage_config: dict[str, t.Any]) -> None:
    app = make_app(CASES["plain"], storage_config, SESSIONAUTH_USER_FASTPATH=False)
    try:
        assert app.extensions["sessionauth"].state_for(app).objects.fast is False
        client = app.test_client()
        client.post("/login")
        assert client.get("/current").json == client.get("/get").json
    finally:
        dispose(app, drop=True)
