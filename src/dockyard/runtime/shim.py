"""The per-container shim: forks the container, owns its stdio and json-file log, records its exit status.

Started by ShimClient.launch as `python -I -S -c ... <bundle> <log_path> <status_fd>`; it forks once more
to leave the launcher, reports {"pid": N} or {"error", "exit_code"} on status_fd, then serves line-based
JSON requests on <bundle>/shim.sock until the container exits.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

from dockyard.runtime import bundle as B
from dockyard.runtime import linux as L
from dockyard.runtime.cgroups import open_cgroup
from dockyard.runtime.init import container_main
from dockyard.runtime.jsonlog import JsonLogWriter, rfc3339nano

# Without a pid namespace, orphaned processes may keep the output pipes open after init exits.
_DRAIN_TIMEOUT = 2.0


class LaunchError(Exception):
    """The container process could not be started."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file via tmp + fsync + rename."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _enter_pid_namespace(spec: dict[str, Any]) -> None:
    """Make the next fork land in the spec's pid namespace (new, or joined by path)."""
    for ns in spec.get("linux", {}).get("namespaces", []):
        if ns["type"] != "pid":
            continue
        if ns.get("path"):
            fd = os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                L.setns(fd, L.CLONE_NEWPID)
            finally:
                os.close(fd)
        else:
            L.unshare(L.CLONE_NEWPID)


class Shim:
    """One container's supervisor: starts it, copies its output to the log, answers requests, reaps it."""

    def __init__(self, bundle: Path, log_path: Path) -> None:
        self.bundle = bundle
        self.spec = json.loads((bundle / B.CONFIG).read_text())
        cgroups_path = self.spec.get("linux", {}).get("cgroupsPath", "")
        self.cgroup = open_cgroup(cgroups_path) if cgroups_path else None
        self.log = JsonLogWriter(log_path)
        self.sel = selectors.DefaultSelector()
        self.streams: dict[int, str] = {}
        self.buffers: dict[socket.socket, bytes] = {}
        self.pid = 0
        self.pidfd = -1
        self.exit_code: int | None = None

    def start(self) -> int:
        """Create the cgroup, fork the container, and return its host pid once it has exec'd."""
        if self.cgroup:
            self.cgroup.create()
            self.cgroup.apply_resources(self.spec.get("linux", {}).get("resources", {}))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sync_r, sync_w = os.pipe()
        go_r, go_w = os.pipe()
        devnull = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        rootfs = str(self.bundle / self.spec.get("root", {}).get("path", B.ROOTFS))
        _enter_pid_namespace(self.spec)
        pid = os.fork()
        if pid == 0:
            container_main(self.spec, rootfs, (devnull, out_w, err_w), sync_w, go_r)
        for fd in (devnull, out_w, err_w, sync_w, go_r):
            os.close(fd)
        self.pid = pid
        self.streams = {out_r: "stdout", err_r: "stderr"}
        try:
            if self.cgroup:
                self.cgroup.add(pid)
            os.write(go_w, b"1")
        except OSError:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        finally:
            os.close(go_w)
        failure = _read_all(sync_r)
        if failure:
            os.waitpid(pid, 0)
            report = json.loads(failure)
            raise LaunchError(report["message"], report["exit_code"])
        self.pidfd = os.pidfd_open(pid)
        return pid

    def serve(self, listener: socket.socket) -> None:
        """Copy output to the log and answer requests until the container exited and its output ended."""
        for fd in self.streams:
            self.sel.register(fd, selectors.EVENT_READ, self._on_output)
        self.sel.register(self.pidfd, selectors.EVENT_READ, self._on_exit)
        self.sel.register(listener, selectors.EVENT_READ, self._on_accept)
        deadline: float | None = None
        while self.exit_code is None or self.streams:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                break
            for key, _ in self.sel.select(timeout):
                callback: Callable[[Any], None] = key.data
                callback(key.fileobj)
            if self.exit_code is not None and deadline is None:
                deadline = time.monotonic() + _DRAIN_TIMEOUT
        for fd in list(self.streams):
            self._end_stream(fd)

    def _on_output(self, fd: int) -> None:
        """Log a chunk of container output."""
        data = os.read(fd, 65536)
        if data:
            self.log.feed(self.streams[fd], data)
        else:
            self._end_stream(fd)

    def _end_stream(self, fd: int) -> None:
        """A stream reached EOF (or is abandoned): log its partial line and forget it."""
        self.log.end(self.streams.pop(fd))
        self.sel.unregister(fd)
        os.close(fd)

    def _on_exit(self, pidfd: int) -> None:
        """Reap the container init: exit code is its own, or 128+signal."""
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self.exit_code = 128 - code if code < 0 else code
        self.sel.unregister(pidfd)
        os.close(pidfd)

    def _on_accept(self, listener: socket.socket) -> None:
        """Accept a client connection."""
        conn, _ = listener.accept()
        conn.setblocking(False)
        self.buffers[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, self._on_client)

    def _on_client(self, conn: socket.socket) -> None:
        """Read requests (one JSON object per line) and answer each with one JSON line."""
        try:
            data = conn.recv(4096)
        except ConnectionError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buf = self.buffers[conn] + data
        *lines, self.buffers[conn] = buf.split(b"\n")
        try:
            for line in lines:
                if line.strip():
                    conn.sendall(json.dumps(self._handle(line)).encode() + b"\n")
        except (ConnectionError, BlockingIOError):
            self._drop(conn)

    def _handle(self, line: bytes) -> dict[str, Any]:
        """Answer one request: kill {signal}, or state."""
        try:
            req = json.loads(line)
            op = req["op"]
        except (ValueError, KeyError, TypeError):
            return {"error": "invalid request"}
        if op == "state":
            return {"pid": self.pid, "running": self.exit_code is None}
        if op == "kill":
            if self.exit_code is not None:
                return {"error": "container is not running"}
            try:
                signal.pidfd_send_signal(self.pidfd, int(req.get("signal", signal.SIGKILL)))
            except (OSError, ValueError) as exc:
                return {"error": str(exc)}
            return {"ok": True}
        return {"error": f"unknown op {op!r}"}

    def _drop(self, conn: socket.socket) -> None:
        """Close one client connection."""
        self.sel.unregister(conn)
        del self.buffers[conn]
        conn.close()

    def finish(self, listener: socket.socket) -> None:
        """Close the log, write exit.json, remove the cgroup and the socket, then close every client (EOF)."""
        oom = self.cgroup.oom_killed() if self.cgroup else False
        self.log.close()
        status = {"exit_code": self.exit_code, "oom_killed": oom, "finished_at": rfc3339nano()}
        write_atomic(self.bundle / B.EXIT, json.dumps(status).encode())
        if self.cgroup:
            self.cgroup.remove()
        listener.close()
        (self.bundle / B.SOCKET).unlink(missing_ok=True)
        for conn in list(self.buffers):
            self._drop(conn)


