"""Bad input gets a clear 4xx and never kills the daemon: garbage sent to every route."""

from __future__ import annotations

import json
import random

from helpers import tar_files

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


def _dockerd_ok(daemon) -> None:
    """The CLI listings every user depends on still work."""
    for args in (["images"], ["ps", "-a"]):
        result = daemon.docker(*args)
        assert result.returncode == 0, (args, result.stderr)
    ids = daemon.docker("ps", "-aq").stdout.decode().split()
    if ids:
        result = daemon.docker("inspect", *ids)
        assert result.returncode == 0, result.stderr


def test_bad_input_is_4xx_and_nothing_unrenderable_is_stored(clean, need_docker_cli):
    cid = clean.api("POST", "/containers/create", {"Image": "busybox"})["Id"]
    deep = b'{"Image":"busybox","X":' + b"[" * 50000 + b"]" * 50000 + b"}"
    cases = [
        # wrong types, committed or created: refused before anything is stored
        ("POST", f"/commit?container={cid}", b'{"Labels":{"a":1}}', b"Go struct field Config.Labels of type string"),
        ("POST", "/containers/create", b'{"Image":"busybox","Labels":{"a":1}}', b"CreateRequest.Labels"),
        ("POST", "/containers/create", b'{"Image":"busybox","labels":{"a":true}}', b"cannot unmarshal bool"),
        ("POST", "/containers/create", b'{"Image":"busybox","Cmd":[1,2]}', b"cannot unmarshal number"),
        ("POST", "/build?labels=%7B%22a%22%3A1%7D", b"", b"cannot unmarshal number"),
        ("POST", "/networks/create", b'{"Name":"n1","Labels":{"a":[]}}', b"cannot unmarshal array"),
        ("POST", "/networks/create", b'{"Name":"n1","IPAM":{"Options":{"a":1}}}', b"IPAM.IPAM.Options"),
        ("POST", "/volumes/create", b'{"Name":"v1","Labels":{"a":{}}}', b"cannot unmarshal object"),
        # integer overflow
        ("POST", "/containers/create", b'{"Image":"busybox","HostConfig":{"Memory":9223372036854775808}}',
         b"number 9223372036854775808 into Go struct field HostConfig.HostConfig.Memory of type int64"),
        ("POST", "/containers/create", b'{"Image":"busybox","HostConfig":{"CpuShares":1e30}}', b"of type int64"),
        ("POST", f"/containers/{cid}/update", b'{"PidsLimit":99999999999999999999}', b"of type int64"),
        ("POST", f"/containers/{cid}/stop?t=99999999999999999999", None, b"value out of range"),
        ("GET", "/containers/json?limit=-99999999999999999999", None, b"value out of range"),
        ("POST", f"/containers/{cid}/kill?signal=" + "9" * 5000, None, b"Invalid signal"),
        ("POST", f"/containers/{cid}/attach?detachKeys=%C3%A9&stdout=1", None, b"Invalid detach keys"),
        # NUL bytes, lone surrogates, nesting, NaN
        ("POST", "/containers/create", b'{"Image":"busy\\u0000box"}', b"NUL byte"),
        ("POST", "/containers/create?name=a%00b", b'{"Image":"busybox"}', b"NUL byte"),
        ("POST", "/containers/create", b'{"Image":"busybox","Env":["A=\\u0000"]}', b"NUL byte"),
        ("GET", "/containers/%00/json", None, b"NUL byte"),
        ("POST", "/containers/create", b'{"Image":"busybox","Labels":{"a":"\\ud800"}}', b"lone surrogate"),
        ("POST", "/volumes/create", b'{"Name":"\\udc00x"}', b"lone surrogate"),
        ("POST", "/containers/create", deep, b"exceeded max depth"),
        ("POST", "/containers/create", b"[" * 100000, b"invalid JSON"),
        ("GET", "/containers/json?filters=" + "%5B" * 3000 + "%5D" * 3000, None, b"exceeded max depth"),
        ("POST", "/containers/create", b'{"Image":"busybox","StopTimeout":NaN}', b"invalid JSON"),
        ("GET", "/events?since=1e999&until=1", None, b"failed to parse"),
        ("GET", "/events?since=nan&until=1", None, b"failed to parse"),
        ("GET", f"/containers/{cid}/logs?stdout=1&since=" + "9" * 400 + "h", None, b"failed to parse"),
        # overlong version prefixes
        ("GET", "/v1.4444444444444444444/containers/json", None, b"is too new"),
        ("GET", "/v1." + "4" * 5000 + "/version", None, b"is too new"),
        # references, names
        ("POST", "/images/busybox/tag?repo=UPPER&tag=x", None, b"invalid reference format"),
        ("POST", "/images/busybox/tag?repo=ok&tag=::", None, b"invalid reference format"),
        ("POST", "/images/busybox/tag?repo=" + "a" * 300, None, b"invalid reference format"),
        ("POST", "/images/create?fromSrc=-&repo=ok&tag=::", b"", b"invalid reference format"),
        ("POST", f"/commit?container={cid}&repo=UPPER", None, b"invalid reference format"),
        ("POST", f"/containers/{cid}/rename?name=a%2Fb", None, b"Invalid container name"),
        ("POST", "/networks/create", b'{"Name":"   "}', b"invalid name"),
        ("POST", "/networks/create", b'{"Name":""}', b"network name is required"),
        ("POST", "/volumes/create", b'{"Name":"a/b"}', b"invalid characters"),
        ("POST", "/volumes/create", b'{"Name":".."}', b"invalid characters"),
        ("POST", "/volumes/create", b'{"Name":"' + b"a" * 300 + b'"}', b"too long"),
    ]
    for method, path, body, expected in cases:
        status, raw = clean.request(method, path, body, timeout=15)
        assert 400 <= status < 500, (method, path[:80], body and body[:80], status, raw[:300])
        assert expected in raw, (method, path[:80], raw[:300])
    _dockerd_ok(clean)
    assert clean.request("GET", "/_ping")[0] == 200
    assert b"unexpected error" not in clean.log.read_bytes()


