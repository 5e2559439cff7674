"""CLI tests: argument parsing, tables, and end-to-end runs against a fake Docker API on a unix socket.

Where the real docker CLI is installed, its output against the same fake is the expected output.
"""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

import pytest

from dockyard.cli.flags import Flag, UsageError, parse_args
from dockyard.cli.formatters import display_ports
from dockyard.cli.output import tabwrite

NOW = int(time.time())
CID = "4f66ad9a0b2e1a4bd8fc4e1d6a1c9e0b1e4a4b1f0a0c2d3e4f5a6b7c8d9e0f1a"
IID = "sha256:" + "a" * 64
CONTAINERS = [
    {"Id": CID, "Names": ["/web"], "Image": "nginx:latest", "ImageID": IID,
     "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'", "Created": NOW - 7200,
     "Ports": [{"PrivatePort": 80, "Type": "tcp"}, {"IP": "0.0.0.0", "PrivatePort": 443, "PublicPort": 8443,
                                                   "Type": "tcp"}],
     "Labels": {"b": "2", "a": "1"}, "State": "running", "Status": "Up 2 hours", "HostConfig": {},
     "NetworkSettings": {"Networks": {"bridge": {}}}, "Mounts": []},
    {"Id": "b" * 64, "Names": ["/db"], "Image": "postgres", "ImageID": "sha256:" + "c" * 64,
     "Command": "echo", "Created": NOW - 630, "Ports": [], "Labels": {}, "State": "exited",
     "Status": "Exited (0) 10 seconds ago", "HostConfig": {}, "NetworkSettings": {"Networks": {}}, "Mounts": []},
]
IMAGES = [
    {"Id": IID, "RepoTags": ["nginx:latest", "myrepo/nginx:v1"], "RepoDigests": ["nginx@sha256:" + "d" * 64],
     "Created": NOW - 86400 * 10, "Size": 187654321, "SharedSize": -1, "Containers": -1, "Labels": {},
     "ParentId": "", "VirtualSize": 187654321},
    {"Id": "sha256:" + "e" * 64, "RepoTags": [], "RepoDigests": [], "Created": NOW - 3600 * 5, "Size": 1234,
     "SharedSize": -1, "Containers": -1, "Labels": None, "ParentId": ""},
]
INSPECT = {"Id": CID, "Name": "/web", "State": {"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0},
           "Config": {"Image": "nginx", "Labels": {"a": "1"}, "Env": ["A=1", "B=<2>"], "Tty": False},
           "Mounts": [{"Source": "/src", "Destination": "/dst"}], "HostConfig": {"NetworkMode": "default"}}
VERSION = {"Platform": {"Name": "Dockyard Engine"}, "Version": "0.1.0", "ApiVersion": "1.45",
           "MinAPIVersion": "1.24", "GitCommit": "abc", "GoVersion": "python3.11", "Os": "linux", "Arch": "amd64",
           "KernelVersion": "6.1", "BuildTime": "2025-01-01T00:00:00Z",
           "Components": [{"Name": "Engine", "Version": "0.1.0", "Details": {
               "ApiVersion": "1.45", "MinAPIVersion": "1.24", "GitCommit": "abc", "GoVersion": "python3.11",
               "Os": "linux", "Arch": "amd64", "BuildTime": "2025-01-01T00:00:00Z", "Experimental": "false"}},
               {"Name": "runtime", "Version": "1.0", "Details": {"GitCommit": "x"}}]}


def frame(stream: int, data: bytes) -> bytes:
    """One stdcopy frame."""
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


class FakeDocker(BaseHTTPRequestHandler):
    """Answers the few routes the tested commands use."""

    protocol_version = "HTTP/1.1"
    log: list[str] = []

    def log_message(self, *args: Any) -> None:
        """Keep test output quiet."""

    def address_string(self) -> str:
        """Unix sockets have no peer address."""
        return "unix"

    def _json(self, obj: Any, status: int = 200) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.45")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        path = self.path.split("?", 1)[0]
        parts = path.split("/")
        if parts[1].startswith("v1."):
            path = "/" + "/".join(parts[2:])
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        FakeDocker.log.append(f"{self.command} {self.path} {body.decode()}")
        if path == "/_ping":
            self.send_response(200)
            self.send_header("Api-Version", "1.45")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
        elif path == "/containers/json":
            self._json(CONTAINERS)
        elif path == "/images/json":
            self._json(IMAGES)
        elif path == "/version":
            self._json(VERSION)
        elif path in (f"/containers/{CID}/json", "/containers/web/json"):
            self._json(INSPECT)
        elif path.startswith("/containers/") and path.endswith("/json") or path.startswith("/images/") and \
                path.endswith("/json") or path.endswith("/stop") and "missing" in path:
            kind = "container" if path.startswith("/containers") else "image"
            name = path.split("/")[2]
            self._json({"message": f"No such {kind}: {name}"}, 404)
        elif path.endswith("/stop"):
            self.send_response(204)
            self.end_headers()
        elif path.endswith("/logs"):
            data = frame(1, b"out line\n") + frame(2, b"err line\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._json({"message": f"page not found: {path}"}, 404)

    do_GET = do_POST = do_DELETE = _route


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture()
def fake_host() -> Iterator[str]:
    """A fake daemon on a temporary unix socket; yields its DOCKER_HOST."""
    tmp = tempfile.mkdtemp(prefix="dockyard-cli-")
    path = os.path.join(tmp, "docker.sock")
    server = _Server(path, FakeDocker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeDocker.log = []
    try:
        yield "unix://" + path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        shutil.rmtree(tmp)


def run_cli(host: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dockyard` in a subprocess against host."""
    env = dict(os.environ, DOCKER_HOST=host, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "src"))
    return subprocess.run([sys.executable, "-c", "import sys; from dockyard.cli.main import main; sys.exit(main())",
                           *args], env=env, capture_output=True, text=True, timeout=30)


def run_docker(host: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run the real docker CLI against host, or None if it is not installed."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    tmp = tempfile.mkdtemp(prefix="dockyard-dockercfg-")
    try:
        env = dict(os.environ, DOCKER_HOST=host, DOCKER_CONFIG=tmp)
        return subprocess.run([docker, *args], env=env, capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(tmp)


def test_parse_args_pflag_syntax() -> None:
    flags = [Flag("all", "a"), Flag("quiet", "q"), Flag("last", "n", "int", -1), Flag("filter", "f", "list"),
             Flag("format", "", "string")]
    opts, pos = parse_args(flags, ["-aq", "-n3", "--filter", "a=b", "-f=c=d", "--format={{.ID}}", "x"])
    assert opts == {"all": True, "quiet": True, "last": 3, "filter": ["a=b", "c=d"], "format": "{{.ID}}"}
    assert pos == ["x"]
    opts, pos = parse_args(flags, ["img", "-a"], interspersed=False)
    assert pos == ["img", "-a"] and opts["all"] is False
    with pytest.raises(UsageError, match="unknown flag: --nope"):
        parse_args(flags, ["--nope"])
    with pytest.raises(UsageError, match="flag needs an argument: 'n' in -n"):
        parse_args(flags, ["-n"])


def test_tabwriter_and_ports() -> None:
    assert tabwrite("A\tBB\tC\nxxxxxxxxxxxxx\ty\tz\n") == ("A               BB        C\n"
                                                          "xxxxxxxxxxxxx   y         z\n")
    ports = [{"PrivatePort": 81, "Type": "tcp"}, {"PrivatePort": 80, "Type": "tcp"},
             {"IP": "0.0.0.0", "PrivatePort": 443, "PublicPort": 8443, "Type": "tcp"}]
    assert display_ports(ports) == "80-81/tcp, 0.0.0.0:8443->443/tcp"


COMPARED = [
    ["ps"], ["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-q", "-a"], ["ps", "-a", "-s"],
    ["ps", "--format", "{{.ID}} {{.Labels}} {{.Names}}"], ["ps", "--format", 'table {{.ID}}\\t{{.Label "a"}}'],
    ["ps", "--format", "{{.Foo}}"], ["ps", "--format", "{{.ID"], ["ps", "--format", "{{json .}}"],
    ["images", "-q"], ["container", "ls"],
    ["inspect", "web"], ["inspect", "-f", '{{.State.Pid}} {{index .Config.Labels "a"}}', "web"],
    ["inspect", "-f", "{{.State.Nope}}", "web"], ["container", "inspect", "missing"], ["image", "inspect", "missing"],
    ["stop", "web", "missing"], ["rm", "missing"], ["ps", "--foo"],
]


@pytest.mark.skipif(shutil.which("docker") is None, reason="real docker CLI not installed")
@pytest.mark.parametrize("args", COMPARED, ids=lambda a: " ".join(a))
def test_same_output_as_docker(fake_host: str, args: list[str]) -> None:
    expected = run_docker(fake_host, *args)
    got = run_cli(fake_host, *args)
    assert expected is not None
    assert got.returncode == expected.returncode
    assert got.stdout == expected.stdout
    assert got.stderr.replace("dockyard", "docker") == expected.stderr


def test_version_server_part_matches_docker(fake_host: str) -> None:
    expected = run_docker(fake_host, "version")
    got = run_cli(fake_host, "version")
    assert got.returncode == 0
    assert got.stdout.split("\n\n", 1)[1] == (expected.stdout.split("\n\n", 1)[1] if expected else got.stdout)
    assert got.stdout.startswith("Client:\n Version:           ")


def test_logs_demultiplexes(fake_host: str) -> None:
    got = run_cli(fake_host, "logs", "web")
    assert (got.returncode, got.stdout, got.stderr) == (0, "out line\n", "err line\n")


def test_unreachable_daemon() -> None:
    got = run_cli("unix:///nonexistent/dockyard.sock", "ps")
    assert got.returncode == 1
    assert got.stderr == ("Cannot connect to the Docker daemon at unix:///nonexistent/dockyard.sock. "
                          "Is the docker daemon running?\n")
