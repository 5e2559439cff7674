"""Start and stop real `dockyard daemon` processes for tests, each on its own data root and socket."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from helpers import ok
from host_probe import mounts_under

REPO = Path(__file__).resolve().parent.parent
DOCKYARD = [sys.executable, "-m", "dockyard.entry"]


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


@dataclass
class Daemon:
    """One running daemon process and where it keeps its state."""

    base: Path
    process: subprocess.Popen | None = None
    log: Path = field(init=False)
    pids: set[int] = field(default_factory=set)  # every process started as this daemon, for orphan checks

    def __post_init__(self) -> None:
        self.log = self.base / "daemon.log"

    @property
    def data_root(self) -> Path:
        return self.base / "data"

    @property
    def exec_root(self) -> Path:
        return self.base / "exec"

    @property
    def socket(self) -> Path:
        return self.base / "dockyard.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """Environment for a CLI (ours or docker's) that talks to this daemon."""
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = str(self.base / "docker-config")
        return env

    def command(self) -> list[str]:
        """The daemon's command line."""
        return DOCKYARD + ["daemon", "-H", self.host, "--data-root", str(self.data_root),
                           "--exec-root", str(self.exec_root), "--config-file", str(self.config_file()),
                           "--log-level", "debug"]

    def start(self, wait: float = 20) -> None:
        """Start the daemon and wait until it answers /_ping."""
        self.base.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        out.close()
        self.pids.add(self.process.pid)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if self.request("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer in {wait}s:\n{self.log.read_text()}")

    def config_file(self) -> Path:
        path = self.base / "daemon.json"
        if not path.exists():
            path.write_text("{}")
        return path

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
        self.process = None

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> tuple[int, bytes]:
        """One API call; returns (status, raw body)."""
        conn = UnixHTTPConnection(str(self.socket), timeout=timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            all_headers = {"Content-Type": "application/json"} if data is not None else {}
            all_headers.update(headers or {})
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def hijack(self, path: str, body: bytes = b"", timeout: float = 10) -> tuple[socket.socket, bytes]:
        """POST `path` (under /v1.45) with Upgrade: tcp; the connected socket and the response head."""
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout)
        sock.connect(str(self.socket))
        sock.sendall(f"POST /v1.45{path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        return sock, head

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """An API call that must succeed; returns decoded JSON (or None for an empty body)."""
        status, raw = self.request(method, path, body)
        if status >= 400:
            raise AssertionError(f"{method} {path} -> {status}: {raw!r}")
        return json.loads(raw) if raw.strip() else None

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run our `dockyard` CLI against this daemon."""
        return subprocess.run(DOCKYARD + list(args), env=self.env(), input=input, capture_output=True,
                              timeout=timeout, cwd=REPO)

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the real docker CLI against this daemon."""
        return subprocess.run(["docker", *args], env=self.env(), input=input, capture_output=True,
                              timeout=timeout)

    def docker_ok(self, *args: str) -> str:
        """stdout (stripped) of a docker CLI command that must succeed."""
        return ok(self.docker(*args))

    def inspect(self, ref: str) -> dict[str, Any]:
        """`docker inspect` of one object, which must exist."""
        return json.loads(self.docker_ok("inspect", ref))[0]

    def load_busybox(self) -> None:
        result = subprocess.run([sys.executable, "-m", "dockyard.tools.busybox_image", "--host", self.host],
                                capture_output=True, timeout=120, cwd=REPO)
        if result.returncode != 0:
            raise RuntimeError(f"busybox image failed: {result.stdout!r} {result.stderr!r}")

    def remove_all_containers(self) -> None:
        for entry in self.api("GET", "/containers/json?all=1"):
            self.request("DELETE", f"/containers/{entry['Id']}?force=1")


def new_daemon() -> Daemon:
    return Daemon(Path(tempfile.mkdtemp(prefix="dy-test-")))


@contextlib.contextmanager
def busybox_daemon() -> Iterator[Daemon]:
    """A started daemon with busybox:latest; afterwards its containers are removed (it is started again if it was
    left stopped) and it is destroyed."""
    d = new_daemon()
    d.start()
    try:
        d.load_busybox()
        yield d
    finally:
        try:
            if d.process is None:
                d.start()
            d.remove_all_containers()
        finally:
            destroy(d)


def destroy(daemon: Daemon) -> None:
    """Stop the daemon and remove its state; fails loudly if mounts were left behind."""
    daemon.stop()
    left = mounts_under(daemon.base)
    shutil.rmtree(daemon.base, ignore_errors=not left)
    assert not left, f"mounts left behind: {left}"
