"""A tiny MaxMind DB writer for the tests: an IPv6 tree (IPv4 under ``::/96``)
with 24-bit records, enough for :class:`flask_sessionauth.core.geoip.MaxMindResolver`
to read with ``maxminddb`` (format: https://maxmind.github.io/MaxMind-DB/)."""

from __future__ import annotations

import ipaddress
import pathlib
import struct
import typing as t


def _control(kind: int, size: int) -> bytes:
    assert size < 29
    if kind <= 7:
        return bytes([(kind << 5) | size])
    return bytes([size, kind - 7])  # extended type


class U16(int):
    """A value libmaxminddb wants as uint16 (the metadata's sizes and versions)."""


class U64(int):
    """A value libmaxminddb wants as uint64 (``build_epoch``)."""


def encode(value: t.Any) -> bytes:
    """One value of the data section (maps, strings, arrays, unsigned ints)."""
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, int):
        kind, width = (5, 2) if isinstance(value, U16) else (9, 8) if isinstance(value, U64) else (6, 4)
        raw = value.to_bytes(width, "big").lstrip(b"\0")
        return _control(kind, len(raw)) + raw
    raise TypeError(value)


def write(path: pathlib.Path, networks: dict[str, dict[str, t.Any]]) -> pathlib.Path:
    """Write ``{"198.51.100.0/24": record, ...}`` as an ``.mmdb`` at ``path``."""
    nodes: list[list[t.Any]] = [[None, None]]
    data = b""
    for cidr, record in networks.items():
        net = ipaddress.ip_network(cidr)
        bits = int(net.network_address)  # an IPv4 network sits at ::a.b.c.d (the 128-bit value is the same)
        length = net.prefixlen + (96 if net.version == 4 else 0)
        offset = len(data)
        data += encode(record)
        node = 0
        for i in range(length):
            bit = (bits >> (127 - i)) & 1
            if i == length - 1:
                nodes[node][bit] = ("data", offset)
            else:
                nxt = nodes[node][bit]
                if not isinstance(nxt, int):
                    nodes.append([None, None])
                    nxt = nodes[node][bit] = len(nodes) - 1
                node = nxt
    count = len(nodes)

    def value(rec: t.Any) -> int:
        if rec is None:
            return count
        if isinstance(rec, int):
            return rec
        return count + 16 + rec[1]

    tree = b"".join(struct.pack(">I", value(left))[1:] + struct.pack(">I", value(right))[1:] for left, right in nodes)
    metadata = {
        "node_count": count,
        "record_size": U16(24),
        "ip_version": U16(6),
        "database_type": "Test-City",
        "languages": ["en"],
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(1_700_000_000),
        "description": {"en": "test database"},
    }
    path.write_bytes(tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + encode(metadata))
    return path
