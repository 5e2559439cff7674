"""`system dial-stdio`: join stdin and stdout to the daemon's API socket (the far end of `ssh://` hosts)."""

from __future__ import annotations

import os
import socket
import threading
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import Context
from dockyard.cli.flags import Command

_READ_SIZE = 64 << 10


def _dial_stdio(ctx: Context, _o: dict[str, Any], _args: list[str]) -> int:
    """Copy stdin to the daemon (half-closing at its end) and the daemon to stdout until it closes."""
    sock = ctx.api.transport.connect("GET", "/")
    threading.Thread(target=_upstream, args=(sock,), daemon=True).start()
    try:
        while data := sock.recv(_READ_SIZE):
            _write_all(1, data)
    finally:
        sock.close()
        os.close(1)
    return 0


def _upstream(sock: socket.socket) -> None:
    """stdin -> daemon; at stdin's end the daemon sees EOF (the answer keeps coming)."""
    try:
        while data := os.read(0, _READ_SIZE):
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        return  # the daemon side closed: the main thread ends the session


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


DIAL_STDIO = Command("system dial-stdio", "system dial-stdio",
                     "Proxy the stdio stream to the daemon connection. Should not be invoked manually.",
                     _dial_stdio, [], max_args=0)
