"""The session rules of ``core/lifecycle.py`` and ``services/sessions.validate``
as plain functions: a fixed clock (plain datetimes), no app, no database.

``validate`` runs over :class:`FakeStore`, a few lines implementing the part
of the ``SessionStore`` protocol it needs (``load``, ``extend``, ``touch``),
so every read and write it makes is visible.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import sqlalchemy as sa

from flask_sessionauth.core import lifecycle
from flask_sessionauth.core import tokens
from flask_sessionauth.core.config import DEFAULTS
from flask_sessionauth.core.config import Settings
from flask_sessionauth.core.errors import ConfigurationError
from flask_sessionauth.core.errors import StorageUnavailable
from flask_sessionauth.core.lifecycle import Action
from flask_sessionauth.core.records import SessionRecord
from flask_sessionauth.services.sessions import REJECTED
from flask_sessionauth.services.sessions import Validation
from flask_sessionauth.services.sessions import validate
from flask_sessionauth.storage.base import SessionStore
from flask_sessionauth.storage.cookie_cache import CachedRecord

UTC = dt.timezone.utc
T0 = dt.datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
US = dt.timedelta(microseconds=1)
SECOND = dt.timedelta(seconds=1)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
TOKEN = tokens.generate()


def settings(**overrides: t.Any) -> Settings:
    """Settings from the defaults; ``EXPIRES_IN=60`` sets ``SESSIONAUTH_EXPIRES_IN``."""
    config = {**DEFAULTS, **{f"SESSIONAUTH_{key}": value for key, value in overrides.items()}}
    return Settings.from_config(config)


DEFAULT = settings()


def session(
    created: dt.datetime = T0,
    *,
    remember: bool = True,
    expires_at: t.Any = None,
    last_active_at: dt.datetime | None = None,
    authenticated_at: dt.datetime | None = T0,
    user_active: bool = True,
    secret: str = TOKEN.secret,
    rules: Settings = DEFAULT,
) -> SessionRecord:
    """A session as signing in at ``created`` makes it (last active then)."""
    return SessionRecord(
        id=TOKEN.session_id,
        user_id=1,
        secret_hash=tokens.hash_secret(secret),
        remember=remember,
        expires_at=lifecycle.new_expiry(created, remember, created, rules) if expires_at is None else expires_at,
        created_at=created,
        updated_at=created,
        last_active_at=created if last_active_at is None else last_active_at,
        authenticated_at=authenticated_at,
        ip_address="192.0.2.1",
        user_agent="test",
        user_active=user_active,
    )


def evaluate(record: SessionRecord | None, now: dt.datetime, rules: Settings = DEFAULT) -> lifecycle.Verdict:
    return lifecycle.evaluate(TOKEN, record, now, rules)


class Untouchable:
    """A value that fails the test if anything compares or subtracts it."""

    def _touched(self, *args: t.Any) -> t.NoReturn:
        raise AssertionError("the session was looked at before the secret was verified")

    __lt__ = __le__ = __gt__ = __ge__ = __sub__ = __rsub__ = __add__ = __radd__ = _touched
    __hash__ = object.__hash__


# -- windows and expiry -------------------------------------------------------------------


def test_windows_of_remembered_and_short_sessions() -> None:
    assert lifecycle.windows(True, DEFAULT) == (7 * 86400, 86400)
    # A browser-session row lives a day and slides by the same fraction (1/7) of it.
    assert lifecycle.windows(False, DEFAULT) == (86400, 86400 * 86400 // (7 * 86400))
    assert lifecycle.windows(False, settings(UPDATE_AGE=0)) == (86400, 0)
    assert lifecycle.windows(False, settings(EXPIRES_IN=7200, UPDATE_AGE=3600, SHORT_EXPIRES_IN=600)) == (600, 300)


@pytest.mark.parametrize(
    "overrides",
    [{"EXPIRES_IN": 0}, {"SHORT_EXPIRES_IN": 0}, {"UPDATE_AGE": -1}, {"UPDATE_AGE": 8 * 86400}],
)
def test_settings_refuse_impossible_windows(overrides: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        settings(**overrides)


def test_new_expiry() -> None:
    assert lifecycle.new_expiry(T0, True, T0, DEFAULT) == T0 + 7 * DAY
    assert lifecycle.new_expiry(T0, False, T0, DEFAULT) == T0 + DAY
    capped = settings(ABSOLUTE_LIFETIME=3 * 86400)
    assert lifecycle.new_expiry(T0, True, T0, capped) == T0 + 3 * DAY
    assert lifecycle.new_expiry(T0 + 2 * DAY, True, T0, capped) == T0 + 3 * DAY  # never past the cap
    assert lifecycle.new_expiry(T0, False, T0, capped) == T0 + DAY  # the window ends first


def test_alive_until_exactly_expires_at() -> None:
    record = session()
    assert lifecycle.is_alive(record, T0 + 7 * DAY - US, DEFAULT)
    assert not lifecycle.is_alive(record, T0 + 7 * DAY, DEFAULT)
    assert not lifecycle.is_alive(record, T0 + 7 * DAY + SECOND, DEFAULT)


def test_an_inactive_users_session_is_not_alive() -> None:
    assert not lifecycle.is_alive(session(user_active=False), T0 + MINUTE, DEFAULT)


def test_absolute_lifetime_ends_a_session_whatever_its_expiry() -> None:
    capped = settings(ABSOLUTE_LIFETIME=3 * 86400)
    record = session(expires_at=T0 + 10 * DAY)  # as if slid far ahead
    assert lifecycle.is_alive(record, T0 + 3 * DAY - US, capped)
    assert not lifecycle.is_alive(record, T0 + 3 * DAY, capped)
    assert lifecycle.is_alive(record, T0 + 3 * DAY, DEFAULT)


# -- evaluate -----------------------------------------------------------------------------


def test_no_record_is_rejected() -> None:
    assert evaluate(None, T0) == lifecycle.REJECTED == lifecycle.Verdict(None, Action.NONE, None)


def test_a_wrong_secret_is_rejected() -> None:
    forged = session(secret=tokens.generate().secret)
    assert evaluate(forged, T0 + MINUTE) == lifecycle.REJECTED
    # Even when it would otherwise be due for a refresh: nothing is written for a forged token.
    assert evaluate(forged, T0 + 2 * DAY) == lifecycle.REJECTED


def test_the_secret_is_checked_before_anything_else() -> None:
    """Checklist 11: nothing about a session (not even its expiry or its user)
    is looked at for a token whose secret does not match."""
    poisoned = session(secret=tokens.generate().secret, user_active=False)._replace(
        expires_at=Untouchable(), created_at=Untouchable(), last_active_at=Untouchable()
    )
    assert evaluate(poisoned, T0, settings(ABSOLUTE_LIFETIME=3600)) == lifecycle.REJECTED
    # With the right secret the same record is looked at (so the check above means something).
    genuine = poisoned._replace(secret_hash=tokens.hash_secret(TOKEN.secret), user_active=True)
    with pytest.raises(AssertionError, match="looked at"):
        evaluate(genuine, T0)


def test_expired_and_inactive_sessions_are_rejected() -> None:
    assert evaluate(session(), T0 + 7 * DAY) == lifecycle.REJECTED
    assert evaluate(session(), T0 + 7 * DAY + SECOND) == lifecycle.REJECTED
    assert evaluate(session(user_active=False), T0 + MINUTE) == lifecycle.REJECTED
    assert evaluate(session(), T0 + 3 * DAY, settings(ABSOLUTE_LIFETIME=3 * 86400)) == lifecycle.REJECTED


def test_an_ordinary_request_writes_nothing() -> None:
    record = session()
    assert evaluate(record, T0 + MINUTE) == lifecycle.Verdict(record, Action.NONE)


def test_the_refresh_starts_exactly_update_age_after_the_last_extension() -> None:
    """Checklist 10: ``expires_at - (expires_in - update_age)``, a day after sign-in."""
    record = session()
    before = evaluate(record, T0 + DAY - US)
    assert before.action is Action.TOUCH  # only the activity stamp is due
    at = evaluate(record, T0 + DAY)
    assert at == lifecycle.Verdict(record, Action.EXTEND, T0 + DAY + 7 * DAY)


def test_the_refresh_point_moves_with_each_extension() -> None:
    slid = session()._replace(expires_at=T0 + 2 * DAY + 7 * DAY, last_active_at=T0 + 2 * DAY)
    assert evaluate(slid, T0 + 3 * DAY - US).action is Action.TOUCH
    assert evaluate(slid, T0 + 3 * DAY).action is Action.EXTEND


def test_a_short_session_slides_by_its_own_window() -> None:
    """``remember=False``: a day's life, refreshed after 1/7 of it (12,342 s)."""
    record = session(remember=False)
    assert record.expires_at == T0 + DAY
    assert evaluate(record, T0 + dt.timedelta(seconds=12342) - US).action is Action.TOUCH
    at = evaluate(record, T0 + dt.timedelta(seconds=12342))
    assert at.action is Action.EXTEND and at.expires_at == T0 + dt.timedelta(seconds=12342) + DAY
    assert evaluate(record, T0 + DAY) == lifecycle.REJECTED


