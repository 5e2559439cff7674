"""A container's terminal from its own devpts instance, as runc's console socket does it.

The process inside the container opens `/dev/ptmx` (its devpts), makes the peer its stdio and controlling
terminal, bind-mounts it at `/dev/console` (init only) and sends the master to the shim over a socket.
So `tty` and `ttyname(3)` inside name `/dev/pts/N` of the container's own devpts.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from dockyard.util import linux as L

TIOCSPTLCK = 0x40045431  # _IOW('T', 0x31, int): lock or unlock the peer
TIOCGPTPEER = 0x5441  # _IO('T', 0x41): open the peer of a master by descriptor, never by path
_CONSOLE = "/dev/console"


def open_console(channel: int, owner: int, mount_console: bool) -> None:
    """Inside the container: open a pty of its devpts, send the master on `channel`, take the peer as stdio
    (owned by `owner`, as runc's fixStdioPermissions) and as the controlling terminal of our session."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    peer = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    if mount_console:
        _bind_console(peer)
    os.fchown(peer, owner, -1)
    sock = socket.socket(fileno=channel)
    try:
        socket.send_fds(sock, [b"c"], [master])
    finally:
        sock.close()
        os.close(master)
    for target in (0, 1, 2):
        os.dup2(peer, target)
    if peer > 2:
        os.close(peer)
    L.set_controlling_tty(0)


def _bind_console(peer: int) -> None:
    """Bind the peer over /dev/console, as runc does for a container with a terminal."""
    if not os.path.exists(_CONSOLE):
        os.close(os.open(_CONSOLE, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    L.mount(f"/proc/self/fd/{peer}", _CONSOLE, None, L.MS_BIND)


def receive_console(sock: socket.socket) -> int:
    """In the shim, once the process has exec'd: the master it sent (already waiting in the socket)."""
    sock.setblocking(False)
    try:
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    except BlockingIOError:
        fds = []
    if not fds:
        raise OSError("the container sent no terminal")
    return fds[0]