def test_pull_references_are_refused_without_the_network(clean):
    """Invalid fromImage references are answered before any registry is contacted (none is reachable)."""
    for query in ("fromImage=UPPER", "fromImage=busybox&tag=::", "fromImage=" + "a" * 300, "fromImage=a%2F%2Fb"):
        status, raw = clean.request("POST", f"/images/create?{query}", timeout=10)
        assert status < 500, (query, status, raw)
        assert b"invalid reference format" in raw, (query, raw)


def _image_archive(config: dict) -> bytes:
    """A docker-save archive of one image without layers."""
    import hashlib
    raw = json.dumps(config).encode()
    name = hashlib.sha256(raw).hexdigest()
    manifest = json.dumps([{"Config": f"{name}.json", "RepoTags": [f"hostile:{name[:12]}"], "Layers": []}]).encode()
    return tar_files({f"{name}.json": raw, "manifest.json": manifest})


def test_images_docker_cannot_decode_are_never_recorded(clean, need_docker_cli):
    """An image whose config has a number for a label (or an unparsable created time) would break
    `docker images` for every user: load (and pull, which records images the same way) refuses it."""
    base = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": []}, "config": {"Cmd": ["true"]}}
    for change in ({"config": {"Labels": {"a": 1}}}, {"created": "yesterday"}, {"config": {"Env": "A=1"}},
                   {"history": [{"created": 5}]}, {"config": {"Labels": {"a": "\ud800"}}}):
        status, raw = clean.request("POST", "/images/load", _image_archive({**base, **change}),
                                    headers={"Content-Type": "application/x-tar"})
        assert b"invalid image config" in raw, (change, status, raw)
        assert 400 <= status < 500 or b'"error"' in raw, (change, status, raw)
    status, raw = clean.request("POST", "/images/load", _image_archive(base),
                                headers={"Content-Type": "application/x-tar"})
    assert status == 200 and b"Loaded image: hostile:" in raw, raw
    _dockerd_ok(clean)
    for image in clean.api("GET", "/images/json"):
        if any(tag.startswith("hostile:") for tag in image["RepoTags"] or []):
            clean.request("DELETE", f"/images/{image['Id']}?force=1")