def test_a_session_at_its_absolute_cap_is_never_extended() -> None:
    """The capped expiry cannot move, so no refresh write is ever due."""
    capped = settings(ABSOLUTE_LIFETIME=3 * 86400)
    record = session(rules=capped)
    assert record.expires_at == T0 + 3 * DAY
    verdict = evaluate(record, T0 + 2 * DAY, capped)
    assert verdict.action is Action.TOUCH and verdict.expires_at is None


def test_disable_refresh_never_extends() -> None:
    verdict = evaluate(session(), T0 + 6 * DAY, settings(DISABLE_REFRESH=True))
    assert verdict.action is Action.TOUCH


def test_update_age_zero_extends_on_every_later_request() -> None:
    rules = settings(UPDATE_AGE=0)
    record = session(rules=rules)
    assert evaluate(record, T0, rules).action is Action.NONE  # the same instant: the expiry would not move
    assert evaluate(record, T0 + US, rules) == lifecycle.Verdict(record, Action.EXTEND, T0 + US + 7 * DAY)


def test_activity_is_stamped_at_most_once_per_resolution() -> None:
    record = session()
    assert evaluate(record, T0 + 300 * SECOND - US).action is Action.NONE
    assert evaluate(record, T0 + 300 * SECOND).action is Action.TOUCH
    assert evaluate(record._replace(last_active_at=None), T0).action is Action.TOUCH
    never = settings(ACTIVITY_RESOLUTION=0)
    assert evaluate(record._replace(last_active_at=None), T0 + 12 * HOUR, never).action is Action.NONE


