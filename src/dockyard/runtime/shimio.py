"""Shim-side plumbing for interactive processes: a queued non-blocking stdin writer, stream sessions
(attached clients), and the stdio a process gets (a pty, or pipes)."""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass, field

from dockyard.runtime.console import receive_console


class Pipe:
    """A non-blocking writer to a process's stdin that queues what the process has not read yet."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.pending = b""
        self.closing = False
        self.closed = False
        self.watched = False
        self.blocked: list[socket.socket] = []

    def write(self, data: bytes) -> bool:
        """Queue `data` and write what fits; True when nothing is left queued."""
        self.pending += data
        return self.flush()

    def flush(self) -> bool:
        """Write queued bytes; True when the queue is empty (a reader that went away empties it)."""
        while self.pending and not self.closed:
            try:
                written = os.write(self.fd, self.pending)
            except BlockingIOError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self.pending = b""  # the process closed its stdin or exited: drop the rest
                break
            self.pending = self.pending[written:]
        return True

    def close(self) -> None:
        """Close the write end: the process reads EOF."""
        if not self.closed:
            self.closed = True
            self.pending = b""
            os.close(self.fd)


@dataclass
class Session:
    """An attached client: receives output frames and may feed the process's stdin."""

    conn: socket.socket
    wants: set[str]
    stdin: Pipe | None
    close_stdin: bool
    exec_id: str | None = None
    reading: bool = True
    backlog: bytes = b""  # output replayed to a client that attached before the start


@dataclass
class Stdio:
    """A process's stdio: the fds the child gets, the output fds the shim reads, its stdin writer.

    With a terminal the child gets none of these: it opens a pty in the container's own devpts and
    sends the master back on `console` (see runtime/console.py); `take_console` then fills them in."""

    child: tuple[int, ...]
    outputs: dict[int, str]
    stdin: Pipe | None
    master: int | None = None
    to_close: list[int] = field(default_factory=list)
    console: int | None = None  # the child's end of the console socket
    console_socket: socket.socket | None = None  # the shim's end
    open_stdin: bool = False

    @classmethod
    def create(cls, terminal: bool, open_stdin: bool, in_container: bool = True) -> "Stdio":
        """A pty (output logged as stdout) or pipes; stdin only with `open_stdin`. The pty comes from the
        container's devpts, or with `in_container` False (an external runtime given plain stdio) the host's."""
        if terminal and not in_container:
            master, slave = os.openpty()
            os.set_blocking(master, False)
            stdin = Pipe(os.dup(master)) if open_stdin else None
            return cls((slave, slave, slave), {master: "stdout"}, stdin, master, [slave])
        if terminal:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            child_end = theirs.detach()
            return cls((), {}, None, None, [child_end], child_end, ours, open_stdin)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        if open_stdin:
            in_r, in_w = os.pipe()
            stdin = Pipe(in_w)
        else:
            in_r, stdin = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), None
        return cls((in_r, out_w, err_w), {out_r: "stdout", err_r: "stderr"}, stdin, None, [in_r, out_w, err_w])

    def take_console(self) -> None:
        """Once the child has exec'd: receive the master of its terminal and read and write through it."""
        if self.console_socket is None:
            return
        try:
            master = receive_console(self.console_socket)
        finally:
            self.console_socket.close()
            self.console_socket = None
        os.set_blocking(master, False)
        self.master = master
        self.outputs = {master: "stdout"}
        self.stdin = Pipe(os.dup(master)) if self.open_stdin else None

    def child_started(self) -> None:
        """Close the child's ends in the shim once the child has them."""
        for fd in self.to_close:
            os.close(fd)
        self.to_close = []

    def abandon(self) -> None:
        """The child never started: close everything."""
        self.child_started()
        for fd in self.outputs:
            os.close(fd)
        self.outputs = {}
        if self.stdin is not None:
            self.stdin.close()
        if self.console_socket is not None:
            self.console_socket.close()
            self.console_socket = None


def read_chunk(fd: int) -> bytes | None:
    """Read available output: bytes, b"" at the end (EOF, or EIO from a pty whose slave closed),
    or None when nothing is ready."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise
