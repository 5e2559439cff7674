"""The HTTP server end to end over a unix socket: framing, streaming, hijacking, errors, versions, fuzzing."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from dockyard.errors import Conflict, InsufficientStorage, NotFound
from dockyard.events.bus import EventBus
from dockyard.server.app import serve
from dockyard.server.routers import system
from dockyard.server.routing import HIJACKED, Empty, File, Json, Raw, Request, Router, Stream
from dockyard.server.services import Services
from dockyard.system.service import SystemService


class ServerThread:
    """Runs `serve()` on its own event loop in a thread, so tests can use blocking clients."""

    def __init__(self, router: Router, sock: Path) -> None:
        self.router = router
        self.sock = sock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        """Start the loop and the listener."""
        self.thread.start()
        self.server = self.call(serve(self.router, [f"unix://{self.sock}"]))

    def call(self, coro, timeout: float = 10):
        """Run a coroutine on the server loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Close gracefully, stop the loop and join the thread."""
        self.call(self.server.close(grace=2))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path: Path, timeout: float = 5) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = str(path)

    def connect(self) -> None:
        """Connect to the unix socket."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


stream_closed = threading.Event()


def make_router() -> Router:
    """A small router exercising every response kind."""
    r = Router()

    @r.post("/echo")
    async def echo(req: Request) -> Raw:
        return Raw(await req.body(), content_type="application/octet-stream")

    @r.post("/count")
    async def count(req: Request) -> Json:
        total = 0
        async for chunk in req.stream_body():
            total += len(chunk)
        return Json({"bytes": total})

    @r.post("/ignore-body")
    async def ignore(req: Request) -> Empty:
        return Empty()

    @r.get("/stream")
    async def stream(req: Request) -> Stream:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(req.arg_int("n", 3) or 0):
                await asyncio.sleep(0.01)
                yield b'{"i": %d}\n' % i
        return Stream(chunks())

    @r.get("/forever")
    async def forever(req: Request) -> Stream:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                yield b"first\n"
                await asyncio.Event().wait()
            finally:
                stream_closed.set()
        return Stream(chunks())

    @r.post("/hijack")
    async def hijack(req: Request) -> object:
        h = await req.hijack("application/vnd.docker.raw-stream")
        data = await h.reader.read()
        h.writer.write(data.upper())
        await h.writer.drain()
        h.writer.close()
        return HIJACKED

    @r.get("/missing")
    async def missing(req: Request) -> Json:
        raise NotFound("No such container: abc")

    @r.get("/conflict")
    async def conflict(req: Request) -> Json:
        raise Conflict("name in use")

    @r.get("/boom")
    async def boom(req: Request) -> Json:
        raise RuntimeError("kaboom")

    @r.get("/full")
    async def full(req: Request) -> Json:
        raise InsufficientStorage("no space left for the blob")

    @r.get("/empty-file")
    async def empty_file(req: Request) -> File:
        return File("/dev/null", 0, 0)

    @r.get("/where")
    async def where(req: Request) -> Json:
        return Json({"version": req.api_version, "path": req.path, "query": req.query})

    @r.get("/items/{id}/json")
    async def item(req: Request) -> Json:
        return Json(req.params)

    @r.get("/images/json")
    async def images(req: Request) -> Json:
        return Json("list")

    @r.get("/images/{name:path}/json")
    async def image(req: Request) -> Json:
        return Json(req.params)

    @r.get("/args")
    async def args(req: Request) -> Json:
        return Json({"all": req.arg_bool("all"), "limit": req.arg_int("limit", -1),
                     "filters": req.arg_json("filters", {}), "t": req.arg_list("t"),
                     "since": req.arg_time("since")})

    @r.post("/json")
    async def body_json(req: Request) -> Json:
        return Json({"got": await req.json()})
    return r


