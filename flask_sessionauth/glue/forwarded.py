"""Trusted reverse proxies (``SESSIONAUTH_TRUSTED_PROXIES``): which
``X-Forwarded-For`` entry is the client.

* ``None`` (the default): nobody is trusted, ``REMOTE_ADDR`` is the client.
  A request that carries ``X-Forwarded-For`` or ``Forwarded`` anyway is
  logged once: behind a proxy every client would share the proxy's address,
  and one rate-limit bucket.
* an ``int`` *n*: exactly *n* proxies in front, Werkzeug's ``ProxyFix`` with
  ``x_for=n, x_proto=n``. ``Host`` is never taken from ``X-Forwarded-Host``
  (the same-origin check compares against it): wrap ``ProxyFix`` yourself
  with ``x_host`` and set Flask's ``TRUSTED_HOSTS`` if you need that.
* a list of networks (``["10.0.0.0/8", "2001:db8::/32"]``): when
  ``REMOTE_ADDR`` is in one, the client is the right-most ``X-Forwarded-For``
  entry outside them, and the scheme the right-most ``X-Forwarded-Proto``.
"""

from __future__ import annotations

import ipaddress
import logging
import typing as t

from flask import Flask
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

from ..core.addresses import host_part

log = logging.getLogger("flask_sessionauth")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded")


def parse(setting: object) -> int | list[Network] | None:
    """The setting checked: ``None``, a hop count or networks; a
    :class:`ValueError` saying what is wrong otherwise."""
    if setting is None:
        return None
    if isinstance(setting, int) and not isinstance(setting, bool):
        if setting < 1:
            raise ValueError(f"SESSIONAUTH_TRUSTED_PROXIES must be a hop count >= 1, not {setting}")
        return setting
    entries = [setting] if isinstance(setting, str) else setting
    if not isinstance(entries, (list, tuple)) or not entries:
        raise ValueError(f"SESSIONAUTH_TRUSTED_PROXIES must be None, a hop count or a list of CIDRs, not {setting!r}")
    networks: list[Network] = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(str(entry).strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"SESSIONAUTH_TRUSTED_PROXIES: {entry!r} is not a network ({exc})") from None
        if network.prefixlen == 0:
            # Every hop trusted: the left-most entry, which any client writes, would be the client.
            raise ValueError(
                f"SESSIONAUTH_TRUSTED_PROXIES: {entry!r} trusts every address, so any client could name "
                "its own address; list the proxies' networks, or give the number of proxies in front"
            )
        networks.append(network)
    return networks


def install(app: Flask, setting: object) -> bool:
    """Wrap ``app.wsgi_app`` as the setting says; ``True`` if any proxy is trusted."""
    try:
        trusted = parse(setting)
    except ValueError as exc:
        log.error("flask-sessionauth: %s", exc)
        raise
    if trusted is None:
        return False
    wsgi = app.wsgi_app
    if isinstance(trusted, int):
        app.wsgi_app = ProxyFix(wsgi, x_for=trusted, x_proto=trusted)  # type: ignore[method-assign]
    else:
        app.wsgi_app = TrustedNetworks(wsgi, trusted)  # type: ignore[method-assign]
    return True


class TrustedNetworks:
    """WSGI middleware: the client behind proxies in trusted networks."""

    def __init__(self, app: t.Any, networks: list[Network]) -> None:
        self.app = app
        self.networks = networks

    def trusted(self, address: str | None) -> bool:
        host = host_part(address) if address else None
        try:
            ip = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        # A dual-stack socket shows an IPv4 proxy as ``::ffff:a.b.c.d``. Not the
        # NAT64 or IPv4-compatible forms: those are IPv6 clients (bucketed by
        # the IPv4 address they embed), and trusting one as that proxy would
        # let it name its own address.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        if self.trusted(environ.get("REMOTE_ADDR")):
            hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
            untrusted = [hop for hop in hops if not self.trusted(hop)]
            environ.setdefault(
                "werkzeug.proxy_fix.orig",
                {"REMOTE_ADDR": environ.get("REMOTE_ADDR"), "wsgi.url_scheme": environ.get("wsgi.url_scheme")},
            )
            if hops:
                environ["REMOTE_ADDR"] = untrusted[-1] if untrusted else hops[0]
            protos = [p.strip().lower() for p in environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")]
            if protos[-1] in ("http", "https"):
                environ["wsgi.url_scheme"] = protos[-1]
        return self.app(environ, start_response)


def warn_if_forwarded(headers: Headers, environ: t.Mapping[str, t.Any]) -> bool:
    """Log (and return ``True``) when a request carries forwarded headers
    while no proxy is trusted (by this setting or the app's own ``ProxyFix``);
    the caller does this once per app."""
    present = [name for name in FORWARDED_HEADERS if name in headers]
    if not present or "werkzeug.proxy_fix.orig" in environ:
        return False
    log.warning(
        "flask-sessionauth: a request carries %s but SESSIONAUTH_TRUSTED_PROXIES is not set, so the header is "
        "ignored and the client address is the connecting peer's. Behind a reverse proxy every client shares "
        "the proxy's address (and its rate-limit bucket): set SESSIONAUTH_TRUSTED_PROXIES to the number of "
        "proxies or their networks. Without a proxy, ignore this (the header is forged).",
        " and ".join(present),
    )
    return True


def through_trusted_proxy(environ: t.Mapping[str, t.Any]) -> bool:
    """Whether this request came through a trusted proxy: the hop count's
    ``ProxyFix`` or :class:`TrustedNetworks` (for a peer in a trusted network)
    rewrote it. Headers a CDN adds are believed only then."""
    return "werkzeug.proxy_fix.orig" in environ
