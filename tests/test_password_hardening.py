"""Equal-cost failures, legacy formats and bcrypt out of the box (issue 10 items 4, 14, 15; checklist 25-26).

Equal cost is tested by counting work, never by wall-clock seconds: a ``Meter``
replaces the hasher's clock and sleep with a simulated clock, wraps passlib's
``verify_and_update``/``dummy_verify`` and Werkzeug's ``check_password_hash``
(the real ones still run), records every hashing operation and advances the
simulated clock by a fixed cost per scheme. Every failure path must then make
exactly one hashing call followed by one padding sleep, and last exactly the
same simulated time. ``bench/timing.py`` measures the real seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import typing as t

import pytest
import werkzeug.security
from passlib.hash import bcrypt
from passlib.hash import pbkdf2_sha256
from werkzeug.security import generate_password_hash

from flask_sessionauth import LegacyVerifier
from flask_sessionauth import Verification
from flask_sessionauth.core.cost_book import CostBook
from flask_sessionauth.core.passwords import PasswordHasher
from tests.conftest import FAST_HASH
from tests.conftest import User
from tests.conftest import db
from tests.helpers import PASSWORD

WRONG = "wrong horse battery staple"
CURRENT_PARAMS = "m=1024,t=1,p=1"  # conftest's FAST_HASH
# Simulated seconds per verification: bcrypt slower and PBKDF2 faster than argon2, as in production.
COSTS = {
    "argon2": 0.020,
    "bcrypt": 0.240,
    "pbkdf2_sha256": 0.008,
    "werkzeug": 0.097,
    "sha256salted": 0.001,
    "slow": 0.8,
}
UNPROCESSABLE = ["\ud800", "pass\udfffword here", "nul\x00password", "x" * 257, "x" * 10_000]
API = "/api/auth"
ORIGIN = "http://localhost"


class Meter:
    """Count the hasher's work and simulate its time (see the module docstring)."""

    def __init__(self, hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hasher = hasher
        self.now = 1000.0
        self.cpu = 0.0  # hashing advances both clocks, sleeping only ``now``
        self.stretch = 1.0  # wall seconds per CPU second of hashing: > 1 is a busy machine
        self.ops: list[tuple[t.Any, ...]] = []
        monkeypatch.setattr(hasher, "clock", lambda: self.now)
        monkeypatch.setattr(hasher, "cpu_clock", lambda: self.cpu)
        monkeypatch.setattr(hasher, "sleep", self._sleep)
        context = hasher.context
        real_verify, real_dummy = context.verify_and_update, context.dummy_verify
        real_werkzeug = werkzeug.security.check_password_hash

        def verify_and_update(secret: str, stored: str, **kw: t.Any) -> t.Any:
            scheme = context.identify(stored)
            return self._call(real_verify, ("verify", scheme, params(stored), secret), secret, stored, **kw)

        def dummy_verify() -> t.Any:
            return self._call(real_dummy, ("dummy", context.default_scheme(), params(context._dummy_hash), None))

        def check_password_hash(stored: str, secret: str) -> bool:
            op = ("verify", "werkzeug", stored.split("$")[0], secret)
            return bool(self._call(real_werkzeug, op, stored, secret))

        monkeypatch.setattr(context, "verify_and_update", verify_and_update)
        monkeypatch.setattr(context, "dummy_verify", dummy_verify)
        monkeypatch.setattr(werkzeug.security, "check_password_hash", check_password_hash)
        # forget the real timings taken when the hasher was built; time the current scheme again, simulated
        monkeypatch.setattr(hasher, "_costs", CostBook(hasher._costs.max_age, hasher._costs.cap))
        hasher.calibrate([], rounds=1)

    def _call(self, real: t.Callable[..., t.Any], op: tuple[t.Any, ...], *args: t.Any, **kw: t.Any) -> t.Any:
        """Run the real operation; charge its simulated cost only if it did the work.

        The errors a stored hash can cause (unparsable, an unsupported digest, scrypt
        parameters hashlib refuses) are raised before any hashing, so they cost nothing.
        """
        try:
            result = real(*args, **kw)
        except Exception:
            self.ops.append(("raised", *op[1:]))
            raise
        self._op(*op)
        return result

    def _op(self, kind: str, scheme: str, parameters: str, secret: str | None) -> None:
        self.ops.append((kind, scheme, parameters, secret))
        self.now += COSTS[scheme] * self.stretch
        self.cpu += COSTS[scheme]

    def _sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.ops.append(("sleep", round(seconds, 9)))
        self.now += seconds

    def run(self, fn: t.Callable[[], t.Any]) -> tuple[t.Any, list[tuple[t.Any, ...]], float]:
        """Call ``fn``; return its result, the operations and the simulated seconds it took."""
        self.ops = []
        started = self.now
        result = fn()
        return result, self.ops, self.now - started


def params(stored: str) -> str:
    """The cost part of a hash: ``m=..,t=..,p=..`` for argon2, rounds for the others."""
    if stored.startswith("$argon2"):
        return stored.split("$")[3]
    if stored.startswith("$2"):
        return stored.split("$")[2]
    return stored.split("$")[2] if stored.startswith("$pbkdf2") else stored.split("$")[0]


def stored_hash(app: t.Any, user_id: int) -> str:
    with app.app_context():
        return str(db.session.get(User, user_id).password_hash)


def set_hash(app: t.Any, user_id: int, value: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).password_hash = value
        db.session.commit()


def add_user(email: str, stored: str, active: bool = True) -> None:
    db.session.add(User(email=email, password_hash=stored, is_active=active))
    db.session.commit()


def api_sign_in(client: t.Any, email: str, password: t.Any) -> t.Any:
    token = client.get(f"{API}/csrf-token").json["csrfToken"]
    headers = {"Origin": ORIGIN, "X-CSRFToken": token}
    return client.post(f"{API}/sign-in/email", json={"email": email, "password": password}, headers=headers)


def form_sign_in(client: t.Any, email: str, password: str) -> t.Any:
    page = client.get("/account/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    return client.post("/account/login", data={"email": email, "password": password, "csrf_token": token})


def without_tokens(body: bytes) -> str:
    return re.sub(r'(csrf-token" content|name="csrf_token"[^>]*value)="[^"]+"', "", body.decode())


def hasher_of(app: t.Any) -> PasswordHasher:
    with app.app_context():
        return t.cast(PasswordHasher, app.extensions["sessionauth"].hasher)


# -- equal work on every failure path (item 4) ----------------------------------------------


def failure_paths() -> list[tuple[str, str, t.Any]]:
    """(name, email, password) for every failure path the accounts below give."""
    return [
        ("unknown email", "nobody@example.com", WRONG),
        ("wrong password", "alice@example.com", WRONG),
        *[(f"unprocessable {i}, known", "alice@example.com", pw) for i, pw in enumerate(UNPROCESSABLE)],
        *[(f"unprocessable {i}, unknown", "nobody@example.com", pw) for i, pw in enumerate(UNPROCESSABLE)],
        ("not a string, known", "alice@example.com", None),
        ("not a string, unknown", "nobody@example.com", b"bytes"),
        ("email not a string", None, PASSWORD),
        ("right password, inactive account", "inactive@example.com", PASSWORD),
        ("wrong password, inactive account", "inactive@example.com", WRONG),
        ("garbage stored hash", "garbage@example.com", PASSWORD),
        ("empty stored hash", "empty@example.com", PASSWORD),
        ("wrong password, bcrypt", "bcrypt@example.com", WRONG),
        ("100 chars, bcrypt", "bcrypt@example.com", "b" * 100),
        ("lone surrogate, bcrypt", "bcrypt@example.com", "\ud800"),
        ("wrong password, pbkdf2_sha256", "pbkdf2@example.com", WRONG),
        ("wrong password, werkzeug scrypt", "scrypt@example.com", WRONG),
        ("over-long, werkzeug scrypt", "scrypt@example.com", "x" * 300),
    ]


@pytest.fixture
def accounts(app: t.Any, user: t.Any) -> dict[str, str]:
    """One account per kind of stored hash; returns the legacy hashes."""
    legacy = {
        "bcrypt@example.com": bcrypt.using(rounds=4).hash(PASSWORD),
        "pbkdf2@example.com": pbkdf2_sha256.using(rounds=1000).hash(PASSWORD),
        "scrypt@example.com": generate_password_hash(PASSWORD, "scrypt:1024:8:1"),
    }
    with app.app_context():
        for email, stored in legacy.items():
            add_user(email, stored)
        add_user("inactive@example.com", app.extensions["sessionauth"].hash_password(PASSWORD), active=False)
        add_user("garbage@example.com", "not-a-hash")
        add_user("empty@example.com", "")
    return legacy


def test_every_failure_path_does_one_verification_and_lasts_the_floor(app, accounts, monkeypatch):
    auth = app.extensions["sessionauth"]
    meter = Meter(hasher_of(app), monkeypatch)
    with app.app_context():
        floor = hasher_of(app).calibrate(list(accounts.values()))
        # the slowest class (bcrypt, simulated 240 ms) sets the floor, with the margin
        assert floor == pytest.approx(1.25 * COSTS["bcrypt"])
        seen: dict[str, tuple[list[tuple[t.Any, ...]], float]] = {}
        for name, email, password in failure_paths():
            result, ops, elapsed = meter.run(lambda: auth.authenticate(email, password))  # noqa: B023
            assert result is None, name
            seen[name] = (ops, elapsed)

    for name, (ops, elapsed) in seen.items():
        # exactly one hashing operation, then one padding sleep, and the same total time
        assert [op[0] for op in ops] in (["verify", "sleep"], ["dummy", "sleep"]), (name, ops)
        assert elapsed == pytest.approx(floor, abs=1e-9), name

    def hashing(name: str) -> tuple[t.Any, ...]:
        return seen[name][0][0]

    # Known and unknown accounts on the current scheme: one argon2 verification
    # with the configured parameters, whatever the password.
    current = [n for n in seen if not any(k in n for k in ("bcrypt", "pbkdf2", "werkzeug"))]
    for name in current:
        kind, scheme, parameters, _ = hashing(name)
        assert (scheme, parameters) == ("argon2", CURRENT_PARAMS), name
    assert hashing("wrong password")[0] == "verify" and hashing("wrong password")[3] == WRONG
    for name in ("unknown email", "email not a string", "garbage stored hash", "empty stored hash"):
        assert hashing(name)[0] == "dummy", name
    # an inactive account's password is never tested
    assert hashing("right password, inactive account")[0] == "dummy"
    assert hashing("wrong password, inactive account")[0] == "dummy"
    # a password that can never match is not handed to the backend: a substitute is
    # checked against the stored hash, at the cost of a wrong password on that account
    for i in range(len(UNPROCESSABLE)):
        kind, scheme, _, secret = hashing(f"unprocessable {i}, known")
        assert kind == "verify" and secret not in UNPROCESSABLE
        assert hashing(f"unprocessable {i}, unknown")[0] == "dummy"
    for name in ("100 chars, bcrypt", "lone surrogate, bcrypt"):
        kind, scheme, _, secret = hashing(name)
        assert (kind, scheme) == ("verify", "bcrypt") and len(secret.encode()) <= 72 and "\x00" not in secret
    assert hashing("wrong password, bcrypt")[1:] == ("bcrypt", "04", WRONG)
    assert hashing("wrong password, pbkdf2_sha256")[1] == "pbkdf2_sha256"
    assert hashing("wrong password, werkzeug scrypt")[1:3] == ("werkzeug", "scrypt:1024:8:1")
    assert hashing("over-long, werkzeug scrypt")[3] != "x" * 300


def test_unknown_and_wrong_password_on_current_hash_do_identical_work(app, user, monkeypatch):
    """No calibration, no legacy hash: the two make the same calls and last the same."""
    auth = app.extensions["sessionauth"]
    meter = Meter(hasher_of(app), monkeypatch)
    with app.app_context():
        _, unknown, unknown_time = meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))
        _, wrong, wrong_time = meter.run(lambda: auth.authenticate("alice@example.com", WRONG))
        _, surrogate, surrogate_time = meter.run(lambda: auth.authenticate("alice@example.com", "\ud800"))
    assert [op[:3] for op in unknown] == [("dummy", "argon2", CURRENT_PARAMS), ("sleep", 0.005)]
    assert [op[:3] for op in wrong] == [("verify", "argon2", CURRENT_PARAMS), ("sleep", 0.005)]
    assert [op[:3] for op in surrogate] == [op[:3] for op in wrong]
    assert unknown_time == wrong_time == surrogate_time == pytest.approx(1.25 * COSTS["argon2"])


