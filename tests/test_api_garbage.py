"""Bad input gets a clear 4xx and never kills the daemon: garbage sent to every route."""

from __future__ import annotations

import json
import random

ROUTES = [
    ("POST", "/containers/create"), ("GET", "/containers/json"), ("GET", "/containers/{id}/json"),
    ("POST", "/containers/{id}/start"), ("POST", "/containers/{id}/stop"), ("POST", "/containers/{id}/restart"),
    ("POST", "/containers/{id}/kill"), ("POST", "/containers/{id}/pause"), ("POST", "/containers/{id}/unpause"),
    ("POST", "/containers/{id}/wait"), ("DELETE", "/containers/{id}"), ("POST", "/containers/{id}/rename"),
    ("GET", "/containers/{id}/logs"), ("GET", "/containers/{id}/top"), ("POST", "/containers/prune"),
    ("GET", "/images/json"), ("GET", "/images/{id}/json"), ("GET", "/images/{id}/history"),
    ("POST", "/images/{id}/tag"), ("DELETE", "/images/{id}"), ("POST", "/images/create"),
    ("POST", "/images/load"), ("GET", "/images/get"), ("POST", "/images/prune"),
    ("GET", "/_ping"), ("GET", "/version"), ("GET", "/info"),
]
GARBAGE_BODIES = [b"{", b"[]", b"null", b"\x00\xff\xfe", b'{"Image": 5}', b'{"Env": "x", "Image": "busybox"}',
                  b'{"Image": "busybox", "HostConfig": []}', b'{"Image": "busybox", "Cmd": [1, 2]}',
                  b'{"Image": "busybox", "Labels": {"a": 1}}', b"x" * 10000]
GARBAGE_QUERIES = ["", "?filters={", "?filters=[1]", "?t=abc", "?signal=NOPE", "?all=maybe&limit=x",
                   "?tail=abc", "?since=yesterday", "?condition=sometime", "?name=%2F%2F..", "?repo=UPPER&tag=::"]
GARBAGE_IDS = ["nosuch", "..", "%00", "a" * 300, "%2e%2e%2f"]


def test_garbage_never_kills_the_daemon(clean):
    rng = random.Random(42)
    for method, route in ROUTES:
        for _ in range(6):
            path = route.replace("{id}", rng.choice(GARBAGE_IDS)) + rng.choice(GARBAGE_QUERIES)
            body = rng.choice(GARBAGE_BODIES) if method in ("POST", "PUT") else None
            status, raw = clean.request(method, path, body, timeout=10)
            assert status < 500 or status == 501, (method, path, body, status, raw)
            if status >= 400:
                assert "message" in json.loads(raw), raw
    assert clean.request("GET", "/_ping")[0] == 200


def test_wrong_types_are_400(clean):
    status, raw = clean.request("POST", "/containers/create", b'{"Image": "busybox", "Env": "A=1"}')
    assert status == 400 and b"cannot unmarshal" in raw
    status, raw = clean.request("POST", "/containers/create", b"{not json")
    assert status == 400
    status, raw = clean.request("POST", "/containers/create", {"Image": "nosuch:tag"})
    assert status == 404 and json.loads(raw)["message"] == "No such image: nosuch:tag"
    status, raw = clean.request("GET", "/containers/nosuch/json")
    assert status == 404 and json.loads(raw)["message"] == "No such container: nosuch"


def test_api_version_prefixes(clean):
    assert clean.request("GET", "/v1.24/version")[0] == 200
    assert clean.request("GET", "/v1.45/containers/json")[0] == 200
    status, raw = clean.request("GET", "/v1.99/version")
    assert status == 400 and b"client version 1.99 is too new. Maximum supported API version is 1.45" in raw
    status, raw = clean.request("GET", "/v1.12/version")
    assert status == 400 and b"is too old" in raw
