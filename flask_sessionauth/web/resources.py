"""Where the shipped templates and static files are, and the inline icons."""

from __future__ import annotations

import functools
import os

from flask import current_app
from markupsafe import Markup

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resource_dir(name: str) -> str:
    """``templates`` or ``static``: inside the package in a wheel install (setup.cfg
    maps the repo's top-level folders there), else the repository's top level
    (editable install or plain checkout)."""
    packaged = os.path.join(_PACKAGE_DIR, name)
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(_PACKAGE_DIR), name)


@functools.lru_cache(maxsize=32)
def _read_icon(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def icon(name: str) -> Markup:
    """Inline SVG from ``static/sessionauth/icons`` so it follows ``currentColor``
    (light and dark themes) without an ``<img>`` per icon."""
    if not name.replace("-", "").isalnum():
        raise ValueError(f"bad icon name {name!r}")
    folder = current_app.blueprints["sessionauth"].static_folder if "sessionauth" in current_app.blueprints else None
    folder = folder or resource_dir("static")
    return Markup(_read_icon(os.path.join(folder, "sessionauth", "icons", f"{name}.svg")))