def test_a_slower_legacy_class_raises_the_floor_for_every_path(app, accounts, monkeypatch):
    """Lazily calibrated: until a bcrypt hash was verified the floor is argon2's;
    from then on unknown emails wait as long as bcrypt accounts. The jump at that
    first bcrypt verification is the one visible step, which ``calibrate()`` avoids."""
    auth = app.extensions["sessionauth"]
    meter = Meter(hasher_of(app), monkeypatch)
    with app.app_context():
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(0.025)
        first_bcrypt = meter.run(lambda: auth.authenticate("bcrypt@example.com", WRONG))[2]
        assert first_bcrypt == pytest.approx(1.25 * COSTS["bcrypt"])
        for email in ("nobody@example.com", "alice@example.com", "pbkdf2@example.com", "bcrypt@example.com"):
            assert meter.run(lambda: auth.authenticate(email, WRONG))[2] == pytest.approx(first_bcrypt)  # noqa: B023
    assert hasher_of(app).failure_floor() == pytest.approx(first_bcrypt)


def test_padding_really_sleeps_to_the_minimum(app, user):
    """The real clock and sleep: a failure never returns before the floor."""
    import time

    hasher = hasher_of(app)
    hasher.min_failure_seconds = 0.05
    for stored in (None, stored_hash(app, user.id)):
        started = time.perf_counter()
        assert not hasher.check(WRONG, stored)
        assert time.perf_counter() - started >= 0.05
    started = time.perf_counter()
    assert hasher.check(PASSWORD, stored_hash(app, user.id))
    assert time.perf_counter() - started < 0.05  # success is never padded


