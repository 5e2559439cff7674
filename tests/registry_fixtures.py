"""Helpers for registry tests: run `dockyard registry serve` or Debian's docker-registry on a free port."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import requests

from helpers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 20) -> None:
    """Wait until `url` answers (any status)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


class Server:
    """A registry process on 127.0.0.1:port; stop() ends it and removes its directory."""

    def __init__(self, argv_for_port, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.log = open(root / "server.log", "wb")
        self.proc = subprocess.Popen(argv_for_port(self.port), stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/v2/", self.proc)

    @property
    def host(self) -> str:
        """host:port."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://{self.host}"

    def stop(self) -> None:
        """Terminate the process and delete its files."""
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def dockyard_registry(*extra: str) -> Iterator[Server]:
    """`dockyard registry serve` with extra flags (a generator for fixtures)."""
    root = Path(tempfile.mkdtemp(prefix="dy-registry-"))
    server = Server(lambda port: [sys.executable, "-m", "dockyard.entry", "registry", "serve", "--addr",
                                  f"127.0.0.1:{port}", "--root", str(root / "data"), *extra], root)
    try:
        yield server
    finally:
        server.stop()


def secured_registry(tmp_path: Path, *extra: str) -> Iterator[Server]:
    """`dockyard registry serve` with an htpasswd file that lets in carol (password `pw`) only."""
    entry = subprocess.run([sys.executable, "-m", "dockyard.entry", "registry", "htpasswd", "carol"],
                           input="pw\n", capture_output=True, text=True, check=True).stdout
    (tmp_path / "htpasswd").write_text(entry)
    yield from dockyard_registry("--htpasswd", str(tmp_path / "htpasswd"), *extra)


def distribution_registry() -> Iterator[Server]:
    """Debian's docker-registry (distribution 2.8) with a config of our own."""
    binary = shutil.which("docker-registry")
    if binary is None:
        import pytest
        pytest.skip("docker-registry is not installed")
    root = Path(tempfile.mkdtemp(prefix="dy-distribution-"))

    def argv(port: int) -> list[str]:
        config = root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: "
            f"{root / 'data'}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
        return [binary, "serve", str(config)]

    server = Server(argv, root)
    try:
        yield server
    finally:
        server.stop()
