"""What a new session records of its client: the address and user agent as
the privacy switches keep them, and the approximate location, resolved here
once per sign-in (never per request).

``SESSIONAUTH_GEOIP_RESOLVER`` is ``"geoip2fast"`` (the bundled offline data),
a callable ``ip -> Location | None`` (e.g. :class:`~flask_sessionauth.core.geoip.MaxMindResolver`)
or ``None``. A CDN's country header (``SESSIONAUTH_GEOIP_HEADER``, e.g.
``CF-IPCountry``) is believed only when the request came through a trusted
proxy (``SESSIONAUTH_TRUSTED_PROXIES``); anyone can send the header to the
app directly. A resolver never fails a sign-in: one that raises, or takes
longer than ``SESSIONAUTH_GEOIP_TIMEOUT`` seconds, is logged and gives no
location; while :data:`MAX_STUCK` calls are still running, no new one starts.
"""

from __future__ import annotations

import logging
import threading
import typing as t

from flask import has_request_context
from flask import request

from ..core.geoip import GeoIP2FastResolver
from ..core.location import IP_MODES
from ..core.location import LOCAL
from ..core.location import Location
from ..core.location import checked
from ..core.location import country_code
from ..core.location import is_local
from ..core.location import parse_address
from ..core.location import stored_address
from ..core.records import Client
from .forwarded import through_trusted_proxy

log = logging.getLogger("flask_sessionauth")

#: Resolver calls still running (past their timeout) before new ones are skipped.
MAX_STUCK = 4
Resolver = t.Callable[[str], "Location | None"]


class Locator:
    """One app's location and privacy settings."""

    def __init__(self, config: t.Mapping[str, t.Any]) -> None:
        resolver = config["SESSIONAUTH_GEOIP_RESOLVER"]
        if resolver == "geoip2fast":
            resolver = GeoIP2FastResolver()
        if resolver is not None and not callable(resolver):
            raise ValueError("SESSIONAUTH_GEOIP_RESOLVER must be 'geoip2fast', a callable ip -> Location, or None")
        self.resolver: Resolver | None = resolver if config["SESSIONAUTH_STORE_LOCATION"] else None
        header = config["SESSIONAUTH_GEOIP_HEADER"]
        if header is not None and not (isinstance(header, str) and header.strip()):
            raise ValueError("SESSIONAUTH_GEOIP_HEADER must be a header name (e.g. 'CF-IPCountry') or None")
        self.header: str | None = header.strip() if header and config["SESSIONAUTH_STORE_LOCATION"] else None
        self.enabled = bool(config["SESSIONAUTH_STORE_LOCATION"])
        self.timeout = float(config["SESSIONAUTH_GEOIP_TIMEOUT"])
        if not self.timeout > 0:
            raise ValueError("SESSIONAUTH_GEOIP_TIMEOUT must be a number of seconds above 0")
        self.ip_mode = config["SESSIONAUTH_STORE_IP"]
        if self.ip_mode not in IP_MODES:
            raise ValueError(f"SESSIONAUTH_STORE_IP must be one of {', '.join(IP_MODES)}, not {self.ip_mode!r}")
        self.keep_user_agent = bool(config["SESSIONAUTH_STORE_USER_AGENT"])
        self._lock = threading.Lock()
        self._running = 0

    def stored(self, client: Client | None) -> Client | None:
        """``client`` as the session row keeps it (``SESSIONAUTH_STORE_IP``,
        ``SESSIONAUTH_STORE_USER_AGENT``); rate limits still see the full one."""
        if client is None:
            return None
        agent = client.user_agent if self.keep_user_agent else None
        return Client(stored_address(client.ip_address, self.ip_mode), agent)

    def locate(self, client: Client | None) -> Location | None:
        """The approximate location of ``client`` (``None``: unknown or off)."""
        if not self.enabled or client is None:
            return None
        address = parse_address(client.ip_address)
        if address is not None and is_local(address):
            return LOCAL
        header = self._header_country()
        found = self._resolve(str(address)) if address is not None and self.resolver is not None else None
        if header is None:
            return found
        # The CDN's country is the one believed; the resolver may add where in it.
        return found if found is not None and found.country == header else Location(header)

    def _header_country(self) -> str | None:
        if self.header is None or not has_request_context() or not through_trusted_proxy(request.environ):
            return None
        return country_code(request.headers.get(self.header))

    def _resolve(self, ip: str) -> Location | None:
        resolver = self.resolver
        assert resolver is not None
        with self._lock:
            if self._running >= MAX_STUCK:
                log.warning("flask-sessionauth: %d location lookups are still running; not starting another", MAX_STUCK)
                return None
            self._running += 1
        answer: list[Location | None] = []

        def run() -> None:
            try:
                answer.append(checked(resolver(ip)))
            except Exception:
                log.exception("flask-sessionauth: the location resolver failed; the session has no location")
            finally:
                with self._lock:
                    self._running -= 1

        worker = threading.Thread(target=run, name="sessionauth-geoip", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            log.warning(
                "flask-sessionauth: the location resolver took over %s s (SESSIONAUTH_GEOIP_TIMEOUT); "
                "the session has no location",
                self.timeout,
            )
            return None
        return answer[0] if answer else None