@pytest.mark.parametrize("password", UNPROCESSABLE)
def test_unprocessable_password_same_answer_known_and_unknown(app, user, password):
    known = api_sign_in(app.test_client(), "alice@example.com", password)
    unknown = api_sign_in(app.test_client(), "nobody@example.com", password)
    assert known.status_code == unknown.status_code == 401
    assert known.data == unknown.data
    if "\ud800" in password or "\udfff" in password:
        return  # a form cannot carry a lone surrogate; JSON can
    known = app.test_client().post("/test/login", data={"email": "alice@example.com", "password": password})
    unknown = app.test_client().post("/test/login", data={"email": "nobody@example.com", "password": password})
    assert (known.status_code, known.data) == (unknown.status_code, unknown.data) == (401, b"bad credentials")
    # the sign-in page: an error (400 over the maximum, 401 otherwise), the same for both
    known = form_sign_in(app.test_client(), "alice@example.com", password)
    unknown = form_sign_in(app.test_client(), "nobody@example.com", password)
    assert known.status_code == unknown.status_code == (400 if len(password) > 256 else 401)
    page = without_tokens(known.data).replace("alice@example.com", "nobody@example.com")
    assert page == without_tokens(unknown.data)


def test_inactive_account_same_answer_as_unknown(app, accounts):
    inactive = api_sign_in(app.test_client(), "inactive@example.com", PASSWORD)
    unknown = api_sign_in(app.test_client(), "nobody@example.com", PASSWORD)
    assert (inactive.status_code, inactive.data) == (unknown.status_code, unknown.data)


