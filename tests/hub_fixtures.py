"""A `dockyard registry serve --auth hub` with accounts made by the CLI, and HTTP helpers for its token flow."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import requests

from helpers import free_port
from registry_fixtures import Server, wait_http

PASSWORDS = {"boss": "boss-pass-1", "alice": "alice-pass-1", "bob": "bob-pass-12", "carol": "carol-pass-1"}


def registry_cli(data: Path, *args: str, stdin: str = "") -> str:
    """Run `dockyard registry ... --root data`; its stdout."""
    done = subprocess.run([sys.executable, "-m", "dockyard.entry", "registry", *args, "--root", str(data)],
                          input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


class Hub(Server):
    """The server with its data directory (for the account commands); it can be restarted on the same data."""

    def __init__(self, argv_for_port, root: Path) -> None:
        self.argv_for_port = argv_for_port
        super().__init__(argv_for_port, root)

    def halt(self) -> None:
        """Stop the process, keeping its data."""
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()

    def start(self) -> None:
        """Start again (on a new port) after halt()."""
        self.port = free_port()
        self.log = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen(self.argv_for_port(self.port), stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/v2/", self.proc)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def token(self, user: str | None, scope: str) -> str:
        """A registry bearer token for `scope` (anonymous when `user` is None)."""
        auth = (user, PASSWORDS[user]) if user else None
        r = requests.get(f"{self.url}/auth/token", params={"service": "dockyard-registry", "scope": scope}, auth=auth)
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def bearer(self, user: str | None, repo: str, actions: str = "pull,push") -> dict[str, str]:
        """Authorization header for `actions` on `repo`."""
        return {"Authorization": "Bearer " + self.token(user, f"repository:{repo}:{actions}")}


def hub_registry(*extra: str) -> Iterator[Hub]:
    """A hub with users boss (admin), alice, bob, carol; organisation acme (owner alice) whose team readers
    (carol) may read acme/app."""
    root = Path(tempfile.mkdtemp(prefix="dy-hub-"))
    data = root / "data"
    for user, password in PASSWORDS.items():
        registry_cli(data, "user", "add", user, *(["--admin"] if user == "boss" else []), stdin=password + "\n")
    registry_cli(data, "org", "create", "acme", "--owner", "alice")
    registry_cli(data, "team", "create", "acme", "readers")
    registry_cli(data, "team", "add", "acme", "readers", "carol")
    registry_cli(data, "team", "grant", "acme", "readers", "app", "read")
    server = Hub(lambda port: [sys.executable, "-m", "dockyard.entry", "registry", "serve", "--addr",
                               f"127.0.0.1:{port}", "--root", str(data), "--auth", "hub", *extra], root)
    try:
        yield server
    finally:
        server.stop()


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _blob(hub: Hub, repo: str, data: bytes, headers: dict[str, str]) -> dict[str, object]:
    """Upload one blob in a single POST; its descriptor fields."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(f"{hub.url}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data, headers=headers)
    assert r.status_code == 201, r.text
    return {"digest": digest, "size": len(data)}


def push_image(hub: Hub, user: str, repo: str, tag: str, payload: bytes, arch: str = "amd64") -> tuple[str, int]:
    """Push a one-layer image as `user`; (manifest digest, manifest size)."""
    headers = hub.bearer(user, repo)
    layer = _blob(hub, repo, payload, headers)
    config = _blob(hub, repo, json.dumps({"architecture": arch, "os": "linux"}).encode(), headers)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}]}).encode()
    r = requests.put(f"{hub.url}/v2/{repo}/manifests/{tag}", data=body,
                     headers={**headers, "Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], len(body)


def push_index(hub: Hub, user: str, repo: str, tag: str, children: list[tuple[str, int, str]]) -> str:
    """Push an image index of (digest, size, architecture) linux children as `user`; its digest."""
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": s, "platform": {"os": "linux", "architecture": a}}
        for d, s, a in children]}).encode()
    r = requests.put(f"{hub.url}/v2/{repo}/manifests/{tag}", data=body,
                     headers={**hub.bearer(user, repo), "Content-Type": OCI_INDEX})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]


def hub_login(hub: Hub, user: str) -> dict[str, str]:
    """Authorization header with a hub token from /v2/users/login."""
    r = requests.post(f"{hub.url}/v2/users/login", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["token"]}