@pytest.fixture()
def sockdir() -> Iterator[Path]:
    """A short temporary directory for unix sockets (paths are limited to 108 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="dy-http-"))
    yield d
    shutil.rmtree(d)


@pytest.fixture()
def server(sockdir: Path) -> Iterator[ServerThread]:
    """The test router served on a unix socket."""
    srv = ServerThread(make_router(), sockdir / "d.sock")
    srv.start()
    yield srv
    srv.stop()


def raw_exchange(sock_path: Path, data: bytes, timeout: float = 5) -> bytes:
    """Send bytes, half-close, return everything the server sends until it closes."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return read_all(s)


def read_all(s: socket.socket) -> bytes:
    """Read until EOF."""
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def read_head(s: socket.socket) -> tuple[bytes, bytes]:
    """Read a response head; returns (head, bytes already read past it)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, f"EOF before end of head: {buf!r}"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def get(server: ServerThread, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, headers (lower-case), body."""
    conn = UnixHTTPConnection(server.sock)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_keep_alive_reuses_one_connection(server: ServerThread) -> None:
    conn = UnixHTTPConnection(server.sock)
    conn.request("GET", "/where")
    resp = conn.getresponse()
    resp.read()
    first = conn.sock
    for i in range(5):
        conn.request("POST", "/echo", body=b"x" * i)
        resp = conn.getresponse()
        assert resp.read() == b"x" * i
        assert conn.sock is first
    conn.close()


def test_keep_alive_after_a_streamed_response(server: ServerThread) -> None:
    # the streamed answer's end-of-stream watcher must be gone before the next head is read (the Docker SDK's
    # run(remove=True) sent its DELETE after a streamed wait and found the connection closed)
    conn = UnixHTTPConnection(server.sock)
    for n in range(3):
        conn.request("GET", f"/stream?n={n}")
        assert len(conn.getresponse().read().splitlines()) == n
        first = conn.sock
        time.sleep(0.05)  # the server is back to reading before the next request arrives
        conn.request("GET", "/where")
        where = conn.getresponse()
        assert where.status == 200 and json.loads(where.read())["path"] == "/where" and conn.sock is first
    conn.close()


def test_pipelined_requests_answered_in_order(server: ServerThread) -> None:
    reqs = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
            b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nskip!"
            b"GET /where?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = raw_exchange(server.sock, reqs)
    assert out.count(b"HTTP/1.1 ") == 3
    first, second, third = out.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200") and first.endswith(b"\r\n\r\none")
    assert second.startswith(b"204")
    assert third.startswith(b"200") and b'"query": {"a": ["1"]}' in third


def test_chunked_request_body(server: ServerThread) -> None:
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    req = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
    out = raw_exchange(server.sock, req)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert out.endswith(b"\r\n\r\nhello world")


def test_streamed_request_body_large(server: ServerThread) -> None:
    conn = UnixHTTPConnection(server.sock)
    payload = os.urandom(3 << 20)
    conn.request("POST", "/count", body=iter([payload[i:i + 100000] for i in range(0, len(payload), 100000)]),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    assert json.loads(conn.getresponse().read()) == {"bytes": len(payload)}
    conn.close()


def test_expect_100_continue(server: ServerThread) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(server.sock))
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        head, rest = read_head(s)
        assert head == b"HTTP/1.1 100 Continue" and rest == b""
        s.sendall(b"data")
        head, rest = read_head(s)
        assert head.startswith(b"HTTP/1.1 200 OK")
        while len(rest) < 4:
            rest += s.recv(10)
        assert rest == b"data"


def test_streamed_response_is_chunked(server: ServerThread) -> None:
    status, headers, body = get(server, "/stream?n=4")
    assert status == 200
    assert headers["transfer-encoding"] == "chunked" and headers["content-type"] == "application/json"
    assert [json.loads(line)["i"] for line in body.splitlines()] == [0, 1, 2, 3]


def test_stream_is_flushed_and_closed_when_client_leaves(server: ServerThread) -> None:
    stream_closed.clear()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(server.sock))
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = read_head(s)
        assert b"Transfer-Encoding: chunked" in head
        while b"first\n" not in rest:
            rest += s.recv(100)
    assert stream_closed.wait(5), "the stream generator was not closed after the client left"