# -- the floor cannot be turned into a denial of service (issue 15 item 5) -------------------


def register_slow(hasher: PasswordHasher, meter: Meter) -> str:
    """A legacy format costing 0.8 s of CPU (a Werkzeug PBKDF2 with many iterations, say); returns a hash."""

    def verify(password: str, stored: str) -> bool:
        meter._op("verify", "slow", "", password)
        return hmac.compare_digest(password, stored.removeprefix("slow$"))

    hasher.register_legacy(lambda s: s.startswith("slow$"), verify, name="slow")
    return f"slow${PASSWORD}"


def test_one_slow_legacy_account_raises_the_floor_only_up_to_the_cap(app, user, monkeypatch, caplog):
    """Before: one failure on a slow account made every failure wait 1.25 × its cost (here
    1 s for 20 ms of work). Now the floor stops at SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX."""
    hasher = hasher_of(app)
    meter = Meter(hasher, monkeypatch)
    with app.app_context():
        add_user("slow@example.com", register_slow(hasher, meter))
        auth = app.extensions["sessionauth"]
        with caplog.at_level(logging.WARNING, logger="flask_sessionauth.core.cost_book"):
            for _ in range(3):
                _, ops, elapsed = meter.run(lambda: auth.authenticate("slow@example.com", WRONG))
                assert [op[:2] for op in ops] == [("verify", "slow")] and elapsed == pytest.approx(0.8)  # no sleep
        assert hasher.failure_floor() == pytest.approx(0.3)
        for email in ("nobody@example.com", "alice@example.com"):
            _, ops, elapsed = meter.run(lambda: auth.authenticate(email, WRONG))  # noqa: B023
            assert [op[0] for op in ops] == ["dummy" if "nobody" in email else "verify", "sleep"]
            # 20 ms of work, held 300 ms at most: 15×, not the 50× of 1.25 × 0.8 s
            assert elapsed == pytest.approx(0.3) and ops[1][1] == pytest.approx(0.28)
    # the one class a timing can tell apart is named once in the log; no hash, no password
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "'slow'" in warnings[0] and "800 ms" in warnings[0]
    assert not any(PASSWORD in m for m in warnings)


