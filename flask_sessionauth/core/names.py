"""Names people give their devices ("Work laptop"): one cleaning rule for the
pages, the API, the CLI and the Python API."""

from __future__ import annotations

import unicodedata

from .errors import InvalidDeviceName

#: Longest device name, in characters (the column's width).
DEVICE_NAME_LENGTH = 60
#: Read this far into the input at most (a 10 kB name costs nothing more).
_READ = DEVICE_NAME_LENGTH * 4
#: Bidirectional embeddings, overrides and isolates (a name must not reorder
#: the text around it) and marks; zero-width joiners stay (emoji sequences).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_device_name(value: object) -> str | None:
    """``value`` as a device name to store: plain text, NFC, control and
    bidirectional-control characters removed, whitespace collapsed. Empty
    (or only spaces) → ``None``, which clears the name. Not text, or over
    :data:`DEVICE_NAME_LENGTH` characters: :class:`InvalidDeviceName`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidDeviceName()
    if len(value) > _READ:
        raise InvalidDeviceName()
    text = unicodedata.normalize("NFC", value)
    text = "".join(
        " " if c.isspace() else c
        for c in text
        if c not in _BIDI and (c.isspace() or unicodedata.category(c) not in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
    )
    text = " ".join(text.split())
    if len(text) > DEVICE_NAME_LENGTH:
        raise InvalidDeviceName()
    return text or None
