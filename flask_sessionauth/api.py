"""JSON API (placeholder replaced by the API work)."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask


def create_api_blueprint(app: Flask) -> Blueprint:
    return Blueprint("sessionauth_api", __name__)
