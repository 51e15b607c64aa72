"""flask-sessionauth demo: sign up, sign in, see and sign out your devices.

Run it with ``bash scripts/demo`` (sets everything up) or, in a prepared venv,
``python examples/demo.py``. Data lives in ``examples/demo.db`` (SQLite).
"""

from __future__ import annotations

import collections
import os
import secrets
import statistics
import sys
import threading
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from flask_sessionauth import PasswordPolicyError
from flask_sessionauth import SessionAuth
from flask_sessionauth import current_session

HERE = Path(__file__).resolve().parent
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo password 123"

db = SQLAlchemy()
auth = SessionAuth()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(320), unique=True, nullable=False)
    name = sa.Column(sa.String(100), nullable=False, default="")
    password_hash = sa.Column(sa.String(255), nullable=False)
    is_active = sa.Column(sa.Boolean, nullable=False, default=True)


class SignupForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name", validators=[DataRequired(), Length(max=100)], render_kw={"autocomplete": "name"})
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)], render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "new-password"})


class SignupTimer:
    """Pads both sign-up answers (new address, taken address) to one duration.

    Creating an account (a hash, two inserts, a session) is the longer path; a
    taken address only hashes. Both answers wait until 1.25 × the median of the
    last 15 account creations, so the time does not tell them apart (the same
    idea as the extension's failed sign-ins, in a dozen lines).
    """

    def __init__(self) -> None:
        self._samples: collections.deque[float] = collections.deque(maxlen=15)
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self._samples.append(seconds)

    def pad(self, started: float) -> None:
        with self._lock:
            floor = 1.25 * statistics.median(self._samples) if self._samples else 0.0
        remaining = started + floor - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)


def create_app(config: dict[str, t.Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(HERE / "templates"))
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        SQLALCHEMY_DATABASE_URI=os.environ.get("DATABASE_URL", f"sqlite:///{HERE / 'demo.db'}"),
        # Secure __Host- cookies work on http://127.0.0.1 in Chromium and Firefox
        # (a "potentially trustworthy" origin). DEMO_INSECURE_COOKIES=1 opts out for
        # browsers that refuse them on plain http; never do that in production.
        SESSIONAUTH_COOKIE_SECURE=os.environ.get("DEMO_INSECURE_COOKIES") != "1",
        SESSIONAUTH_HOME_ENDPOINT="home",
        SESSIONAUTH_LOGIN_LINKS=[("Create an account", "signup")],
    )
    app.config.update(config or {})
    db.init_app(app)
    auth.init_app(app, db=db, user_model=User)

    @app.get("/")
    def home() -> t.Any:
        return render_template("demo/home.html", session=current_session)

    @app.route("/signup", methods=["GET", "POST"])
    def signup() -> t.Any:
        form = SignupForm()
        if form.validate_on_submit():
            started = time.perf_counter()
            # The policy first, so a taken address gets the same form errors as a new one.
            try:
                auth.hasher.check_policy(form.password.data)
            except PasswordPolicyError as exc:
                form.password.errors.append(exc.message)
                return render_template("demo/signup.html", form=form)
            if auth.find_user(form.email.data) is not None:
                # The same hashing work as creating the account below, the same
                # duration (issue 10.4: a taken address must not answer faster), and
                # never "taken". A real app would email the owner ("someone tried to
                # sign up with your address; sign in or reset your password") and
                # answer every sign-up with "check your email"; the demo signs a new
                # address in at once, so the next page differs.
                auth.hash_password(form.password.data)
                flash("Check your email to finish signing up.", "success")
                signup_timer.pad(started)
                return redirect(url_for("home"))
            user = auth.create_user(form.email.data, form.password.data, name=form.name.data)
            auth.login_user(user)
            signup_timer.record(time.perf_counter() - started)
            flash(f"Welcome, {user.name}!", "success")
            signup_timer.pad(started)
            return redirect(url_for("home"))
        return render_template("demo/signup.html", form=form)

    signup_timer = SignupTimer()
    with app.app_context():
        db.create_all()
        if auth.find_user(DEMO_EMAIL) is None:
            started = time.perf_counter()
            auth.create_user(DEMO_EMAIL, DEMO_PASSWORD, name="Demo User")
            signup_timer.record(time.perf_counter() - started)  # a first estimate
    return app


def main() -> None:
    host, port = "127.0.0.1", int(os.environ.get("PORT", "5000"))
    app = create_app()
    print(f"\n  flask-sessionauth demo running at http://{host}:{port}/", file=sys.stderr)
    print(f"  Sign in with {DEMO_EMAIL} / {DEMO_PASSWORD} (or sign up).", file=sys.stderr)
    print("  Open it in two browsers to see both devices on /account/devices.", file=sys.stderr)
    print("  (If sign-in does not stick in your browser, run with DEMO_INSECURE_COOKIES=1.)\n", file=sys.stderr)
    app.run(host=host, port=port, debug=False)


if __name__ == "__main__":
    main()