@pytest.mark.parametrize("app_config", [{"SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX": 0.1}])
def test_the_cap_is_a_setting(app, accounts, monkeypatch):
    hasher = hasher_of(app)
    meter = Meter(hasher, monkeypatch)
    with app.app_context():
        auth = app.extensions["sessionauth"]
        meter.run(lambda: auth.authenticate("scrypt@example.com", WRONG))  # 97 ms: 121 ms with the margin
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "config",
    [
        {"SESSIONAUTH_PASSWORD_MIN_FAILURE_SECONDS": 0.5, "SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX": 0.2},
        {"SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX": -1},
    ],
)
def test_a_minimum_above_the_cap_is_refused_at_init_app(config):
    from tests.conftest import create_app

    with pytest.raises(ValueError, match="SESSIONAUTH_PASSWORD_FAILURE_FLOOR_MAX"):
        create_app(config)


def test_a_burst_of_slow_concurrent_failures_cannot_ratchet_the_floor(app, accounts, monkeypatch):
    """Before: 43 concurrent failures (each 20× slower on the wall clock than its work) left the
    floor at their wall time for good. CPU time does not grow with contention."""
    hasher = hasher_of(app)
    meter = Meter(hasher, monkeypatch)
    with app.app_context():
        auth = app.extensions["sessionauth"]
        meter.run(lambda: auth.authenticate("scrypt@example.com", WRONG))
        floor = hasher.failure_floor()
        assert floor == pytest.approx(1.25 * COSTS["werkzeug"])
        meter.stretch = 20.0
        for email in ["scrypt@example.com", "nobody@example.com"] * 22:
            _, ops, elapsed = meter.run(lambda: auth.authenticate(email, WRONG))  # noqa: B023
            # starved 20× (0.4 s for 20 ms of work): padding never holds a failure past the cap (0.3 s)
            assert [op[0] for op in ops] in (["verify"], ["dummy"])
        assert hasher.failure_floor() == pytest.approx(floor)
        meter.stretch = 1.0
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(floor)


def test_under_uniform_load_every_path_still_lasts_the_same(app, accounts, monkeypatch):
    """The floor is CPU seconds; a failure lasts the floor times its own slowdown (up to the
    cap), so a machine twice as busy doubles every path alike (no later request inherits it)."""
    hasher = hasher_of(app)
    meter = Meter(hasher, monkeypatch)
    emails = ["scrypt@example.com", "pbkdf2@example.com", "alice@example.com", "nobody@example.com"]
    with app.app_context():
        auth = app.extensions["sessionauth"]
        hasher.calibrate([accounts["scrypt@example.com"], accounts["pbkdf2@example.com"]])
        floor = 1.25 * COSTS["werkzeug"]
        meter.stretch = 2.0
        times = {e: meter.run(lambda: auth.authenticate(e, WRONG))[2] for e in emails}  # noqa: B023
        assert times == {email: pytest.approx(2 * floor) for email in emails}
        meter.stretch = 1.0
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(floor)
        # the price of the cap: a class at the cap (bcrypt, 0.3 s with the margin) shows under load
        meter.run(lambda: auth.authenticate("bcrypt@example.com", WRONG))
        meter.stretch = 2.0
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(0.3)
        assert meter.run(lambda: auth.authenticate("bcrypt@example.com", WRONG))[2] == pytest.approx(0.48)


def test_a_slow_class_ages_out_but_the_current_scheme_never_does(app, accounts, monkeypatch):
    hasher = hasher_of(app)
    meter = Meter(hasher, monkeypatch)
    max_age = hasher._costs.max_age
    with app.app_context():
        auth = app.extensions["sessionauth"]
        meter.run(lambda: auth.authenticate("bcrypt@example.com", WRONG))
        meter.now += max_age - 1
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(0.3)
        meter.now += 2  # no bcrypt verification for longer than max_age: bcrypt no longer counts
        assert meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))[2] == pytest.approx(0.025)
        meter.now += 100 * max_age  # the current scheme's estimate stays, so a failure is still padded
        _, ops, elapsed = meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))
        assert [op[0] for op in ops] == ["dummy", "sleep"] and elapsed == pytest.approx(0.025)
        # a class timed by calibrate() is pinned: it does not age out
        hasher.calibrate([accounts["scrypt@example.com"]], rounds=1)
        meter.now += 100 * max_age
        assert hasher.failure_floor() == pytest.approx(1.25 * COSTS["werkzeug"])


