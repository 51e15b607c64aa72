"""Resolvers: ``ip -> Location | None`` callables for ``SESSIONAUTH_GEOIP_RESOLVER``.

* :class:`GeoIP2FastResolver` (the default): the offline data bundled with the
  ``geoip2fast`` package (extra ``[geoip]``): countries only, IPv4 and IPv6,
  from MaxMind GeoLite2-Country of 2024-06-18. No account, no download; the
  data (1.9 MB compressed, ~50 MB in memory, about 0.2 s) is loaded once per
  process, on first use. Without
  the package it gives no location and says so once in the log.
* :class:`MaxMindResolver`: a MaxMind ``.mmdb`` the app provides (GeoLite2 or
  GeoIP2 City/Country, or any database of that layout), read with ``maxminddb``.

Both take the full address; callers never pass a local one (see
:mod:`flask_sessionauth.glue.location`).
"""

from __future__ import annotations

import logging
import threading
import typing as t

from .location import Location
from .location import checked
from .location import parse_address

log = logging.getLogger("flask_sessionauth")

#: The IPv4-and-IPv6 country file that ships inside ``geoip2fast``.
GEOIP2FAST_DATA = "geoip2fast-ipv6.dat.gz"


class GeoIP2FastResolver:
    """Countries from ``geoip2fast``'s bundled data, loaded once per process."""

    _lock = threading.Lock()
    _reader: t.Any = None
    _missing_logged = False

    def _load(self) -> t.Any:
        with self._lock:
            cls = GeoIP2FastResolver
            if cls._reader is None:
                try:
                    from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]
                except ImportError:
                    if not cls._missing_logged:
                        cls._missing_logged = True
                        log.warning(
                            "flask-sessionauth: geoip2fast is not installed, so sessions get no location; "
                            "install flask-sessionauth[geoip] or set SESSIONAUTH_GEOIP_RESOLVER"
                        )
                    return None
                cls._reader = GeoIP2Fast(verbose=False, geoip2fast_data_file=GEOIP2FAST_DATA)
            return cls._reader

    def __call__(self, ip: str) -> Location | None:
        address = parse_address(ip)
        reader = self._reader or self._load()
        if address is None or reader is None:
            return None
        found = reader.lookup(str(address))
        return checked(Location(found.country_code)) if not found.is_private else None


class MaxMindResolver:
    """A MaxMind ``.mmdb`` file: country, first subdivision (region) and city,
    in English. Opened once (memory-mapped where the C extension is present)."""

    def __init__(self, path: str, *, language: str = "en") -> None:
        import maxminddb

        self.reader = maxminddb.open_database(path)
        self.language = language

    def _name(self, record: t.Mapping[str, t.Any], key: str) -> str | None:
        part = record.get(key)
        names = part.get("names") if isinstance(part, dict) else None
        return names.get(self.language) if isinstance(names, dict) else None

    def __call__(self, ip: str) -> Location | None:
        address = parse_address(ip)
        if address is None:
            return None
        record = self.reader.get(str(address))
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        subdivisions = record.get("subdivisions") or [{}]
        region = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else {}
        return checked(
            (
                country.get("iso_code") if isinstance(country, dict) else None,
                self._name({"r": region}, "r"),
                self._name(record, "city"),
            )
        )
