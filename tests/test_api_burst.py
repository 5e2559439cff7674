"""Connection bursts: the API socket's listen backlog is dockerd's (4096), so a burst of connects is queued
by the kernel, not refused, even while the daemon is too busy to accept."""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from typing import Iterator

import pytest

from daemon_harness import Daemon, destroy, new_daemon

BURST = 600


@pytest.fixture
def quiet_daemon() -> Iterator[Daemon]:
    """A daemon of its own: the test stops it for a moment, which must not stall anyone else's tests."""
    d = new_daemon()
    try:
        d.start()
        yield d
    finally:
        if d.process is not None and d.process.poll() is None:
            os.kill(d.process.pid, signal.SIGCONT)
        destroy(d)


def test_600_concurrent_connects_are_all_accepted_and_answered(quiet_daemon: Daemon) -> None:
    assert quiet_daemon.process is not None
    pid = quiet_daemon.process.pid
    sockets: list[socket.socket] = []
    # the daemon is stopped, so nothing is accepted: every connect has to fit in the listen backlog
    # (a unix socket refuses a connect with EAGAIN once the backlog is full; asyncio's default is 100)
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(BURST):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            sockets.append(sock)
            sock.connect(str(quiet_daemon.socket))  # raises BlockingIOError when the backlog is full
            sock.send(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        answers: dict[int, bytes] = {sock.fileno(): b"" for sock in sockets}
        by_fd = {sock.fileno(): sock for sock in sockets}
        open_fds = set(by_fd)
        deadline = time.monotonic() + 60
        poller = select.poll()
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        while open_fds and time.monotonic() < deadline:
            for fd, _ in poller.poll(1000):
                data = by_fd[fd].recv(65536)
                answers[fd] += data
                if not data:
                    poller.unregister(fd)
                    open_fds.discard(fd)
        ok = [fd for fd, raw in answers.items() if raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"OK")]
        assert len(ok) == BURST, f"{BURST - len(ok)} of {BURST} connections got no answer to /_ping"
    finally:
        for sock in sockets:
            sock.close()
    assert quiet_daemon.request("GET", "/_ping")[0] == 200
