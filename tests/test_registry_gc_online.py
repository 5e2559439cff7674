"""Online registry GC while 20 pushes run: only planted garbage goes, every pushed image pulls back intact."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from dockyard.registry import digests, gc
from dockyard.registry.storage import Storage
from helpers import sha

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
PUSHES = 20
OLD = time.time() - 7200
CHUNK = 256 << 10


def upload(http: requests.Session, base: str, repo: str, data: bytes) -> str:
    """Docker's way: HEAD, and only when missing a chunked upload (POST, PATCH..., PUT)."""
    digest = sha(data)
    if http.head(f"{base}/v2/{repo}/blobs/{digest}").status_code == 200:
        return digest
    r = http.post(f"{base}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = base + r.headers["Location"]
    for start in range(0, len(data), CHUNK):
        part = data[start:start + CHUNK]
        r = http.patch(location, data=part, headers={"Content-Range": f"{start}-{start + len(part) - 1}"})
        assert r.status_code == 202, r.text
        location = base + r.headers["Location"]
    r = http.put(location, params={"digest": digest})
    assert r.status_code == 201, r.text
    return digest


def manifest(config: bytes, layers: list[bytes]) -> bytes:
    """An OCI image manifest for blobs already uploaded."""
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                                  "size": len(config)},
                       "layers": [{"mediaType": LAYER, "digest": sha(l), "size": len(l)} for l in layers]}).encode()


def push_image(base: str, repo: str, tag: str, config: bytes, layers: list[bytes]) -> bytes:
    """Upload the blobs, then put the manifest under `tag`; returns the manifest."""
    with requests.Session() as http:
        for blob in [*layers, config]:
            upload(http, base, repo, blob)
        body = manifest(config, layers)
        r = http.put(f"{base}/v2/{repo}/manifests/{tag}", data=body, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
    return body


def age(root: Path) -> None:
    """Make everything stored so far look two hours old."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(dirpath, name), (OLD, OLD))


def test_gc_during_20_concurrent_pushes(reg):
    base, data = reg.url, reg.root / "data"
    kept = push_image(base, "planted/kept", "v1", b'{"kept":1}', [b"kept layer"])
    push_image(base, "planted/untagged", "gone", b'{"untagged":1}', [b"untagged layer"])
    untagged = sha(manifest(b'{"untagged":1}', [b"untagged layer"]))
    assert requests.delete(f"{base}/v2/planted/untagged/manifests/gone").status_code == 202
    garbage = {upload(requests.Session(), base, "planted/junk", os.urandom(1000 + i)) for i in range(5)}
    shared = os.urandom(2 << 20)
    upload(requests.Session(), base, "planted/junk", shared)  # unreferenced, but every push below reuses it
    age(data)

    images = {f"push/n{i}": (json.dumps({"n": i}).encode(), [shared, os.urandom(1 << 20), os.urandom(300_000)])
              for i in range(PUSHES)}
    removed: set[str] = set()
    runs = 0
    done = threading.Event()

    def collector() -> None:
        nonlocal runs
        while not done.is_set():
            report = gc.collect(Storage(data), grace=60)
            removed.update(report.blobs + report.manifests)
            runs += 1

    with ThreadPoolExecutor(PUSHES + 1) as pool:
        gc_run = pool.submit(collector)
        pushes = [pool.submit(push_image, base, repo, "t", config, layers) for repo, (config, layers) in images.items()]
        bodies = [p.result() for p in pushes]
        done.set()
        gc_run.result()
    assert runs >= 2
    final = gc.collect(Storage(data), grace=60)
    removed.update(final.blobs + final.manifests)

    for (repo, (config, layers)), body in zip(images.items(), bodies):
        r = requests.get(f"{base}/v2/{repo}/manifests/t", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == body
        for blob in [config, *layers]:
            got = requests.get(f"{base}/v2/{repo}/blobs/{sha(blob)}")
            assert got.status_code == 200 and got.content == blob, (repo, sha(blob))
    assert requests.get(f"{base}/v2/planted/kept/manifests/v1").content == kept
    assert requests.get(f"{base}/v2/planted/kept/blobs/{sha(b'kept layer')}").content == b"kept layer"
    expected = garbage | {sha(b'{"untagged":1}'), sha(b"untagged layer"), untagged,
                          f"planted/untagged@{untagged}"}
    assert expected <= removed, f"planted garbage left: {expected - removed}"
    assert removed - expected <= {sha(shared)}, f"GC removed referenced data: {removed - expected}"
    assert requests.get(f"{base}/v2/planted/untagged/manifests/{untagged}").status_code == 404
    for digest in garbage:
        assert requests.head(f"{base}/v2/planted/junk/blobs/{digest}").status_code == 404


def test_gc_keeps_the_servers_in_flight_temp_files(reg):
    """Regression: opening the storage for GC used to wipe tmp/, where the live server stages manifests."""
    in_flight = reg.root / "data" / "tmp" / "staged-manifest"
    in_flight.write_bytes(b"{}")
    gc.collect(Storage(reg.root / "data"), grace=0)
    assert in_flight.read_bytes() == b"{}"
    in_flight.unlink()


def test_blob_head_waits_for_a_running_sweep(reg):
    """Regression: a HEAD answered 200 for a blob the running sweep then deleted, so the push's manifest failed."""
    base, data = reg.url, reg.root / "data"
    layer = os.urandom(4096)
    digest = upload(requests.Session(), base, "race", layer)
    storage = Storage(data)
    answered: list[int] = []
    with storage.locked(exclusive=True):
        head = threading.Thread(target=lambda: answered.append(
            requests.head(f"{base}/v2/race/blobs/{digest}", timeout=30).status_code))
        head.start()
        time.sleep(0.5)
        assert not answered, "HEAD must wait for the sweep"
        storage.delete_blob_file(digests.parse(digest))
    head.join(30)
    assert answered == [404]
    push_image(base, "race", "t", b'{"race":1}', [layer])
    assert requests.get(f"{base}/v2/race/blobs/{digest}").content == layer