@pytest.mark.parametrize("upgrade", [True, False])
def test_hijack_echo_with_half_close(server: ServerThread, upgrade: bool) -> None:
    extra = b"Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else b""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(server.sock))
        s.sendall(b"POST /hijack HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" + extra + b"\r\nhello")
        head, rest = read_head(s)
        lines = head.split(b"\r\n")
        if upgrade:
            assert lines[0] == b"HTTP/1.1 101 UPGRADED"
            assert b"Upgrade: tcp" in lines and b"Connection: Upgrade" in lines
        else:
            assert lines[0] == b"HTTP/1.1 200 OK"
            assert not any(line.lower().startswith(b"content-length") for line in lines)
        assert b"Content-Type: application/vnd.docker.raw-stream" in lines
        assert b"Api-Version: 1.45" in lines
        s.sendall(b" world")
        s.shutdown(socket.SHUT_WR)
        assert rest + read_all(s) == b"HELLO WORLD"


def test_error_mapping_and_server_survives(server: ServerThread) -> None:
    conn = UnixHTTPConnection(server.sock)
    for path, status, message in [("/missing", 404, "No such container: abc"), ("/conflict", 409, "name in use"),
                                  ("/boom", 500, "kaboom"), ("/nowhere", 404, "page not found")]:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == status
        assert resp.getheader("Content-Type") == "application/json"
        assert json.loads(resp.read()) == {"message": message}
    conn.request("DELETE", "/where")
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())) == (404, {"message": "page not found"})
    conn.request("GET", "/where")
    assert conn.getresponse().status == 200
    conn.close()


def test_refusals_are_logged(server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """A 4xx is logged at debug with what was refused; a 5xx at error with its traceback."""
    caplog.set_level("DEBUG", logger="dockyard")
    assert get(server, "/missing")[0] == 404
    assert get(server, "/full")[0] == 507
    assert get(server, "/boom")[0] == 500
    records = {r.getMessage(): r for r in caplog.records if r.name.startswith("dockyard.server")}
    refused = records["GET /missing -> 404: No such container: abc"]
    assert refused.levelname == "DEBUG"
    full = records["GET /full -> 507: no space left for the blob"]
    assert full.levelname == "ERROR" and full.exc_info is not None
    boom = records["unexpected error while serving a request (GET /boom)"]
    assert boom.levelname == "ERROR" and boom.exc_info is not None


def test_zero_byte_file_is_served(server: ServerThread) -> None:
    """A zero-byte blob or file: headers with Content-Length 0, and the connection stays usable."""
    conn = UnixHTTPConnection(server.sock)
    for _ in range(2):
        conn.request("GET", "/empty-file")
        resp = conn.getresponse()
        assert (resp.status, resp.getheader("Content-Length"), resp.read()) == (200, "0", b"")
    conn.close()


def test_version_prefixes(server: ServerThread) -> None:
    for prefix, version in [("", "1.45"), ("/v1.45", "1.45"), ("/v1.24", "1.24"), ("/v1.41", "1.41")]:
        status, _, body = get(server, prefix + "/where")
        assert status == 200 and json.loads(body)["version"] == version
        assert json.loads(body)["path"] == "/where"
    status, _, body = get(server, "/v1.99/where")
    assert status == 400
    assert json.loads(body)["message"] == "client version 1.99 is too new. Maximum supported API version is 1.45"
    status, _, body = get(server, "/v1.12/where")
    assert status == 400
    assert json.loads(body)["message"] == ("client version 1.12 is too old. Minimum supported API version is "
                                           "1.24, please upgrade your client to a newer version")


def test_common_headers_and_head(server: ServerThread) -> None:
    status, headers, body = get(server, "/items/abc/json", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(b'{"id": "abc"}\n'))
    assert headers["api-version"] == "1.45" and headers["docker-experimental"] == "false"
    assert headers["ostype"] == "linux" and headers["server"] == "Dockyard/0.1.0 (linux)"


def test_routing_params(server: ServerThread) -> None:
    assert json.loads(get(server, "/items/abc%20d/json")[2]) == {"id": "abc d"}
    assert json.loads(get(server, "/images/json")[2]) == "list"
    assert json.loads(get(server, "/images/reg:5000/a/b:tag/json")[2]) == {"name": "reg:5000/a/b:tag"}
    assert json.loads(get(server, "/v1.45/images/busybox/json")[2]) == {"name": "busybox"}
    assert get(server, "/items/a/b/json")[0] == 404


def test_request_arguments(server: ServerThread) -> None:
    q = "/args?all=1&limit=5&filters=%7B%22a%22%3A%5B%22b%22%5D%7D&t=x&t=y&since=1700000000.5"
    assert json.loads(get(server, q)[2]) == {"all": True, "limit": 5, "filters": {"a": ["b"]},
                                             "t": ["x", "y"], "since": 1700000000.5}
    for value in ("0", "false", "False", ""):
        assert json.loads(get(server, f"/args?all={value}")[2])["all"] is False
    assert json.loads(get(server, "/args?since=2023-11-14T22:13:20Z")[2])["since"] == 1700000000.0
    assert get(server, "/args?limit=abc")[0] == 400
    assert get(server, "/args?filters=%7Bnope")[0] == 400
    assert get(server, "/args?since=yesterday")[0] == 400


def test_request_json_body(server: ServerThread) -> None:
    conn = UnixHTTPConnection(server.sock)
    for body, status in [(b'{"a": 1}', 200), (b"{bad", 400), (b"", 400)]:
        conn.request("POST", "/json", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == status, body
        resp.read()
    conn.close()


def test_garbage_never_kills_the_server(server: ServerThread) -> None:
    rng = random.Random(1234)
    cases = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2000))) for _ in range(30)]
    cases += [b"GET / HTTP/1.1\r\nHost: x", b"GET /where HTTP/1.1\r\nBad Header\r\n\r\n",
              b"GET /where HTTP/9.9\r\n\r\n", b"\r\n\r\n\r\n", b"GET /where HTTP/1.1\r\n" + b"X: y\r\n" * 5000,
              b"GET /where HTTP/1.1\r\nX: " + b"a" * (2 << 20) + b"\r\n\r\n",
              b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
              b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
              b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
              b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort"]
    for case in cases:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(server.sock))
            try:
                s.sendall(case)
                s.shutdown(socket.SHUT_WR)
                out = read_all(s)
            except (BrokenPipeError, ConnectionResetError):
                continue
        assert out == b"" or out.startswith(b"HTTP/1.1 400 ") or out.startswith(b"HTTP/1.1 404 "), (case[:80], out)
    assert get(server, "/where")[0] == 200


