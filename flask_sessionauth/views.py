"""Account pages (placeholder replaced by the dashboard work)."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask


def create_blueprint(app: Flask) -> Blueprint:
    bp = Blueprint("sessionauth", __name__)
    return bp
