"""Password hashing, policy, and one verification entry point that costs the same on every failure.

Hashing: a passlib ``CryptContext`` with argon2id first; older schemes or weaker
parameters still verify and are marked for upgrade (``deprecated="auto"``). Passwords
longer than the maximum are refused, never truncated (bcrypt would ignore bytes past 72).

Verifying, :meth:`PasswordHasher.check`: called on *every* path, with ``None`` for no
user, an inactive one or no hash. It returns a :class:`Verification` (``ok``,
``new_hash`` when the stored hash is outdated) and never raises, whatever the password
(any object, lone surrogates, NUL, megabytes) or the stored value: those fail closed, the
first error of each kind logged by class name only, never with the password.
Every failure runs one verification, then is padded to a common floor (capped, CPU-timed,
aging out: :mod:`.cost_book`), so it never tells a known account from an unknown one and
cannot hold workers for long. Legacy formats: :mod:`.legacy_hashes`."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
import typing as t

from passlib.context import CryptContext

from . import i18n
from .cost_book import CostBook
from .errors import PasswordPolicyError
from .errors import PasswordTooLong
from .errors import PasswordTooShort
from .legacy_hashes import WERKZEUG
from .legacy_hashes import LegacyVerifier
from .legacy_hashes import werkzeug_hash
from .records import Verification

log = logging.getLogger(__name__)

#: A stored hash longer than this is garbage (and would be slow to parse).
MAX_STORED_HASH_LENGTH = 1024


@dataclasses.dataclass(frozen=True)
class _Target:
    """How to verify one stored hash: by passlib (``legacy`` is None) or a legacy verifier."""

    stored: str
    key: t.Hashable
    max_bytes: int | None
    legacy: LegacyVerifier | None = None


class PasswordHasher:
    """Hash new passwords, check policy, and verify at equal cost on every failure.

    ``schemes``/``options`` configure the passlib ``CryptContext`` (first
    scheme hashes). ``legacy_verifiers`` add formats beyond passlib's;
    ``werkzeug=False`` drops the built-in Werkzeug one. ``margin``,
    ``min_failure_seconds``, ``max_failure_seconds`` (the cap) and
    ``estimate_max_age`` shape the failure floor (``margin=0`` with no minimum
    turns padding off). ``clock`` (wall), ``cpu_clock`` (this thread's CPU)
    and ``sleep`` are injectable so tests can count the padding exactly.
    """

    def __init__(
        self,
        schemes: t.Sequence[str],
        options: t.Mapping[str, t.Any],
        min_length: int,
        max_length: int,
        *,
        legacy_verifiers: t.Iterable[LegacyVerifier] = (),
        werkzeug: bool = True,
        margin: float = 1.25,
        min_failure_seconds: float = 0.0,
        max_failure_seconds: float = 0.3,
        estimate_max_age: float = 900.0,
        clock: t.Callable[[], float] = time.perf_counter,
        cpu_clock: t.Callable[[], float] = time.thread_time,
        sleep: t.Callable[[float], None] = time.sleep,
    ) -> None:
        if not (margin >= 0 and 0 <= min_failure_seconds <= max_failure_seconds and estimate_max_age > 0):
            raise ValueError("need margin >= 0, 0 <= min_failure_seconds <= max_failure_seconds, estimate_max_age > 0")
        self.context = CryptContext(schemes=list(schemes), deprecated="auto", **dict(options))
        self.min_length = min_length
        self.max_length = max_length
        self.margin = margin
        self.min_failure_seconds = min_failure_seconds
        self.clock = clock
        self.cpu_clock = cpu_clock
        self.sleep = sleep
        self._custom: list[LegacyVerifier] = list(legacy_verifiers)
        self._builtin: list[LegacyVerifier] = [WERKZEUG] if werkzeug else []
        self._costs = CostBook(estimate_max_age, max_failure_seconds)
        self._logged: set[tuple[str, str]] = set()
        self._logged_lock = threading.Lock()
        # Never equal to a real password: it is 32 random characters, and its
        # result is ignored anyway. ASCII, so every format can take it.
        self._substitute = secrets.token_urlsafe(24)
        # passlib builds its dummy hash on first use; build it now so the first
        # unknown-user request does not pay for an extra hash, and learn the
        # cost class of the first scheme with the configured parameters; time
        # (pin) it, so the first failure in a fresh process is padded too.
        dummy = getattr(self.context, "_dummy_hash", None)
        if not isinstance(dummy, str):
            dummy = str(self.context.hash(self._substitute))
        self._current_key = self._passlib_key(dummy)
        self.calibrate([], rounds=1)

    # -- policy and hashing ----------------------------------------------

    def check_policy(self, password: str, confirm: str | None = None) -> None:
        """Raise :class:`PasswordPolicyError` with a message a form can show."""
        if not isinstance(password, str):
            raise PasswordPolicyError(i18n._l("Enter a password."))
        if len(password) < self.min_length:
            raise PasswordTooShort.at_least(self.min_length)
        if len(password) > self.max_length:
            raise PasswordTooLong.at_most(self.max_length)
        if not _encodable(password):
            # NUL and lone surrogates: no hasher takes them (bcrypt refuses
            # NUL, UTF-8 cannot encode a surrogate), so no stored hash may.
            raise PasswordPolicyError(i18n._l("The password contains a character that is not allowed."))
        if confirm is not None and confirm != password:
            raise PasswordPolicyError(i18n._l("The passwords do not match."))

    #: ``"scrypt"``: write Werkzeug's format (``SESSIONAUTH_PASSWORD_UPGRADE`` off).
    werkzeug_method: str | None = None

    def hash(self, password: str) -> str:
        """Hash with the first scheme (or Werkzeug's); raises :class:`PasswordPolicyError`."""
        self.check_policy(password)
        return self._new_hash(password)

    def _new_hash(self, password: str) -> str:
        return werkzeug_hash(password, m) if (m := self.werkzeug_method) else str(self.context.hash(password))

    # -- the one verification entry point --------------------------------

    def check(self, password: object, stored_hash: str | None) -> Verification:
        """Verify ``password`` against ``stored_hash`` at equal cost on every failure.

        Pass ``None`` for an unknown or inactive user (or one without a
        hash): the full work and padding still happen. Never raises.
        """
        started = (self.clock(), self.cpu_clock())
        target = self._identify(stored_hash)
        if target is None:
            self._dummy()
            return self._fail(started)
        usable = self._usable(password, target.max_bytes)
        secret = t.cast(str, password) if usable else self._substitute
        try:
            ok, new_hash = self._verify(target, secret)
        except Exception as exc:
            self._log_once(target.legacy.name if target.legacy else "passlib", exc)
            self._dummy()  # a verifier that gave up early still costs a full verification
            return self._fail(started)
        if not (ok and usable):
            return self._fail(started)
        if self.werkzeug_method is not None:
            # The app's own check_password_hash must read every hash we store.
            new_hash = None if target.legacy is WERKZEUG else self._upgrade(secret)
        elif target.legacy is not None:
            new_hash = self._upgrade(secret)
        return Verification(True, new_hash)

    def register_legacy(
        self,
        identify: t.Callable[[str], bool],
        verify: t.Callable[[str, str], bool],
        *,
        name: str | None = None,
        cost_key: t.Callable[[str], t.Hashable] | None = None,
        max_bytes: int | None = None,
    ) -> LegacyVerifier:
        """Accept one more stored-hash format (see the module docstring).

        A successful check against it returns a first-scheme ``new_hash``, so
        the account moves off the legacy format at its next sign-in.
        """
        verifier = LegacyVerifier(
            name or str(getattr(verify, "__name__", "legacy")), identify, verify, cost_key, max_bytes
        )
        self._custom.append(verifier)
        return verifier

    @property
    def legacy_verifiers(self) -> tuple[LegacyVerifier, ...]:
        """In the order they are tried, after the passlib schemes."""
        return (*self._custom, *self._builtin)

    # -- the failure floor -------------------------------------------------

    def failure_floor(self) -> float:
        """Seconds every failed :meth:`check` lasts at least, in CPU terms (see :mod:`.cost_book`)."""
        return max(self.min_failure_seconds, min(self._costs.cap, self.margin * self._costs.slowest(self.clock())))

    def cost_estimates(self) -> dict[t.Hashable, float]:
        """Estimated verification CPU seconds per live cost class (for logs and benchmarks)."""
        return self._costs.estimates(self.clock())

    def calibrate(self, hashes: t.Iterable[str] | None = None, rounds: int = 3) -> float:
        """Time verifications now, so no first request has to; returns the floor.

        With ``hashes=None``: the first scheme as configured, the other
        configured schemes with their default parameters and Werkzeug's
        defaults (a few seconds). Otherwise the first scheme and one class per
        given stored hash (use one per legacy format and cost in your table).
        The classes timed here are pinned: they never age out of the floor.
        """
        for _ in range(rounds):
            self._dummy()
        targets = [self._identify(stored) for stored in (self.sample_hashes() if hashes is None else hashes)]
        for target in targets:
            for _ in range(rounds if target is not None else 0):
                assert target is not None
                try:
                    self._verify(target, self._substitute, pin=True)
                except Exception as exc:
                    self._log_once(target.legacy.name if target.legacy else "passlib", exc)
                    break
        return self.failure_floor()

    def sample_hashes(self) -> list[str]:
        """One hash per configured legacy scheme and built-in format, at default cost."""
        samples: list[str] = []
        for name in list(self.context.schemes())[1:]:
            try:
                samples.append(str(self.context.handler(name).hash(self._substitute)))
            except Exception as exc:  # a missing backend: that scheme cannot verify either
                self._log_once(name, exc)
        if WERKZEUG in self._builtin:
            from werkzeug.security import generate_password_hash

            samples += [generate_password_hash(self._substitute, method) for method in ("scrypt", "pbkdf2")]
        return samples

    # -- compatibility -----------------------------------------------------

    def verify(self, password: str, stored_hash: str | None) -> tuple[bool, str | None]:
        """``(ok, new_hash)``: the pre-``check`` API, same work and guarantees."""
        result = self.check(password, stored_hash)
        return result.ok, result.new_hash

    def dummy_verify(self) -> None:
        """A failed check for nobody: the same work and time as a wrong password."""
        self.check(None, None)

    # -- internals -----------------------------------------------------------

    def _usable(self, password: object, max_bytes: int | None) -> bool:
        """Could ``password`` ever match? If not, the substitute is checked in its place."""
        if not isinstance(password, str) or len(password) > self.max_length or not _encodable(password):
            return False
        return max_bytes is None or len(password.encode("utf-8")) <= max_bytes

    def _identify(self, stored: object) -> _Target | None:
        if not isinstance(stored, str) or not stored or len(stored) > MAX_STORED_HASH_LENGTH:
            return None
        try:
            handler = self.context.identify(stored, resolve=True, required=False)
        except Exception as exc:
            self._log_once("passlib identify", exc)
            handler = None
        if handler is not None:
            return _Target(stored, self._passlib_key(stored, handler), getattr(handler, "truncate_size", None))
        for verifier in self.legacy_verifiers:
            try:
                if not verifier.identify(stored):
                    continue
                key = (verifier.name, verifier.cost_key(stored) if verifier.cost_key else None)
            except Exception as exc:
                self._log_once(f"{verifier.name} identify", exc)
                continue
            return _Target(stored, key, verifier.max_bytes, verifier)
        self._log_once("stored hash", None)
        return None

    def _passlib_key(self, stored: str, handler: t.Any = None) -> t.Hashable:
        """The scheme and its cost parameters: what a verification's time depends on."""
        try:
            handler = handler or self.context.identify(stored, resolve=True)
            parsed = handler.from_string(stored)
        except Exception:
            return (getattr(handler, "name", None), "unparsed")
        attrs = ("ident", "type", "version", "rounds", "memory_cost", "parallelism")
        return (handler.name, *(getattr(parsed, attr, None) for attr in attrs))

    def _verify(self, target: _Target, secret: str, *, pin: bool = False) -> tuple[bool, str | None]:
        """Run and time (CPU) exactly one verification; may raise (the caller fails closed)."""
        started = self.cpu_clock()
        if target.legacy is None:
            ok, new_hash = self.context.verify_and_update(secret, target.stored)
        else:
            ok, new_hash = bool(target.legacy.verify(secret, target.stored)), None
        self._costs.record(target.key, self.cpu_clock() - started, self.clock(), pin=pin)
        return bool(ok), new_hash

    def _dummy(self) -> None:
        """One verification with the first scheme's configured parameters."""
        started = self.cpu_clock()
        try:
            self.context.dummy_verify()
        except Exception as exc:
            self._log_once("passlib dummy", exc)
            return
        self._costs.record(self._current_key, self.cpu_clock() - started, self.clock(), pin=True)

    def _fail(self, started: tuple[float, float]) -> Verification:
        """Pad a failure to the floor, so every failure path lasts as long."""
        remaining = self._costs.padding(self.failure_floor(), self.clock() - started[0], self.cpu_clock() - started[1])
        if remaining > 0:
            self.sleep(remaining)
        return Verification(False)

    def _upgrade(self, password: str) -> str | None:
        """A new-format hash for a password that just matched an outdated one."""
        try:
            return self._new_hash(password)
        except Exception as exc:
            self._log_once("upgrade", exc)
            return None

    def _log_once(self, where: str, exc: BaseException | None) -> None:
        """Log each kind of verification error once: by class, never its message
        (a ``UnicodeEncodeError`` message quotes the password)."""
        kind = "unrecognised" if exc is None else f"{type(exc).__module__}.{type(exc).__qualname__}"
        with self._logged_lock:
            if (where, kind) in self._logged:
                return
            self._logged.add((where, kind))
        if exc is None:
            log.warning(
                "A stored password hash is in no format this app knows (configure its scheme or register a"
                " legacy verifier); signing in with it fails. Logged once."
            )
        else:
            log.error("Password verification (%s) raised %s; treated as a failed check. Logged once.", where, kind)


def _encodable(password: str) -> bool:
    """No NUL and valid UTF-8 (no lone surrogate): what every hasher accepts."""
    if "\x00" in password:
        return False
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
