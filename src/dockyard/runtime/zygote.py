"""A warm process with the shim's code already imported, forking one detached shim per container.

Starting Python and importing the shim costs ~25 ms per container; forking a process that has
done so once costs well under one. The zygote is the daemon's child, holds no threads, and exits
when the daemon's end of its socket closes; the shims it forks are double-forked into their own
sessions, so they outlive both.
"""

from __future__ import annotations

import array
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

_SRC_DIR = str(Path(__file__).resolve().parents[2])
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from dockyard.runtime.zygote import serve; serve(int(sys.argv[2]))")
_MAX_MESSAGE = 8192


class ShimLauncher:
    """Daemon side: start the zygote on first use and ask it to fork shims."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None

    def _ensure(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _BOOT, _SRC_DIR, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            start_new_session=True, cwd="/")
        theirs.close()
        self._sock = ours
        return ours

    def spawn(self, bundle: Path, log_path: Path, status_fd: int, shim_log_fd: int,
              options: dict[str, object] | None = None) -> None:
        """Fork a detached shim for `bundle`; it reports on `status_fd` and writes its stderr to `shim_log_fd`.
        `options` are the shim's stdio options (see runtime/shim.py main)."""
        message = json.dumps({"bundle": str(bundle), "log": str(log_path), "options": options or {}}).encode()
        fds = array.array("i", [status_fd, shim_log_fd])
        with self._lock:
            sock = self._ensure()
            sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            answer = sock.recv(64)
        if answer != b"ok":
            raise OSError(f"shim zygote failed: {answer!r}")

    def close(self) -> None:
        """Stop the zygote (shims it forked keep running)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.wait()
            self._proc = None


def serve(fd: int) -> None:
    """Zygote side: fork a shim for every request until the daemon goes away."""
    from dockyard.runtime import shim
    from dockyard.runtime import external  # noqa: F401  (the shim's run-time choice: import it once, here)
    from dockyard.runtime.seccomp import preload

    preload()

    sock = socket.socket(fileno=fd)
    while True:
        message, ancdata, _flags, _addr = sock.recvmsg(_MAX_MESSAGE, socket.CMSG_SPACE(2 * 4))
        if not message:
            return
        fds = array.array("i")
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        request = json.loads(message)
        status_fd, shim_log_fd = fds[0], fds[1]
        child = os.fork()
        if child == 0:
            sock.close()
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.dup2(shim_log_fd, 2)
            for extra in (devnull, shim_log_fd):
                os.close(extra)
            shim.main([request["bundle"], request["log"], str(status_fd), json.dumps(request.get("options", {}))])
            os._exit(0)
        os.close(status_fd)
        os.close(shim_log_fd)
        os.waitpid(child, 0)
        sock.send(b"ok")