def test_huge_header_gets_400(server: ServerThread) -> None:
    out = raw_exchange(server.sock, b"GET /where HTTP/1.1\r\nX: " + b"a" * (200 << 10) + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in out


def test_slow_client_does_not_block_others(server: ServerThread) -> None:
    with socket.socket(socket.AF_UNIX) as slow:
        slow.connect(str(server.sock))
        slow.sendall(b"GET /where HTTP/1.1\r\nHo")
        started = time.monotonic()
        assert get(server, "/where")[0] == 200
        assert time.monotonic() - started < 2


def test_close_removes_socket_and_stale_socket_is_replaced(sockdir: Path) -> None:
    path = sockdir / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    srv = ServerThread(make_router(), path)
    srv.start()
    try:
        assert oct(path.stat().st_mode & 0o777) == "0o660"
        assert get(srv, "/where")[0] == 200
    finally:
        srv.stop()
    assert not path.exists()


class FakeContainers:
    """Counts as the container service reports them."""

    def counts(self) -> dict[str, int]:
        return {"total": 5, "running": 2, "paused": 1, "stopped": 2}


class FakeImages:
    """An image count."""

    def count(self) -> int:
        return 11


@pytest.fixture()
def system_server(sockdir: Path) -> Iterator[ServerThread]:
    """The real system router on a unix socket."""
    events = EventBus()
    root = sockdir / "root"
    services = Services(FakeImages(), FakeContainers(), events,
                        SystemService({}, root, FakeImages(), FakeContainers(), events),
                        *[None] * 17)  # the system routes use no other backend
    router = Router()
    system.register(router, services)
    srv = ServerThread(router, sockdir / "sys.sock")
    srv.start()
    srv.events = events
    yield srv
    srv.stop()


def test_ping_headers(system_server: ServerThread) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = get(system_server, "/_ping", method)
        assert status == 200 and body == (b"OK" if method == "GET" else b"")
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["builder-version"] == "1" and headers["pragma"] == "no-cache"
        assert "no-cache" in headers["cache-control"]
        assert headers["api-version"] == "1.45" and headers["ostype"] == "linux"


def test_events_endpoint_replays_and_filters(system_server: ServerThread) -> None:
    bus = system_server.events
    t0 = time.time()
    bus.publish("container", "create", "aaa111", {"name": "web", "image": "nginx"})
    bus.publish("image", "tag", "sha256:ff", {"name": "nginx:latest"})
    bus.publish("container", "start", "aaa111", {"name": "web", "image": "nginx"})
    until = time.time()
    filters = urllib.parse.quote(json.dumps({"container": {"web": True}}))
    status, headers, body = get(system_server, f"/events?since={t0 - 1}&until={until}&filters={filters}")
    assert status == 200 and headers["content-type"] == "application/json"
    msgs = [json.loads(line) for line in body.splitlines()]
    assert [m["Action"] for m in msgs] == ["create", "start"]
    assert msgs[0]["from"] == "nginx" and msgs[0]["id"] == "aaa111" and msgs[0]["status"] == "create"
    assert get(system_server, "/events?filters=" + urllib.parse.quote('{"bogus": ["x"]}'))[0] == 400


def _docker(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real docker CLI against our socket with a throw-away config dir."""
    with tempfile.TemporaryDirectory(prefix="dy-docker-cfg-") as cfg:
        env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": cfg}
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
def test_real_docker_cli_version_and_info(system_server: ServerThread) -> None:
    version = _docker(system_server.sock, "version")
    assert version.returncode == 0, version.stderr
    assert "Server: Dockyard" in version.stdout
    assert "1.45 (minimum version 1.24)" in version.stdout
    assert f"python{'.'.join(map(str, __import__('sys').version_info[:3]))}" in version.stdout
    assert "0.1.0" in version.stdout and os.uname().release not in ("",)
    info = _docker(system_server.sock, "info")
    assert info.returncode == 0, info.stderr
    for text in ["Containers: 5", "Running: 2", "Paused: 1", "Stopped: 2", "Images: 11",
                 "Server Version: 0.1.0", "Cgroup Driver: cgroupfs", "Default Runtime: dockyard",
                 f"Kernel Version: {os.uname().release}", f"Name: {socket.gethostname()}",
                 f"Docker Root Dir: {system_server.sock.parent / 'root'}", f"CPUs: {len(os.sched_getaffinity(0))}"]:
        assert text in info.stdout, text
    fmt = _docker(system_server.sock, "info", "--format", "{{.ID}} {{.OperatingSystem}}")
    engine_id = (system_server.sock.parent / "root" / "engine-id").read_text().strip()
    assert fmt.stdout.startswith(engine_id + " ")


def test_close_cancels_long_streams_after_grace(sockdir: Path) -> None:
    stream_closed.clear()
    srv = ServerThread(make_router(), sockdir / "g.sock")
    srv.start()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(srv.sock))
        s.sendall(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        read_head(s)
        started = time.monotonic()
        srv.call(srv.server.close(grace=0.3))
        assert 0.25 < time.monotonic() - started < 3
        assert stream_closed.wait(2)
        s.settimeout(2)
        read_all(s)                        # the server closed its side
    srv.loop.call_soon_threadsafe(srv.loop.stop)
    srv.thread.join(5)
    srv.loop.close()


def test_tcp_listener() -> None:
    loop = asyncio.new_event_loop()
    try:
        server = loop.run_until_complete(serve(make_router(), ["tcp://127.0.0.1:0"]))
        port = server.addresses[0][1]

        def client() -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/where")
            status = conn.getresponse().status
            conn.close()
            return status
        assert loop.run_until_complete(loop.run_in_executor(None, client)) == 200
        loop.run_until_complete(server.close(grace=1))
    finally:
        loop.close()