# -- apply --------------------------------------------------------------------------------


def test_apply_gives_the_record_as_written() -> None:
    record = session()
    now = T0 + 2 * DAY
    assert lifecycle.apply(lifecycle.REJECTED, now) is None
    assert lifecycle.apply(lifecycle.Verdict(record, Action.NONE), now) == record
    assert lifecycle.apply(lifecycle.Verdict(record, Action.TOUCH), now) == record._replace(last_active_at=now)
    extended = lifecycle.apply(lifecycle.Verdict(record, Action.EXTEND, now + 7 * DAY), now)
    assert extended == record._replace(expires_at=now + 7 * DAY, updated_at=now, last_active_at=now)


# -- sudo mode and the cookie -------------------------------------------------------------


def test_fresh_within_fresh_age_of_the_password() -> None:
    record = session(authenticated_at=T0)
    assert lifecycle.is_fresh(record, T0 + 3600 * SECOND - US, DEFAULT)
    assert not lifecycle.is_fresh(record, T0 + 3600 * SECOND, DEFAULT)
    assert not lifecycle.is_fresh(session(authenticated_at=None), T0, DEFAULT)  # signed in without the password
    assert not lifecycle.is_fresh(None, T0, DEFAULT)
    assert lifecycle.is_fresh(record, T0 + 2 * 3600 * SECOND - US, settings(FRESH_AGE=7200))


def test_cookie_max_age() -> None:
    assert lifecycle.cookie_max_age(session(remember=False), T0) is None  # a browser-session cookie
    record = session()
    assert lifecycle.cookie_max_age(record, T0) == 7 * 86400
    assert lifecycle.cookie_max_age(record, T0 + 7 * DAY - 1500 * dt.timedelta(milliseconds=1)) == 1  # truncated
    assert lifecycle.cookie_max_age(record, T0 + 7 * DAY) == 0
    assert lifecycle.cookie_max_age(record, T0 + 8 * DAY) == 0


# -- validate over a fake store ----------------------------------------------------------


class FakeStore:
    """The part of ``SessionStore`` that ``validate`` needs, in a dict. Every
    call is logged; ``gone_on_write`` makes writes find the session deleted
    (a revoke landing between the read and the write)."""

    def __init__(self, *records: SessionRecord, gone_on_write: bool = False, error: Exception | None = None) -> None:
        self.records = {r.id: r for r in records}
        self.calls: list[tuple[str, t.Any]] = []
        self.gone_on_write = gone_on_write
        self.error = error

    def load(self, session_id: str) -> SessionRecord | None:
        self.calls.append(("load", session_id))
        if self.error is not None:
            raise self.error
        return self.records.get(session_id)

    def _write(self, kind: str, record: SessionRecord) -> bool:
        self.calls.append((kind, record))
        if self.gone_on_write:
            self.records.pop(record.id, None)
        if record.id not in self.records:
            return False
        self.records[record.id] = record
        return True

    def extend(self, record: SessionRecord) -> bool:
        return self._write("extend", record)

    def touch(self, record: SessionRecord) -> bool:
        return self._write("touch", record)


def check(
    store: FakeStore, now: dt.datetime, cached: SessionRecord | None = None, rules: Settings = DEFAULT
) -> Validation:
    return validate(TOKEN, now, t.cast(SessionStore, store), rules, cached)


