"""A hijacked stream bound to this terminal: stdin copied (raw mode with a TTY, detach keys spotted),
output written (raw or demultiplexed), window size followed, signals proxied."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from typing import Callable, Iterator

from dockyard.client.stdcopy import demux, raw_chunks, stdin_chunks
from dockyard.client.transport import Response
from dockyard.util.detachkeys import DetachScanner

# docker --sig-proxy forwards every catchable signal but these.
_NOT_PROXIED = {signal.SIGCHLD, signal.SIGWINCH, signal.SIGPIPE, signal.SIGURG, signal.SIGKILL, signal.SIGSTOP}


class Session:
    """Copies a hijacked connection to stdout/stderr and (optionally) stdin to it."""

    def __init__(self, resp: Response, tty: bool, stdin: bool, detach_keys: bytes) -> None:
        self.resp = resp
        self.tty = tty
        self.stdin = stdin
        self.scanner = DetachScanner(detach_keys)
        self.detached = False

    def run(self) -> bool:
        """Stream until the daemon ends the stream or the user detaches; True when detached."""
        with raw_terminal(self.tty and self.stdin):
            if self.stdin:
                threading.Thread(target=self._pump_stdin, daemon=True).start()
            try:
                self._copy_output()
            finally:
                self.resp.close()
        return self.detached

    def _pump_stdin(self) -> None:
        """Copy stdin to the daemon; half-close at EOF; cut the connection at the detach keys."""
        sock = self.resp.sock
        try:
            for data in stdin_chunks():
                forward, detached = self.scanner.feed(data)
                if forward:
                    sock.sendall(forward)
                if detached:
                    self.detached = True
                    sock.shutdown(socket.SHUT_RDWR)
                    return
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return  # the stream ended under us: the output side finishes the session

    def _copy_output(self) -> None:
        """Copy output until the stream ends."""
        try:
            chunks = raw_chunks(self.resp.raw_read)
            if self.tty:
                for chunk in chunks:
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.buffer.flush()
            else:
                demux(chunks, sys.stdout.buffer, sys.stderr.buffer)
        except OSError:
            if not self.detached:
                raise


@contextlib.contextmanager
def raw_terminal(wanted: bool) -> Iterator[None]:
    """Put a terminal stdin in raw mode for the duration (restored even on errors)."""
    if not wanted or not sys.stdin.isatty():
        yield
        return
    import termios
    import tty
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # TCSAFLUSH would drop keys typed before the switch
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _in_thread(fn: Callable[..., None], *args: object) -> None:
    """Run an API call off the signal handler."""
    threading.Thread(target=fn, args=args, daemon=True).start()


@contextlib.contextmanager
def follow_window_size(resize: Callable[[int, int], None], enabled: bool = True) -> Iterator[None]:
    """Send the terminal's size now and on every SIGWINCH (nothing when stdout is not a terminal)."""
    if not enabled or not sys.stdout.isatty():
        yield
        return

    def send() -> None:
        size = os.get_terminal_size(sys.stdout.fileno())
        resize(size.lines, size.columns)

    previous = signal.signal(signal.SIGWINCH, lambda _sig, _frame: _in_thread(send))
    try:
        send()
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


@contextlib.contextmanager
def proxy_signals(kill: Callable[[str], None], enabled: bool = True) -> Iterator[None]:
    """Forward the signals this process receives to the container (docker's --sig-proxy)."""
    if not enabled:
        yield
        return
    previous: dict[signal.Signals, object] = {}
    for sig in signal.valid_signals():
        if not isinstance(sig, signal.Signals) or sig in _NOT_PROXIED:
            continue
        try:
            previous[sig] = signal.signal(sig, lambda num, _frame: _in_thread(kill, str(num)))
        except (OSError, ValueError):
            continue  # not catchable here
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