def _read_all(fd: int) -> bytes:
    """Read a pipe until EOF and close it."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _report(status_fd: int, obj: dict[str, Any]) -> None:
    """Tell the launcher how the start went (one JSON line) and close the channel."""
    os.write(status_fd, json.dumps(obj).encode() + b"\n")
    os.close(status_fd)


def _listen(bundle: Path) -> socket.socket:
    """Bind <bundle>/shim.sock."""
    sock_path = bundle / B.SOCKET
    sock_path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with B.socket_path(bundle) as address:
        listener.bind(address)
    listener.listen(64)
    listener.setblocking(False)
    return listener


def run(bundle: Path, log_path: Path, status_fd: int) -> None:
    """The shim's life: start the container, report, serve, record the exit."""
    (bundle / B.SHIM_PID).write_text(str(os.getpid()))
    shim = Shim(bundle, log_path)
    listener = _listen(bundle)
    try:
        pid = shim.start()
    except LaunchError as exc:
        _abandon(shim, listener)
        _report(status_fd, {"error": exc.message, "exit_code": exc.exit_code})
        return
    except Exception as exc:
        _abandon(shim, listener)
        _report(status_fd, {"error": str(exc), "exit_code": 125})
        raise
    (bundle / B.INIT_PID).write_text(str(pid))
    _report(status_fd, {"pid": pid})
    shim.serve(listener)
    shim.finish(listener)


def _abandon(shim: Shim, listener: socket.socket) -> None:
    """A failed start: remove the socket and the cgroup, close the log."""
    listener.close()
    (shim.bundle / B.SOCKET).unlink(missing_ok=True)
    shim.log.close()
    if shim.cgroup and shim.cgroup.exists():
        shim.cgroup.remove()


def main(argv: list[str]) -> None:
    """Entry point: `<bundle> <log_path> <status_fd>`; double-forks away from the launcher."""
    bundle, log_path, status_fd = Path(argv[0]), Path(argv[1]), int(argv[2])
    os.set_inheritable(status_fd, False)
    if os.fork():
        os._exit(0)
    os.chdir("/")
    run(bundle, log_path, status_fd)
    sys.exit(0)