def test_validate_an_unknown_token_reads_once_and_writes_nothing() -> None:
    store = FakeStore()
    assert check(store, T0) == REJECTED
    assert store.calls == [("load", TOKEN.session_id)]


def test_validate_a_wrong_secret_writes_nothing_even_when_a_refresh_is_due() -> None:
    store = FakeStore(session(secret=tokens.generate().secret))
    assert check(store, T0 + 2 * DAY) == REJECTED
    assert [kind for kind, _ in store.calls] == ["load"]


def test_validate_an_ordinary_request_is_one_read() -> None:
    record = session()
    store = FakeStore(record)
    assert check(store, T0 + MINUTE) == Validation(record, extended=False)
    assert [kind for kind, _ in store.calls] == ["load"]


def test_validate_stamps_activity_with_one_touch() -> None:
    record = session()
    store = FakeStore(record)
    now = T0 + 10 * MINUTE
    result = check(store, now)
    assert result == Validation(record._replace(last_active_at=now), extended=False)
    assert store.calls == [("load", record.id), ("touch", result.record)]
    assert store.records[record.id].last_active_at == now


def test_validate_slides_the_expiry_with_one_extend() -> None:
    record = session()
    store = FakeStore(record)
    now = T0 + DAY + MINUTE
    result = check(store, now)
    assert result.extended is True
    assert result.record == record._replace(expires_at=now + 7 * DAY, updated_at=now, last_active_at=now)
    assert store.calls == [("load", record.id), ("extend", result.record)]


def test_validate_rejects_when_the_session_was_revoked_before_the_extend() -> None:
    """The guarded write found nothing: the request is rejected and the session
    is not written back (never resurrected)."""
    store = FakeStore(session(), gone_on_write=True)
    assert check(store, T0 + DAY + MINUTE) == REJECTED
    assert store.records == {}


def test_validate_never_resurrects_a_session_revoked_before_the_touch() -> None:
    store = FakeStore(session(), gone_on_write=True)
    assert check(store, T0 + 10 * MINUTE) == REJECTED  # the touch matched no row: the session is over
    assert store.records == {}
    assert check(store, T0 + 11 * MINUTE) == REJECTED


def test_validate_rejects_expired_and_inactive_without_writing() -> None:
    for record, now in ((session(), T0 + 7 * DAY), (session(user_active=False), T0 + 2 * DAY)):
        store = FakeStore(record)
        assert check(store, now) == REJECTED
        assert [kind for kind, _ in store.calls] == ["load"]


def cached(record: SessionRecord) -> CachedRecord:
    return CachedRecord(*record)


def test_validate_a_fresh_cached_record_skips_storage() -> None:
    record = session()
    store = FakeStore(record)
    copy = cached(record)
    result = check(store, T0 + MINUTE, copy)
    assert result.record is copy and result.extended is False
    assert store.calls == []


def test_validate_a_cached_record_that_needs_a_write_goes_to_storage() -> None:
    record = session()
    store = FakeStore(record)
    now = T0 + DAY + MINUTE  # the expiry is due to slide
    result = check(store, now, cached(record))
    assert result.extended is True and not isinstance(result.record, CachedRecord)
    assert [kind for kind, _ in store.calls] == ["load", "extend"]


def test_validate_a_stale_cached_copy_never_decides_a_rejection() -> None:
    """A cached copy that looks expired (another device slid the session since)
    or carries another hash falls through to storage, which decides."""
    now = T0 + 8 * DAY
    stored = session()._replace(expires_at=now + 7 * DAY - HOUR, updated_at=now - HOUR, last_active_at=now - MINUTE)
    for copy in (cached(session()), cached(stored._replace(secret_hash=tokens.hash_secret("x" * 43)))):
        store = FakeStore(stored)
        assert check(store, now, copy) == Validation(stored)
        assert [kind for kind, _ in store.calls] == ["load"]


def test_validate_a_cached_record_of_a_revoked_session_is_honoured_only_while_fresh() -> None:
    """The cookie cache's documented trade-off, as a rule: ``validate`` trusts
    the copy it is given; only the caller's max-age bounds it."""
    record = session()
    store = FakeStore()  # revoked: storage has nothing
    assert check(store, T0 + MINUTE, cached(record)).record is not None
    assert check(store, T0 + 10 * MINUTE, cached(record)) == REJECTED  # a write is due: storage decides


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sa.exc.OperationalError("SELECT", {}, Exception("connection refused")), StorageUnavailable),
        (sa.exc.OperationalError("SELECT", {}, Exception("no such table: user_session")), ConfigurationError),
        (StorageUnavailable(), StorageUnavailable),
    ],
)
def test_validate_storage_errors_fail_closed(error: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        check(FakeStore(error=error), T0)