def test_a_fresh_process_has_a_floor_before_its_first_failure(app, user):
    """Before: nothing was timed until the first failure, whose own time set its padding."""
    hasher = hasher_of(app)
    assert hasher.failure_floor() > 0
    assert [key[0] for key in hasher.cost_estimates()] == ["argon2"]


# -- Werkzeug and other legacy formats (item 14) ----------------------------------------------


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:260000", "pbkdf2:sha256:1000", "pbkdf2:sha512:1000"])
def test_werkzeug_hash_signs_in_and_is_upgraded(app, client, user, method):
    set_hash(app, user.id, generate_password_hash(PASSWORD, method))
    assert client.post("/test/login", data={"email": "alice@example.com", "password": WRONG}).status_code == 401
    assert stored_hash(app, user.id).startswith(method.split(":")[0])  # a failure changes nothing
    assert client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 200
    upgraded = stored_hash(app, user.id)
    assert upgraded.startswith("$argon2id$") and CURRENT_PARAMS in upgraded
    fresh = app.test_client()
    assert fresh.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 200


def test_werkzeug_default_hashes_through_the_sign_in_page(app, client, user):
    """The Flask-Login migration case: Werkzeug 3's own default method."""
    set_hash(app, user.id, generate_password_hash(PASSWORD))
    resp = form_sign_in(client, "alice@example.com", PASSWORD)
    assert resp.status_code == 302
    assert client.get("/whoami").json == {"user_id": user.id}
    assert stored_hash(app, user.id).startswith("$argon2id$")


