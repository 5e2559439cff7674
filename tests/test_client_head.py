"""The API client does not read a body after an error answer to HEAD (there is none; Content-Length is GET's)."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

from dockyard.client.api import APIClient, APIError


@pytest.fixture
def head_server() -> Iterator[tuple[str, list[bytes]]]:
    """A unix socket answering one request with 404, a GET-sized Content-Length and no body, then staying open."""
    tmp = Path(tempfile.mkdtemp(prefix="dy-head-"))
    path = tmp / "api.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)
    seen: list[bytes] = []
    release = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            seen.append(head)
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 58\r\n\r\n")
            release.wait(10)  # keep the connection open: a client waiting for 58 bytes would hang here

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"unix://{path}", seen
    release.set()
    thread.join(5)
    listener.close()
    path.unlink()
    tmp.rmdir()


def test_head_error_is_raised_from_the_status_without_reading_a_body(head_server) -> None:
    host, seen = head_server
    client = APIClient(host, version="1.45")
    client.transport.timeout = 5  # a hang becomes a socket timeout, not an APIError
    with pytest.raises(APIError) as raised:
        client.request("HEAD", "/containers/abc/archive", {"path": "/nope"})
    assert raised.value.status == 404
    assert raised.value.message == "404 Not Found"
    assert seen[0].startswith(b"HEAD /v1.45/containers/abc/archive?path=%2Fnope HTTP/1.1\r\n")
