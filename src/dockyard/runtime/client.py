"""Daemon-side handle on one container's shim: launch, signal, wait, pause, list processes, clean up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dockyard import errors
from dockyard.runtime import bundle as B
from dockyard.runtime.cgroups import Cgroup, open_cgroup
from dockyard.runtime.jsonlog import Rotation, rfc3339nano
from dockyard.runtime.zygote import ShimLauncher

log = logging.getLogger(__name__)

LAUNCHER = ShimLauncher()
_LAUNCH_TIMEOUT = 60.0
_REQUEST_TIMEOUT = 5.0
_LINGER_TIMEOUT = 10.0


@dataclass
class ExitStatus:
    """How a container ended; finished_at is RFC3339Nano UTC."""

    exit_code: int
    oom_killed: bool
    finished_at: str
    error: str = ""


class ShimClient:
    """Daemon-side handle on one container's shim. `bundle` holds config.json and an already-mounted rootfs/."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = Path(bundle)

    @property
    def name(self) -> str:
        """The container id (the bundle directory's name), for error messages."""
        return self.bundle.name

    def launch(self, log_path: Path, open_stdin: bool = False, stdin_once: bool = False,
               rotation: Rotation = Rotation()) -> int:
        """Start a detached shim that runs the container; return the init's host pid once it has exec'd.

        `open_stdin` gives the container a stdin pipe that attach sessions feed (a TTY's input otherwise);
        with `stdin_once` (and no TTY) the end of the first session's input closes it; the shim rotates the
        log by `rotation`."""
        for name in (B.EXIT, B.INIT_PID, B.SOCKET):
            B.path(self.bundle, name).unlink(missing_ok=True)
        read_fd, write_fd = os.pipe()
        try:
            with open(B.path(self.bundle, B.SHIM_LOG), "ab") as shim_log:
                LAUNCHER.spawn(self.bundle, log_path, write_fd, shim_log.fileno(),
                               {"open_stdin": open_stdin, "stdin_once": stdin_once,
                                "log_rotation": rotation.to_json()})
        finally:
            os.close(write_fd)
        try:
            line = _read_line(read_fd, _LAUNCH_TIMEOUT)
        finally:
            os.close(read_fd)
        if not line:
            raise errors.RuntimeFailure(f"shim failed to start: {self._shim_log_tail()}", 125)
        report = json.loads(line)
        if "error" in report:
            raise errors.RuntimeFailure(report["error"], report["exit_code"])
        return int(report["pid"])

    def _shim_log_tail(self) -> str:
        """The last lines the shim wrote to its own stderr."""
        try:
            return " | ".join(B.path(self.bundle, B.SHIM_LOG).read_text().strip().splitlines()[-12:])
        except FileNotFoundError:
            return "no shim log"

    @property
    def pid(self) -> int | None:
        """The container init's host pid while the shim lives, else None."""
        if not self.alive():
            return None
        return int(B.path(self.bundle, B.INIT_PID).read_text())

    def lingering_pid(self) -> int | None:
        """The pid of this bundle's shim process while it exists, listening or not (shim.pid names it, and
        its stderr is this bundle's shim.log, so a reused pid is never taken for it); else None."""
        try:
            pid = int(B.path(self.bundle, B.SHIM_PID).read_text())
            stderr = os.readlink(f"/proc/{pid}/fd/2")
        except (OSError, ValueError):
            return None
        own = str(B.path(self.bundle, B.SHIM_LOG))
        return pid if stderr in (own, own + " (deleted)") else None

    def wait_gone(self, timeout: float = _LINGER_TIMEOUT) -> None:
        """Wait until no shim process of this bundle is left: one that a killed daemon was launching ends
        when it finds nobody to report to, one closing down ends at once; SIGKILL after `timeout`."""
        deadline = time.monotonic() + timeout
        killed = False
        while (pid := self.lingering_pid()) is not None:
            if time.monotonic() > deadline:
                if killed:
                    raise errors.SystemError_(f"the shim of container {self.name} (pid {pid}) does not end")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # its init has PDEATHSIG=SIGKILL: it goes too
                killed, deadline = True, time.monotonic() + 5.0
            time.sleep(0.01)

    def _connect(self) -> socket.socket | None:
        """A connection to the shim, or None when no shim listens."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(_REQUEST_TIMEOUT)
        try:
            with B.socket_path(self.bundle) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        return sock

    def alive(self) -> bool:
        """Whether the shim (hence the container) is still running: its socket accepts connections."""
        sock = self._connect()
        if sock is None:
            return False
        sock.close()
        return True

    def request(self, req: dict[str, Any]) -> dict[str, Any]:
        """Send one JSON request line to the shim and return its answer; Conflict when it is gone."""
        sock = self._connect()
        if sock is None:
            raise errors.Conflict(f"Container {self.name} is not running")
        with sock:
            try:
                sock.sendall(json.dumps(req).encode() + b"\n")
                answer = sock.makefile("rb").readline()
            except (ConnectionResetError, BrokenPipeError):
                answer = b""  # the shim exited between accepting and answering
        if not answer:
            raise errors.Conflict(f"Container {self.name} is not running")
        return json.loads(answer)

    async def open_stream(self, req: dict[str, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter,
                                                              dict[str, Any]]:
        """Send an attach or exec request and return the connection (now a frame stream, see
        runtime/streams.py) with the shim's answer; Conflict when no shim listens. The caller closes
        the writer; an answer with "error" has already closed it."""
        try:
            with B.socket_path(self.bundle) as address:
                reader, writer = await asyncio.open_unix_connection(address, limit=1 << 20)
        except (FileNotFoundError, ConnectionRefusedError):
            raise errors.Conflict(f"Container {self.name} is not running") from None
        try:
            writer.write(json.dumps(req).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        except ConnectionError:
            line = b""
        answer = json.loads(line) if line else {"error": f"Container {self.name} is not running"}
        if "error" in answer:
            writer.close()
        return reader, writer, answer

    def resize(self, height: int, width: int, exec_id: str | None = None) -> None:
        """Set the window size of the container's TTY (or of an exec's)."""
        req: dict[str, Any] = {"op": "resize", "h": int(height), "w": int(width)}
        if exec_id:
            req["exec"] = exec_id
        answer = self.request(req)
        if "error" in answer:
            raise errors.SystemError_(f"cannot resize: {answer['error']}")

    def kill(self, sig: int) -> None:
        """Signal the container's init; Conflict if it is not running."""
        answer = self.request({"op": "kill", "signal": int(sig)})
        if "error" in answer:
            if answer["error"] == "container is not running":
                raise errors.Conflict(f"Container {self.name} is not running")
            raise errors.SystemError_(f"cannot kill container {self.name}: {answer['error']}")

    async def wait(self) -> ExitStatus:
        """Wait for the shim to close its socket, then read exit.json (works after a daemon restart).

        A shim that vanished without writing exit.json yields exit code 137 and error "shim died": the
        container was killed with it (its init has PDEATHSIG=SIGKILL).
        """
        try:
            with B.socket_path(self.bundle) as address:
                reader, writer = await asyncio.open_unix_connection(address)
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        else:
            try:
                while await reader.read(4096):
                    pass
            except ConnectionResetError:
                pass  # the shim exited while our connection was still in its accept queue: same as EOF
            writer.close()
        status = self.exit_status()
        if status is None:
            log.error("the shim of container %s died: %s", self.name, self._shim_log_tail())
            return ExitStatus(exit_code=137, oom_killed=False, finished_at=rfc3339nano(), error="shim died")
        return status

    def exit_status(self) -> ExitStatus | None:
        """The recorded exit status, if the container has exited."""
        try:
            data = json.loads(B.path(self.bundle, B.EXIT).read_text())
        except FileNotFoundError:
            return None
        return ExitStatus(exit_code=data["exit_code"], oom_killed=data["oom_killed"],
                          finished_at=data["finished_at"])

    def _cgroup(self) -> Cgroup | None:
        """The container's cgroup per config.json, if it has one."""
        spec = json.loads(B.path(self.bundle, B.CONFIG).read_text())
        path = spec.get("linux", {}).get("cgroupsPath", "")
        return open_cgroup(path) if path else None

    def _running_cgroup(self) -> Cgroup:
        """The cgroup of a running container; Conflict when not running, SystemError_ without a cgroup."""
        if not self.alive():
            raise errors.Conflict(f"Container {self.name} is not running")
        cgroup = self._cgroup()
        if cgroup is None:
            raise errors.SystemError_(f"container {self.name} has no cgroup")
        return cgroup

    def pause(self) -> None:
        """Freeze every process of the container; Conflict when it exits meanwhile (its cgroup is gone)."""
        self._while_running(self._running_cgroup().freeze)

    def resume(self) -> None:
        """Thaw the container; Conflict when it exited meanwhile."""
        self._while_running(self._running_cgroup().thaw)

    def _while_running(self, action: Callable[[], None]) -> None:
        """Run a cgroup action; its cgroup vanishing under it means the container exited: Conflict."""
        try:
            action()
        except FileNotFoundError as gone:
            raise errors.Conflict(f"Container {self.name} is not running") from gone

    def pids(self) -> list[int]:
        """Host pids of every process in the container's cgroup (just the init without a cgroup)."""
        cgroup = self._cgroup()
        if cgroup is not None:
            return cgroup.pids() if cgroup.exists() else []
        pid = self.pid
        return [] if pid is None else [pid]

    def cleanup(self) -> None:
        """After exit: remove the cgroup and the shim's files (config.json and rootfs stay). Read exit first."""
        if self.alive():
            raise errors.Conflict(f"Container {self.name} is still running")
        cgroup = self._cgroup()
        if cgroup is not None and cgroup.exists():
            cgroup.remove()
        for name in B.SHIM_FILES:
            B.path(self.bundle, name).unlink(missing_ok=True)


def _read_line(fd: int, timeout: float) -> bytes:
    """Read one line (or until EOF) from a pipe, giving up after `timeout` seconds."""
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise errors.RuntimeFailure("timed out waiting for the container to start", 125)
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data