def test_werkzeug_hash_confirms_and_changes_password(app, client, user):
    from flask_sessionauth import InvalidPassword

    assert client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 200
    set_hash(app, user.id, generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"))
    assert client.post("/test/reauth", data={"password": WRONG}).status_code == 403
    assert client.post("/test/reauth", data={"password": PASSWORD}).status_code == 200
    assert stored_hash(app, user.id).startswith("$argon2id$")  # reauthentication upgrades too

    set_hash(app, user.id, generate_password_hash(PASSWORD, "scrypt:1024:8:1"))
    auth = app.extensions["sessionauth"]
    with app.app_context():
        u = db.session.get(User, user.id)
        with pytest.raises(InvalidPassword):
            auth.change_password(u, WRONG, "a brand new passphrase")
        auth.change_password(u, PASSWORD, "a brand new passphrase")
    with app.app_context():
        assert auth.authenticate("alice@example.com", "a brand new passphrase") is not None


@pytest.mark.parametrize(
    "legacy",
    [
        lambda: bcrypt.using(rounds=4).hash(PASSWORD),
        lambda: pbkdf2_sha256.hash(PASSWORD),
        lambda: bcrypt.hash(PASSWORD),  # passlib's default cost (12), as an old app stored it
    ],
    ids=["bcrypt-4", "pbkdf2_sha256", "bcrypt-default-rounds"],
)
def test_bcrypt_and_pbkdf2_sign_in_and_upgrade(app, client, user, legacy):
    set_hash(app, user.id, legacy())
    assert client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 200
    assert stored_hash(app, user.id).startswith("$argon2id$")


def sha256salted(password: str, stored: str) -> bool:
    """An app's home-made format: ``sha256salted$<salt>$<hex of sha256(salt + password)>``."""
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(hashlib.sha256((salt + password).encode()).hexdigest(), digest)


def make_sha256salted(password: str, salt: str = "pepper") -> str:
    return f"sha256salted${salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"


def test_custom_legacy_verifier_signs_in_upgrades_and_pads(app, client, user, monkeypatch):
    hasher = hasher_of(app)
    meter = Meter(hasher, monkeypatch)

    def counted(password: str, stored: str) -> bool:
        meter._op("verify", "sha256salted", "", password)
        return sha256salted(password, stored)

    registered = hasher.register_legacy(lambda s: s.startswith("sha256salted$"), counted, name="sha256salted")
    assert hasher.legacy_verifiers == (registered, *hasher.legacy_verifiers[1:])
    assert hasher.legacy_verifiers[-1].name == "werkzeug"  # app-registered ones are tried first
    set_hash(app, user.id, make_sha256salted(PASSWORD))
    auth = app.extensions["sessionauth"]
    with app.app_context():
        hasher.calibrate([make_sha256salted("x")])
        _, ops, elapsed = meter.run(lambda: auth.authenticate("alice@example.com", WRONG))
        _, unknown_ops, unknown_elapsed = meter.run(lambda: auth.authenticate("nobody@example.com", WRONG))
    # the custom format is faster than argon2: its failure waits for argon2's floor
    assert [op[:2] for op in ops] == [("verify", "sha256salted"), ("sleep", ops[1][1])]
    assert [op[0] for op in unknown_ops] == ["dummy", "sleep"]
    assert elapsed == unknown_elapsed == pytest.approx(1.25 * COSTS["argon2"])
    assert client.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 200
    assert stored_hash(app, user.id).startswith("$argon2id$")


def test_legacy_verifiers_from_the_constructor_come_first():
    verifier = LegacyVerifier("mine", lambda s: s.startswith("scrypt:"), lambda p, s: p == "open sesame")
    hasher = PasswordHasher(["argon2"], FAST_HASH, 8, 256, legacy_verifiers=[verifier], margin=0)
    wz = generate_password_hash(PASSWORD, "scrypt:1024:8:1")
    assert hasher.check("open sesame", wz)  # the app's verifier won over the built-in one
    assert not hasher.check(PASSWORD, wz)
    no_werkzeug = PasswordHasher(["argon2"], FAST_HASH, 8, 256, werkzeug=False, margin=0)
    assert not no_werkzeug.check(PASSWORD, wz)


def test_a_raising_legacy_verifier_fails_closed_and_logs_once_without_the_password(app, user, caplog):
    hasher = hasher_of(app)

    def broken(password: str, stored: str) -> bool:
        raise RuntimeError(f"cannot check {password}")

    def broken_identify(stored: str) -> bool:
        raise KeyError(stored)

    hasher.register_legacy(broken_identify, sha256salted, name="identify-raises")
    hasher.register_legacy(lambda s: s.startswith("broken$"), broken, name="broken")
    set_hash(app, user.id, "broken$x$y")
    auth = app.extensions["sessionauth"]
    with caplog.at_level(logging.WARNING, logger="flask_sessionauth.core.passwords"), app.app_context():
        for _ in range(3):
            assert auth.authenticate("alice@example.com", PASSWORD) is None
    messages = [r.getMessage() for r in caplog.records]
    assert sum("RuntimeError" in m for m in messages) == 1
    assert sum("KeyError" in m for m in messages) == 1
    assert not any(PASSWORD in m or "broken$x$y" in m for m in messages)


# -- bcrypt out of the box, nothing ever raises (item 15) ----------------------------------------


def test_bcrypt_backend_is_installed():
    assert bcrypt.get_backend()  # MissingBackendError before bcrypt was a dependency


def test_100_char_password_on_bcrypt_account_is_a_failure_not_a_500(app, client, user):
    set_hash(app, user.id, bcrypt.using(rounds=4).hash("b" * 72))
    assert client.post("/test/login", data={"email": "alice@example.com", "password": "b" * 100}).status_code == 401
    assert form_sign_in(app.test_client(), "alice@example.com", "b" * 100).status_code == 401  # the page, an error
    assert api_sign_in(app.test_client(), "alice@example.com", "b" * 100).status_code == 401
    # exactly 72 bytes (multi-byte characters count in bytes) still verifies
    set_hash(app, user.id, bcrypt.using(rounds=4).hash("é" * 36))
    assert client.post("/test/login", data={"email": "alice@example.com", "password": "é" * 36}).status_code == 200
    assert not hasher_of(app).check("é" * 37, bcrypt.using(rounds=4).hash("é" * 36))


GARBAGE = [
    "",
    "not-a-hash",
    "$2b$12$short",
    "$argon2id$v=19$m=1024,t=1,p=1$bad",
    "$pbkdf2-sha256$29000$$",
    "scrypt:32768:8:1$salt$zz",
    "scrypt:99999999:8:1$salt$" + "0" * 64,
    "scrypt:3:8:1$salt$" + "0" * 128,
    "pbkdf2:nosuchdigest:1000$salt$" + "0" * 64,
    "pbkdf2:sha256:999999999$salt$" + "0" * 64,
    "plain$$" + PASSWORD,
    "x" * 5000,
    "\ud800",
    "\x00",
]


@pytest.mark.parametrize("stored", GARBAGE)
def test_garbage_stored_hash_fails_closed(app, user, stored, monkeypatch):
    meter = Meter(hasher_of(app), monkeypatch)
    result, ops, elapsed = meter.run(lambda: hasher_of(app).check(PASSWORD, stored))
    assert result == Verification(False)
    # a full current-scheme verification even so (after a verifier that gave up, if one claimed
    # the hash), then the padding: as long as any other failure
    assert ("dummy", "argon2", CURRENT_PARAMS) in [op[:3] for op in ops]
    assert ops[-1][0] == "sleep"
    assert meter.run(lambda: hasher_of(app).check(WRONG, None))[2] == pytest.approx(elapsed)
    if "\x00" not in stored and "\ud800" not in stored and len(stored) <= 255:  # storable everywhere
        set_hash(app, user.id, stored)
        with app.app_context():
            assert app.extensions["sessionauth"].authenticate("alice@example.com", PASSWORD) is None


@pytest.mark.parametrize(
    "password", [None, 1, b"bytes", "", "\ud800", "\x00", "x" * 300, "é" * 80, ["list"], PASSWORD, WRONG]
)
def test_check_never_raises(app, password, monkeypatch):
    hasher = hasher_of(app)
    Meter(hasher, monkeypatch)  # simulated clock: no real sleeping
    stored = [
        None,
        hasher.hash(PASSWORD),
        bcrypt.using(rounds=4).hash(PASSWORD),
        generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
        *GARBAGE,
    ]
    for value in stored:
        result = hasher.check(password, value)
        assert isinstance(result, Verification)
        assert result.ok == (password == PASSWORD and value is not None and value not in GARBAGE)
        assert bool(result) is result.ok
        assert result.new_hash is None or result.ok


def test_policy_refuses_what_no_hasher_takes(app):
    from flask_sessionauth import PasswordPolicyError

    auth = app.extensions["sessionauth"]
    for bad in ("lone \ud800 surrogate", "nul \x00 inside"):
        with pytest.raises(PasswordPolicyError, match="not allowed"), app.app_context():
            auth.hash_password(bad)


def test_compatibility_wrappers_keep_working():
    hasher = PasswordHasher(["argon2", "bcrypt"], FAST_HASH, 8, 256, margin=0)
    h = hasher.hash(PASSWORD)
    assert hasher.verify(PASSWORD, h) == (True, None)
    assert hasher.verify(WRONG, h) == (False, None)
    ok, new_hash = hasher.verify(PASSWORD, bcrypt.using(rounds=4).hash(PASSWORD))
    assert ok and new_hash is not None and new_hash.startswith("$argon2id$")
    hasher.dummy_verify()
    assert hasher.cost_estimates()


# -- the demo's sign-up (item 4) -------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path, monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
    spec = importlib.util.spec_from_file_location("sessionauth_demo_hardening", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "sessionauth_demo_hardening", module)
    spec.loader.exec_module(module)
    app = module.create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
            "SESSIONAUTH_PASSWORD_CONTEXT_OPTIONS": FAST_HASH,
            "WTF_CSRF_ENABLED": False,
        }
    )
    return module, app


