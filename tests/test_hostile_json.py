"""Issue 10, item 10: any API body that is not a flat JSON object of the
expected fields is a 400, never a 500, and changes nothing.

Small bodies (about 2 KB, well under the 16 KiB limit, so no 413 can hide the
bug): 1,000 levels of nesting inside an otherwise valid body, arrays,
non-objects, and extra nested fields, on every POST endpoint of the API.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from tests.attack_support import NEW_PASSWORD
from tests.attack_support import build_app
from tests.attack_support import dispose
from tests.attack_support import sqlite_url
from tests.helpers import PASSWORD
from tests.helpers import device
from tests.helpers import login

DEPTH = 1000
ORIGIN = "http://localhost"


def nested_array(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int = DEPTH) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def valid_body(path: str, session_id: str) -> dict[str, t.Any]:
    return {
        "sign-in/email": {"email": "alice@example.com", "password": PASSWORD},
        "change-password": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        "revoke-session": {"id": session_id},
        "revoke-sessions": {"password": PASSWORD},
        "revoke-other-sessions": {"password": PASSWORD},
        "sign-out": {},
    }[path]


def with_extra(body: dict[str, t.Any], raw_value: str) -> bytes:
    """``body`` plus one more field whose (raw JSON) value is ``raw_value``."""
    text = json.dumps(body)
    inner = text[1:-1]
    return ("{" + inner + (", " if inner else "") + '"extra": ' + raw_value + "}").encode()


def hostile_bodies(path: str, session_id: str) -> dict[str, bytes]:
    body = valid_body(path, session_id)
    first = next(iter(body), None)
    cases = {
        "1000-deep array in a valid body": with_extra(body, nested_array()),
        "1000-deep object in a valid body": with_extra(body, nested_object()),
        "1000-deep array as the body": nested_array().encode(),
        "1000-deep object as the body": nested_object().encode(),
        "array body": json.dumps([body]).encode(),
        "empty array": b"[]",
        "string body": b'"alice@example.com"',
        "number body": b"42",
        "null body": b"null",
        "true body": b"true",
        "extra nested object": with_extra(body, '{"x": {"y": [1, 2, {"z": null}]}}'),
        "extra nested array": with_extra(body, "[[1], [2, [3]]]"),
    }
    if first is not None:
        nested = dict(body)
        nested[first] = {"$ne": None}
        cases["expected field as an object"] = json.dumps(nested).encode()
        nested[first] = [body[first]]
        cases["expected field as an array"] = json.dumps(nested).encode()
    for name, raw in cases.items():
        assert len(raw) < 16 * 1024, name
    return cases


PATHS = ["sign-in/email", "change-password", "revoke-session", "revoke-sessions", "revoke-other-sessions", "sign-out"]
CASES = list(hostile_bodies("sign-in/email", "x"))
# sign-out has no fields, so it has no "expected field" cases.
PARAMS = [(p, c) for p in PATHS for c in CASES if not (p == "sign-out" and c.startswith("expected field"))]


@pytest.fixture
def app(tmp_path: t.Any) -> t.Iterator[t.Any]:
    # As in production: an unhandled error is a 500 response, not an exception in the test.
    app = build_app(sqlite_url(tmp_path), ["alice@example.com"], PROPAGATE_EXCEPTIONS=False)
    yield app
    dispose(app)


@pytest.mark.parametrize(("path", "case"), PARAMS)
def test_hostile_json_is_a_400_on_every_api_post(app: t.Any, path: str, case: str) -> None:
    client = device(app)
    other = device(app, remote_addr="203.0.113.7")
    login(client)
    other_id = login(other)
    before = client.get("/api/auth/get-session").json["session"]["id"]
    raw = hostile_bodies(path, other_id)[case]
    headers = {"Origin": ORIGIN, "X-CSRFToken": client.get("/api/auth/csrf-token").json["csrfToken"]}
    resp = client.post("/api/auth/" + path, data=raw, content_type="application/json", headers=headers)
    assert resp.status_code == 400, (
        f"POST /api/auth/{path} with {case}: {resp.status_code} {resp.get_data(as_text=True)[:200]!r}"
    )
    assert resp.is_json and resp.json["error"]["code"] == "invalid_body", resp.get_data(as_text=True)
    # Nothing happened: both devices are still signed in, the password is unchanged.
    session = client.get("/api/auth/get-session").json
    assert session is not None and session["session"]["id"] == before, "this session was changed"
    assert other.get("/api/auth/get-session").json is not None, "the other device was signed out"
    probe = device(app, remote_addr="198.51.100.1")
    assert probe.post("/test/login", data={"email": "alice@example.com", "password": PASSWORD}).status_code == 200
