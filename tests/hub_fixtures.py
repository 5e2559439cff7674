"""A `dockyard registry serve --auth hub` with accounts made by the CLI, and HTTP helpers for its token flow."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import requests

from registry_fixtures import Server

PASSWORDS = {"boss": "boss-pass-1", "alice": "alice-pass-1", "bob": "bob-pass-12", "carol": "carol-pass-1"}


def registry_cli(data: Path, *args: str, stdin: str = "") -> str:
    """Run `dockyard registry ... --root data`; its stdout."""
    done = subprocess.run([sys.executable, "-m", "dockyard.entry", "registry", *args, "--root", str(data)],
                          input=stdin, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


class Hub(Server):
    """The server with its data directory (for the account commands)."""

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