def test_demo_signup_with_taken_address_hashes_and_waits_like_a_new_one(demo, monkeypatch):
    module, app = demo
    hashes: list[str] = []
    pads: list[float] = []
    context = hasher_of(app).context
    real_hash = context.hash
    monkeypatch.setattr(context, "hash", lambda secret, **kw: hashes.append(secret) or real_hash(secret, **kw))
    real_pad = module.SignupTimer.pad
    monkeypatch.setattr(
        module.SignupTimer, "pad", lambda self, started: pads.append(started) or real_pad(self, started)
    )

    def sign_up(email: str, password: str = "a fine password 1") -> t.Any:
        return app.test_client().post("/signup", data={"name": "X", "email": email, "password": password})

    new, taken = sign_up("new@example.com"), sign_up(module.DEMO_EMAIL)
    assert new.status_code == taken.status_code == 302 and new.location == taken.location
    assert hashes == ["a fine password 1", "a fine password 1"]  # one hash each
    assert len(pads) == 2  # both padded to the same duration
    # a policy error is the same for a taken address and a new one, before any lookup
    short_new, short_taken = sign_up("other@example.com", "short"), sign_up(module.DEMO_EMAIL, "short")
    assert short_new.status_code == short_taken.status_code == 200
    page = without_tokens(short_new.data).replace("other@example.com", module.DEMO_EMAIL)
    assert page == without_tokens(short_taken.data)
    assert "at least 8" in page
