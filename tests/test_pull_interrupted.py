"""A pull cut by SIGKILL of the daemon (while downloading, then while unpacking) resumes cleanly on restart."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
from pathlib import Path

import pytest

from daemon_harness import Daemon, UnixHTTPConnection, destroy, new_daemon
from registry_fixtures import dockyard_registry
from registry_images import busybox_base, data_layer, file_digest, image_config, push

LAYERS = 5
LAYER_SIZE = 20 << 20


@pytest.fixture(scope="module")
def pushed():
    """Our registry holding busybox + five 20 MB random layers; yields (registry, name, file digests)."""
    work = Path(tempfile.mkdtemp(prefix="dy-bigimage-"))
    try:
        for reg in dockyard_registry():
            base_config, base = busybox_base(work)
            files, layers = {}, [base]
            for i in range(LAYERS):
                payload = os.urandom(LAYER_SIZE)
                files[f"/data/l{i}.bin"] = hashlib.sha256(payload).hexdigest()
                layers.append(data_layer(work / f"l{i}.tar", f"l{i}.bin", payload))
            push(reg.url, "big/image", "v1", image_config(base_config, layers), layers)
            yield reg, f"{reg.host}/big/image:v1", files
    finally:
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()


def pull_until(daemon: Daemon, name: str, stop_when) -> bool:
    """Stream a pull's progress; SIGKILL the daemon at the first message `stop_when` accepts. True if killed."""
    repo, _, tag = name.rpartition(":")
    conn = UnixHTTPConnection(str(daemon.socket), timeout=120)
    try:
        conn.request("POST", f"/images/create?fromImage={repo}&tag={tag}")
        resp = conn.getresponse()
        assert resp.status == 200
        while line := resp.readline():
            if line.strip() and stop_when(json.loads(line)):
                daemon.process.send_signal(signal.SIGKILL)
                daemon.process.wait(30)
                daemon.process = None
                return True
        return False
    finally:
        conn.close()


def assert_store_consistent(daemon: Daemon) -> None:
    """No ingest or staging leftovers; every content blob matches its name."""
    content = daemon.data_root / "content"
    assert not list((content / "ingest").iterdir()), "a half-written download survived the restart"
    for blob in (content / "blobs" / "sha256").iterdir():
        assert file_digest(blob) == f"sha256:{blob.name}", f"corrupt blob {blob.name}"
    snapshots = daemon.data_root / "snapshots"
    assert not [e for e in snapshots.iterdir() if e.name.startswith("tmp-")], "a half-unpacked snapshot survived"


def partial_download(message: dict) -> bool:
    detail = message.get("progressDetail") or {}
    return message.get("status") == "Downloading" and 0 < detail.get("current", 0) < detail.get("total", 0)


def test_pull_killed_mid_download_and_mid_unpack_resumes(pushed):
    reg, name, files = pushed
    daemon = new_daemon()
    try:
        daemon.start()
        assert pull_until(daemon, name, partial_download), "the pull finished before it could be interrupted"
        daemon.start()
        assert_store_consistent(daemon)
        fetching: set[str] = set()
        completes: set[str] = set()

        def all_downloaded(message: dict) -> bool:
            if message.get("status") == "Pulling fs layer":
                fetching.add(message["id"])
            elif message.get("status") == "Download complete":
                completes.add(message["id"])
            return bool(fetching) and completes == fetching

        assert pull_until(daemon, name, all_downloaded), "the pull did not reach the unpacking step"
        daemon.start()
        assert daemon.request("GET", f"/images/{name}/json")[0] == 404, "killed before the image was recorded"
        assert_store_consistent(daemon)
        status, body = daemon.request("POST", f"/images/create?fromImage={name.rpartition(':')[0]}&tag=v1",
                                      timeout=120)
        assert status == 200 and b"errorDetail" not in body, body[-500:]
        assert b"Status: Downloaded newer image" in body or b"Image is up to date" in body
        assert_store_consistent(daemon)
        ran = daemon.docker("run", "--rm", name, "sha256sum", *files, timeout=120)
        assert ran.returncode == 0, ran.stderr
        sums = {line.split()[1]: line.split()[0] for line in ran.stdout.decode().splitlines()}
        assert sums == files
        assert daemon.docker("rmi", name).returncode == 0
    finally:
        if daemon.process is not None:
            daemon.remove_all_containers()
        destroy(daemon)
