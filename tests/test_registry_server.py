"""The registry's HTTP API against the OCI distribution spec: uploads, manifests, tags, referrers, auth, GC."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from helpers import sha
from registry_fixtures import dockyard_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def push_blob(base: str, repo: str, data: bytes, alg: str = "sha256") -> str:
    digest = sha(data, alg)
    r = requests.post(f"{base}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    r = requests.put(base + r.headers["Location"], params={"digest": digest}, data=data)
    assert r.status_code == 201, r.text
    return digest


def image_manifest(base: str, repo: str, layer: bytes = b"layer", **extra) -> bytes:
    config = b'{"architecture":"amd64","os":"linux"}'
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": push_blob(base, repo, config), "size": len(config)},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                       "digest": push_blob(base, repo, layer), "size": len(layer)}], **extra}
    return json.dumps(doc).encode()


def put_manifest(base: str, repo: str, ref: str, body: bytes, media=OCI_MANIFEST) -> requests.Response:
    return requests.put(f"{base}/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": media})


def test_chunked_upload_range_status_and_out_of_order(reg):
    base, data = reg.url, b"x" * 1000 + b"y" * 500
    r = requests.post(f"{base}/v2/a/b/blobs/uploads/")
    loc = r.headers["Location"]
    r = requests.patch(base + loc, data=data[:1000], headers={"Content-Range": "0-999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-999"
    r = requests.patch(base + loc, data=data[1000:], headers={"Content-Range": "1200-1699"})
    assert r.status_code == 416
    assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
    assert requests.get(base + loc).headers["Range"] == "0-999"
    r = requests.patch(base + loc, data=data[1000:], headers={"Content-Range": "1000-1499"})
    assert r.status_code == 202
    r = requests.put(base + loc, params={"digest": sha(data)})
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == sha(data)
    assert requests.get(f"{base}/v2/a/b/blobs/{sha(data)}").content == data
    head = requests.head(f"{base}/v2/a/b/blobs/{sha(data)}")
    assert head.status_code == 200 and head.headers["Content-Length"] == "1500"
    part = requests.get(f"{base}/v2/a/b/blobs/{sha(data)}", headers={"Range": "bytes=998-1001"})
    assert part.status_code == 206 and part.content == b"xxyy"
    assert part.headers["Content-Range"] == "bytes 998-1001/1500"
    assert requests.get(base + loc).status_code == 404


def test_single_post_sha512_digest_mismatch_mount_and_delete(reg):
    base, data = reg.url, b"hello sha512"
    r = requests.post(f"{base}/v2/one/blobs/uploads/", params={"digest": sha(data, "sha512")}, data=data)
    assert r.status_code == 201, r.text
    assert requests.get(f"{base}/v2/one/blobs/{sha(data, 'sha512')}").content == data
    r = requests.post(f"{base}/v2/one/blobs/uploads/", params={"digest": sha(b"other")}, data=data)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert requests.head(f"{base}/v2/one/blobs/{sha(b'other')}").status_code == 404
    r = requests.post(f"{base}/v2/two/blobs/uploads/", params={"mount": sha(data, "sha512"), "from": "one"})
    assert r.status_code == 201
    assert requests.get(f"{base}/v2/two/blobs/{sha(data, 'sha512')}").content == data
    r = requests.post(f"{base}/v2/three/blobs/uploads/", params={"mount": sha(b"nope"), "from": "one"})
    assert r.status_code == 202
    assert requests.delete(f"{base}/v2/two/blobs/{sha(data, 'sha512')}").status_code == 202
    r = requests.get(f"{base}/v2/two/blobs/{sha(data, 'sha512')}")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_manifests_tags_catalog_and_negotiation(reg):
    base = reg.url
    body = image_manifest(base, "lib/app")
    for tag in ("v3", "v1", "v2"):
        r = put_manifest(base, "lib/app", tag, body)
        assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == sha(body)
    r = requests.get(f"{base}/v2/lib/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert r.content == body and r.headers["Content-Type"] == OCI_MANIFEST
    assert requests.head(f"{base}/v2/lib/app/manifests/{sha(body)}").headers["Content-Length"] == str(len(body))
    r = requests.get(f"{base}/v2/lib/app/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["v1", "v2"] and 'last=v2' in r.headers["Link"]
    assert requests.get(f"{base}/v2/lib/app/tags/list", params={"n": 2, "last": "v2"}).json()["tags"] == ["v3"]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha(body), "size": len(body),
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    assert put_manifest(base, "lib/app", "multi", index, OCI_INDEX).status_code == 201
    r = requests.get(f"{base}/v2/lib/app/manifests/multi", headers={"Accept": OCI_MANIFEST})
    assert r.content == body, "a client that cannot read indexes gets the amd64 manifest"
    assert requests.get(f"{base}/v2/lib/app/manifests/multi", headers={"Accept": OCI_INDEX}).content == index
    missing = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": "x", "digest": sha(b"absent"), "size": 6}, "layers": []})
    r = put_manifest(base, "lib/app", "bad", missing.encode())
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    image_manifest(base, "other")
    assert requests.get(f"{base}/v2/_catalog", params={"n": 1}).json() == {"repositories": ["lib/app"]}
    assert requests.get(f"{base}/v2/_catalog", params={"n": 1, "last": "lib/app"}).json() == \
        {"repositories": ["other"]}
    assert requests.delete(f"{base}/v2/lib/app/manifests/v3").status_code == 202
    assert requests.get(f"{base}/v2/lib/app/manifests/v3").json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert requests.delete(f"{base}/v2/lib/app/manifests/{sha(body)}").status_code == 202
    assert requests.get(f"{base}/v2/lib/app/tags/list").json()["tags"] == ["multi"]
    assert requests.get(f"{base}/v2/nothing/tags/list").json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert requests.get(f"{base}/v2/UPPER/tags/list").json()["errors"][0]["code"] == "NAME_INVALID"


def test_referrers_with_subject_and_artifact_type(reg):
    base = reg.url
    subject = image_manifest(base, "art")
    put_manifest(base, "art", "v1", subject)
    for kind in ("application/vnd.example.sbom", "application/vnd.example.sig"):
        empty = b"{}"
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
               "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": push_blob(base, "art", empty),
                          "size": 2},
               "layers": [{"mediaType": "text/plain", "digest": push_blob(base, "art", kind.encode()),
                           "size": len(kind)}],
               "subject": {"mediaType": OCI_MANIFEST, "digest": sha(subject), "size": len(subject)}}
        body = json.dumps(doc).encode()
        r = put_manifest(base, "art", sha(body), body)
        assert r.status_code == 201 and r.headers["OCI-Subject"] == sha(subject)
    r = requests.get(f"{base}/v2/art/referrers/{sha(subject)}")
    assert r.headers["Content-Type"] == OCI_INDEX
    assert sorted(m["artifactType"] for m in r.json()["manifests"]) == \
        ["application/vnd.example.sbom", "application/vnd.example.sig"]
    r = requests.get(f"{base}/v2/art/referrers/{sha(subject)}", params={"artifactType": "application/vnd.example.sig"})
    assert [m["artifactType"] for m in r.json()["manifests"]] == ["application/vnd.example.sig"]
    assert r.headers["OCI-Filters-Applied"] == "artifactType"


def test_gc_removes_only_unreferenced(reg):
    base = reg.url
    keep = image_manifest(base, "gc", b"kept layer")
    put_manifest(base, "gc", "keep", keep)
    drop = image_manifest(base, "gc", b"dropped layer")
    put_manifest(base, "gc", "drop", drop)
    requests.delete(f"{base}/v2/gc/manifests/drop")
    orphan = push_blob(base, "gc", b"orphan")
    gc = [sys.executable, "-m", "dockyard.entry", "registry", "gc", "--root", str(reg.root / "data"), "--grace", "0"]
    dry = subprocess.run(gc + ["--dry-run"], capture_output=True, text=True, check=True).stdout
    assert orphan in dry and sha(b"dropped layer") in dry and sha(b"kept layer") not in dry
    assert requests.head(f"{base}/v2/gc/blobs/{orphan}").status_code == 200
    subprocess.run(gc, capture_output=True, check=True)
    assert requests.head(f"{base}/v2/gc/blobs/{orphan}").status_code == 404
    assert requests.head(f"{base}/v2/gc/blobs/{sha(b'dropped layer')}").status_code == 404
    assert requests.get(f"{base}/v2/gc/manifests/{sha(drop)}").status_code == 404
    assert requests.get(f"{base}/v2/gc/manifests/keep").content == keep
    assert requests.get(f"{base}/v2/gc/blobs/{sha(b'kept layer')}").content == b"kept layer"
    fresh = push_blob(base, "gc", b"fresh")
    subprocess.run(gc[:-2], capture_output=True, check=True)
    assert requests.head(f"{base}/v2/gc/blobs/{fresh}").status_code == 200, "grace keeps a push in progress"


def test_hub_page_and_search(reg):
    put_manifest(reg.url, "hubrepo", "v1", image_manifest(reg.url, "hubrepo"))
    page = requests.get(reg.url + "/")
    assert "hubrepo" in page.text and "v1" in page.text and page.headers["Content-Type"].startswith("text/html")
    assert requests.get(reg.url + "/v1/search", params={"q": "hub"}).json()["results"][0]["name"] == "hubrepo"


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    entry = subprocess.run([sys.executable, "-m", "dockyard.entry", "registry", "htpasswd", "alice"],
                           input="s3cret\n", capture_output=True, text=True, check=True).stdout
    sha1 = base64.b64encode(hashlib.sha1(b"pw2").digest()).decode()
    path.write_text(entry + f"bob:{{SHA}}{sha1}\n")
    return path


def test_basic_auth_with_anonymous_read(htpasswd):
    for reg in dockyard_registry("--htpasswd", str(htpasswd), "--anonymous-read"):
        base = reg.url
        r = requests.get(base + "/v2/")
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        assert requests.get(base + "/v2/", auth=("alice", "s3cret")).status_code == 200
        assert requests.get(base + "/v2/", auth=("bob", "pw2")).status_code == 200
        assert requests.get(base + "/v2/", auth=("alice", "wrong")).status_code == 401
        assert requests.post(f"{base}/v2/x/blobs/uploads/").status_code == 401
        assert requests.post(f"{base}/v2/x/blobs/uploads/", auth=("alice", "s3cret")).status_code == 202
        assert requests.get(f"{base}/v2/x/tags/list").json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_token_auth_scopes(htpasswd):
    for reg in dockyard_registry("--htpasswd", str(htpasswd), "--auth", "token"):
        base = reg.url
        r = requests.post(f"{base}/v2/x/blobs/uploads/")
        assert r.status_code == 401
        challenge = r.headers["WWW-Authenticate"]
        assert challenge.startswith(f'Bearer realm="{base}/auth/token"') and 'scope="repository:x:pull,push"' in challenge
        pull_only = requests.get(f"{base}/auth/token", params={"service": "dockyard-registry",
                                                               "scope": "repository:x:pull"},
                                 auth=("alice", "s3cret")).json()["token"]
        headers = {"Authorization": f"Bearer {pull_only}"}
        assert requests.post(f"{base}/v2/x/blobs/uploads/", headers=headers).status_code == 401
        full = requests.get(f"{base}/auth/token", params={"service": "dockyard-registry",
                                                          "scope": "repository:x:pull,push"},
                            auth=("alice", "s3cret")).json()["token"]
        assert requests.post(f"{base}/v2/x/blobs/uploads/",
                             headers={"Authorization": f"Bearer {full}"}).status_code == 202
        assert requests.post(f"{base}/v2/y/blobs/uploads/",
                             headers={"Authorization": f"Bearer {full}"}).status_code == 401
        assert requests.get(f"{base}/auth/token", params={"scope": "repository:x:pull"},
                            auth=("alice", "bad")).status_code == 401
        anon = requests.get(f"{base}/auth/token", params={"scope": "repository:x:pull,push"}).json()["token"]
        assert requests.get(f"{base}/v2/x/tags/list", headers={"Authorization": f"Bearer {anon}"}).status_code == 401
