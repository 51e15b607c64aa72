"""Migrations that run: Flask-Migrate's own commands, and the documented one.

``flask db init && flask db migrate && flask db upgrade`` on an app that
knows nothing of migrations beyond ``Migrate(app, db)`` (no ``env.py`` edit),
from an empty database, on SQLite and PostgreSQL; then a second ``migrate``
finds nothing to change, signing in works (the counter table is there) and
``downgrade base`` removes every table. The hand-written migration of
docs/storage.md creates exactly what the models declare. The package's tables
are read from the metadata, never listed here, so a new table is covered.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import typing as t
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations

from tests.conftest import POSTGRES_URL
from tests.conftest import require
from tests.helpers import PASSWORD

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

#: A user's app, as the Quick start and Flask-Migrate's docs write it.
APP_SOURCE = textwrap.dedent(
    """
    import os

    import sqlalchemy as sa
    from flask import Flask
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy

    from flask_sessionauth import SessionAuth

    db = SQLAlchemy()
    migrate = Migrate()
    auth = SessionAuth()


    class User(db.Model):
        __tablename__ = "users"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String(320), unique=True, nullable=False)
        password_hash = sa.Column(sa.String(255), nullable=False)
        is_active = sa.Column(sa.Boolean, nullable=False, default=True)


    def render_email_as_unicode(kind, obj, autogen_context):  # the app's own render_item
        if kind == "type" and isinstance(obj, sa.String) and obj.length == 320:
            return "sa.Unicode(length=320)"
        return False


    def create_app():
        app = Flask(__name__)
        app.config["SECRET_KEY"] = "migrations-test"
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
        app.config["SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS"] = {
            "argon2__memory_cost": 1024, "argon2__time_cost": 1, "argon2__parallelism": 1
        }
        db.init_app(app)
        hooks = {"render_item": render_email_as_unicode} if os.environ.get("SESSIONAUTH_TEST_RENDER_ITEM") else {}
        migrate.init_app(app, db, **hooks)
        auth.init_app(app, db=db, user_model=User)
        return app
    """
)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> t.Iterator[str]:
    """An empty database of its own (a private PostgreSQL database, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    require("postgres")
    name = f"sessionauth_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load_app_module(path: pathlib.Path) -> t.Any:
    """Import the user's app module written to ``path`` (a fresh module each time)."""
    spec = importlib.util.spec_from_file_location(f"migrating_app_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flask_db(tmp_path: pathlib.Path, url: str, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """``flask --app migrating_app db …`` in ``tmp_path``, as a user types it."""
    # The package of this checkout, as in the test process (not whichever one the venv installed).
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": os.pathsep.join((str(tmp_path), str(ROOT))), **env_vars}
    command = [sys.executable, "-m", "flask", "--app", "migrating_app:create_app", "db", *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def sign_in_works(app: t.Any, email: str) -> None:
    """A failed then a successful sign-in: both count on the throttle table,
    the second writes a session row."""
    auth = app.extensions["sessionauth"]
    with app.test_request_context("/", method="POST", environ_base={"REMOTE_ADDR": "192.0.2.1"}):
        assert auth.authenticate(email, "not the password") is None
        user = auth.authenticate(email, PASSWORD)
        assert user is not None
        session, user_id = auth.login_user(user), user.id
    with app.app_context():
        assert [s.id for s in auth.list_sessions(user_id)] == [session.id]


def package_tables(app_module: t.Any) -> set[str]:
    """The tables flask-sessionauth added to the app's metadata."""
    return set(app_module.db.metadata.tables) - {"users"}


def test_flask_db_init_migrate_upgrade_downgrade(
    tmp_path: pathlib.Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "migrating_app.py").write_text(APP_SOURCE)
    for step in (["init"], ["migrate", "-m", "initial"], ["upgrade"]):
        result = flask_db(tmp_path, database_url, *step)
        assert result.returncode == 0, f"flask db {step[0]}:\n{result.stdout}\n{result.stderr}"
    [script] = (tmp_path / "migrations" / "versions").glob("*.py")

    monkeypatch.setenv("DATABASE_URL", database_url)
    app_module = load_app_module(tmp_path / "migrating_app.py")
    app = app_module.create_app()
    ours = package_tables(app_module)
    assert {"user_session", "sessionauth_throttle"} <= ours
    assert table_names(database_url) == ours | {"users", "alembic_version"}
    with app.app_context():
        app.extensions["sessionauth"].create_user("ada@example.com", PASSWORD)
    sign_in_works(app, "ada@example.com")
    with app.app_context():
        app_module.db.engine.dispose()

    # The models and the migrated schema agree: nothing left to migrate.
    again = flask_db(tmp_path, database_url, "migrate", "-m", "nothing")
    assert again.returncode == 0, again.stderr
    assert "No changes in schema detected" in again.stdout + again.stderr
    assert list((tmp_path / "migrations" / "versions").glob("*.py")) == [script]

    down = flask_db(tmp_path, database_url, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert table_names(database_url) == {"alembic_version"}


def test_an_apps_own_render_item_still_applies(tmp_path: pathlib.Path) -> None:
    """Our rendering is chained in front of the app's ``render_item``, never instead of it."""
    (tmp_path / "migrating_app.py").write_text(APP_SOURCE)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    for step in (["init"], ["migrate"], ["upgrade"]):
        result = flask_db(tmp_path, url, *step, SESSIONAUTH_TEST_RENDER_ITEM="1")
        assert result.returncode == 0, f"flask db {step[0]}:\n{result.stdout}\n{result.stderr}"
    [script] = (tmp_path / "migrations" / "versions").glob("*.py")
    source = script.read_text()
    assert "sa.Column('email', sa.Unicode(length=320)" in source
    assert "sa.Column('expires_at', sa.DateTime(timezone=True)" in source
    assert "UTCDateTime" not in source


def documented_migration(marker: str = "op.create_table") -> str:
    """A hand-written migration of docs/storage.md (the ``def upgrade`` block
    with ``marker``: the whole schema, or the upgrade adding columns)."""
    text = (ROOT / "docs" / "storage.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def upgrade" in b and marker in b]
    assert len(blocks) == 1, f"docs/storage.md should show one hand-written migration with {marker}"
    return blocks[0]


def documented_app(tmp_path: pathlib.Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> t.Any:
    """The user's app module, on ``database_url``, nothing created yet."""
    (tmp_path / "migrating_app.py").write_text(APP_SOURCE)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return load_app_module(tmp_path / "migrating_app.py")


def documented(marker: str = "op.create_table") -> dict[str, t.Any]:
    """The namespace of a documented migration (``upgrade``, ``downgrade``, ...)."""
    namespace: dict[str, t.Any] = {}
    exec(compile(documented_migration(marker), "docs/storage.md", "exec"), namespace)
    return namespace


def run_operations(engine: sa.Engine, *steps: t.Callable[[], None]) -> None:
    """Run migration functions as Alembic would, in one transaction."""
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        for step in steps:
            step()


def assert_models_match(engine: sa.Engine, metadata: sa.MetaData) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []


def test_documented_migration_creates_what_the_models_declare(
    tmp_path: pathlib.Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_module = documented_app(tmp_path, database_url, monkeypatch)
    app = app_module.create_app()
    namespace = documented()
    with app.app_context():
        metadata = app_module.db.metadata
        engine = app_module.db.engine
        run_operations(engine, lambda: metadata.tables["users"].create(op_connection()), namespace["upgrade"])
        assert_models_match(engine, metadata)
        app.extensions["sessionauth"].create_user("ada@example.com", PASSWORD)
    sign_in_works(app, "ada@example.com")
    with app.app_context():
        app_module.db.session.remove()
        run_operations(engine, namespace["downgrade"])
        engine.dispose()
    assert table_names(database_url) == {"users"}


def op_connection() -> t.Any:
    """The connection of the migration being run (inside :func:`run_operations`)."""
    from alembic import op

    return op.get_bind()


def test_documented_upgrade_adds_location_and_device_name(
    tmp_path: pathlib.Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the previous release's schema (the whole-schema migration, then the
    upgrade's own downgrade), the documented upgrade gives what the models
    declare, and signing in works; its downgrade takes the columns away again."""
    app_module = documented_app(tmp_path, database_url, monkeypatch)
    app = app_module.create_app()
    schema, step = documented(), documented("op.add_column")
    added = {name for name, _ in step["COLUMNS"]}
    assert added == {"country", "region", "city", "device_name"}

    def columns(engine: sa.Engine) -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns("user_session")}

    with app.app_context():
        metadata = app_module.db.metadata
        engine = app_module.db.engine
        run_operations(
            engine,
            lambda: metadata.tables["users"].create(op_connection()),
            schema["upgrade"],
            step["downgrade"],  # the schema before this release
        )
        assert not columns(engine) & added
        run_operations(engine, step["upgrade"])
        assert_models_match(engine, metadata)
        app.extensions["sessionauth"].create_user("ada@example.com", PASSWORD)
    sign_in_works(app, "ada@example.com")
    with app.app_context():
        app_module.db.session.remove()
        run_operations(engine, step["downgrade"])
        assert not columns(engine) & added
        engine.dispose()
