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
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dockyard.runtime import bundle as B
from dockyard.runtime.cgroups import open_cgroup
from dockyard.runtime.execproc import exec_main
from dockyard.runtime.init import container_main
from dockyard.runtime.jsonlog import JsonLogWriter, Rotation, rfc3339nano
from dockyard.runtime.shimio import Pipe, Session, Stdio, read_chunk
from dockyard.runtime.streams import STREAM_KINDS, encode, encode_exit
from dockyard.runtime.userns import create_user_namespace, wants_user_namespace
from dockyard.util import linux as L

# Without a pid namespace, orphaned processes may keep the output pipes open after init exits.
_DRAIN_TIMEOUT = 2.0
# Output of the first seconds is kept for attach requests made before the start (docker run -a).
_REPLAY_WINDOW = 3.0
_REPLAY_LIMIT = 1 << 20
# A client that cannot take output for this long is dropped (the container must not stall).
_SEND_TIMEOUT = 10.0


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


@dataclass
class ExecProcess:
    """A process started in the running container by an exec request."""

    id: str
    helper: int  # the shim's child that joined the namespaces and waits for the process
    pidfd: int
    stdio: Stdio
    session: socket.socket | None


class Shim:
    """One container's supervisor: starts it, copies its output to the log and to attached clients,
    feeds its stdin, runs exec'd processes, answers requests, reaps it."""

    console_inside = True  # a terminal comes from the container's own devpts (runtime/console.py)

    def __init__(self, bundle: Path, log_path: Path, open_stdin: bool = False, stdin_once: bool = False,
                 rotation: Rotation = Rotation()) -> None:
        self.bundle = bundle
        self.spec = json.loads((bundle / B.CONFIG).read_text())
        self.cgroups_path = self.spec.get("linux", {}).get("cgroupsPath", "")
        self.cgroup = open_cgroup(self.cgroups_path) if self.cgroups_path else None
        self.log = JsonLogWriter(log_path, rotation)
        self.sel = selectors.DefaultSelector()
        self.stdio = Stdio.create(bool(self.spec["process"].get("terminal")), open_stdin, self.console_inside)
        self.stdin_once = stdin_once
        self.streams: dict[int, str] = {}
        self.buffers: dict[socket.socket, bytes] = {}
        self.sessions: dict[socket.socket, Session] = {}
        self.execs: dict[str, ExecProcess] = {}
        self.replay: list[tuple[str, bytes]] = []
        self.replay_until = 0.0
        self.pid = 0
        self.pidfd = -1
        self.exit_code: int | None = None

    def start(self) -> int:
        """Create the cgroup, fork the container, and return its host pid once it has exec'd."""
        if self.cgroup:
            self.cgroup.create()
            self.cgroup.apply_resources(self.spec.get("linux", {}).get("resources", {}))
        sync_r, sync_w = os.pipe()
        go_r, go_w = os.pipe()
        rootfs = str(self.bundle / self.spec.get("root", {}).get("path", B.ROOTFS))
        user_fd = create_user_namespace(self.spec) if wants_user_namespace(self.spec) else None
        _enter_pid_namespace(self.spec)
        pid = os.fork()
        if pid == 0:
            container_main(self.spec, rootfs, self.stdio.child, sync_w, go_r, user_fd, self.stdio.console)
        self.stdio.child_started()
        for fd in (sync_w, go_r, user_fd):
            if fd is not None:
                os.close(fd)
        self.pid = pid
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
        self.stdio.take_console()
        self.streams = dict(self.stdio.outputs)
        self.pidfd = os.pidfd_open(pid)
        return pid

    def serve(self, listener: socket.socket) -> None:
        """Copy output and answer requests until the container exited, its output ended and its execs ended."""
        for fd in self.streams:
            self.sel.register(fd, selectors.EVENT_READ, self._on_output)
        self.sel.register(self.pidfd, selectors.EVENT_READ, self._on_exit)
        self.sel.register(listener, selectors.EVENT_READ, self._on_accept)
        self.replay_until = time.monotonic() + _REPLAY_WINDOW
        deadline: float | None = None
        while self.exit_code is None or self.streams or self.execs:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                break
            for key, _ in self.sel.select(timeout):
                if self._registered(key):  # an earlier callback of this round may have closed it
                    callback: Callable[[Any], None] = key.data
                    callback(key.fileobj)
            if self.exit_code is not None and deadline is None:
                deadline = time.monotonic() + _DRAIN_TIMEOUT
        for fd in list(self.streams):
            self._end_stream(fd)

    # ----- container output -------------------------------------------------------------------------

    def _on_output(self, fd: int) -> None:
        """Log a chunk of container output and copy it to attached clients."""
        data = read_chunk(fd)
        if data is None:
            return
        if not data:
            self._end_stream(fd)
            return
        stream = self.streams[fd]
        self.log.feed(stream, data)
        if time.monotonic() < self.replay_until and sum(len(d) for _, d in self.replay) < _REPLAY_LIMIT:
            self.replay.append((stream, data))
        for session in list(self.sessions.values()):
            if session.exec_id is None and stream in session.wants:
                self._send(session, encode(STREAM_KINDS[stream], data))

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

    def _registered(self, key: selectors.SelectorKey) -> bool:
        """Whether `key` is still the selector's registration of its file object. A socket closed since
        has fileno -1, which the selector's lookup answers with ValueError: gone too."""
        try:
            return self.sel.get_map().get(key.fileobj) is key
        except ValueError:
            return False

    # ----- clients ----------------------------------------------------------------------------------

    def _on_accept(self, listener: socket.socket) -> None:
        """Accept a client connection."""
        conn, _ = listener.accept()
        conn.setblocking(False)
        self.buffers[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, self._on_client)

    def _on_client(self, conn: socket.socket) -> None:
        """Read requests (one JSON object per line) and answer each with one JSON line; an attach or
        exec request turns the connection into a stream session."""
        try:
            data = conn.recv(65536)
        except ConnectionError:
            data = b""
        if conn in self.sessions:
            self._session_input(self.sessions[conn], data)
            return
        if not data:
            self._drop(conn)
            return
        buf = self.buffers[conn] + data
        try:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                answer, session = self._handle(line, conn)
                conn.sendall(json.dumps(answer).encode() + b"\n")
                if session is not None:
                    self._open_session(session, buf)
                    return
        except (ConnectionError, BlockingIOError):
            self._drop(conn)
            return
        self.buffers[conn] = buf

    def _handle(self, line: bytes, conn: socket.socket) -> tuple[dict[str, Any], Session | None]:
        """Answer one request: state, kill {signal}, resize {h, w, exec?}, attach {...}, exec {...}."""
        try:
            req = json.loads(line)
            op = req["op"]
        except (ValueError, KeyError, TypeError):
            return {"error": "invalid request"}, None
        if op == "state":
            return {"pid": self.pid, "running": self.exit_code is None}, None
        if op == "attach":
            return self._attach(req, conn)
        if op == "exec":
            return self._exec(req, conn)
        if op == "resize":
            return self._resize(req), None
        if op == "kill":
            if self.exit_code is not None:
                return {"error": "container is not running"}, None
            number = req.get("signal", signal.SIGKILL)
            try:
                signal.pidfd_send_signal(self.pidfd, int(number))
                if int(number) == signal.SIGKILL and self.cgroup:
                    self.cgroup.thaw()  # as runc does: a frozen process gets its SIGKILL only once thawed
            except (OSError, ValueError) as exc:
                return {"error": str(exc)}, None
            return {"ok": True}, None
        return {"error": f"unknown op {op!r}"}, None

    def _attach(self, req: dict[str, Any], conn: socket.socket) -> tuple[dict[str, Any], Session | None]:
        """{"op": "attach", "stdin", "stdout", "stderr", "replay"}: stream the container's output from now
        on (plus what it wrote since start when `replay` and still within the replay window)."""
        wants = {name for name in ("stdout", "stderr") if req.get(name)}
        stdin = self.stdio.stdin if req.get("stdin") else None
        session = Session(conn, wants, stdin, self.stdin_once and not self.spec["process"].get("terminal"))
        if req.get("replay") and time.monotonic() < self.replay_until:
            session.backlog = b"".join(encode(STREAM_KINDS[stream], data) for stream, data in self.replay
                                       if stream in wants)
        return {"ok": True}, session

    def _resize(self, req: dict[str, Any]) -> dict[str, Any]:
        """Set the window size of the container's (or an exec's) terminal; nothing without a TTY."""
        if req.get("exec"):
            proc = self.execs.get(req["exec"])
            if proc is None:
                return {"error": f"no such exec {req['exec']}"}
            master = proc.stdio.master
        else:
            master = self.stdio.master
        if master is not None:
            try:
                L.set_window_size(master, int(req["h"]), int(req["w"]))
            except (OSError, KeyError, ValueError, struct.error) as exc:
                return {"error": f"resize: {exc}"}
        return {"ok": True}

    def _open_session(self, session: Session, rest: bytes) -> None:
        """Turn a connection into a stream session; bytes after the request line are stdin."""
        conn = session.conn
        del self.buffers[conn]
        conn.setblocking(True)
        conn.settimeout(_SEND_TIMEOUT)
        self.sessions[conn] = session
        if session.backlog:
            self._send(session, session.backlog)
            if conn not in self.sessions:
                return
        if rest:
            self._session_input(session, rest)

    def _session_input(self, session: Session, data: bytes) -> None:
        """Client bytes go to stdin; EOF (half-close) ends the session's input and may close stdin."""
        pipe = session.stdin
        if not data:
            self._stop_reading(session)
            if pipe is not None and session.close_stdin:
                pipe.closing = True
                self._settle(pipe)
            return
        if pipe is None or pipe.closed or pipe.closing:
            return
        if not pipe.write(data):
            self._stop_reading(session)
            pipe.blocked.append(session.conn)
        self._settle(pipe)

    def _stop_reading(self, session: Session) -> None:
        """Stop watching a session's connection for input (it still receives output)."""
        if session.reading:
            self.sel.unregister(session.conn)
            session.reading = False

    def _settle(self, pipe: Pipe) -> None:
        """Watch a stdin pipe while bytes are queued; once drained resume its writers, close it if asked."""
        if pipe.closed:
            return
        if pipe.pending:
            if not pipe.watched:
                self.sel.register(pipe.fd, selectors.EVENT_WRITE, lambda _fd: self._on_writable(pipe))
                pipe.watched = True
            return
        if pipe.watched:
            self.sel.unregister(pipe.fd)
            pipe.watched = False
        for conn in pipe.blocked:
            session = self.sessions.get(conn)
            if session is not None and not session.reading:
                self.sel.register(conn, selectors.EVENT_READ, self._on_client)
                session.reading = True
        pipe.blocked.clear()
        if pipe.closing:
            pipe.close()

    def _on_writable(self, pipe: Pipe) -> None:
        """A stdin pipe can take more bytes."""
        pipe.flush()
        self._settle(pipe)

    def _send(self, session: Session, data: bytes) -> None:
        """Send output to a session; a client that cannot take it is dropped."""
        try:
            session.conn.sendall(data)
        except OSError:
            self._drop(session.conn)

    def _drop(self, conn: socket.socket) -> None:
        """Close one client connection (request or session)."""
        session = self.sessions.pop(conn, None)
        if session is None or session.reading:
            self.sel.unregister(conn)
        if session is not None and session.exec_id in self.execs:
            self.execs[session.exec_id].session = None
        self.buffers.pop(conn, None)
        conn.close()

    # ----- exec -------------------------------------------------------------------------------------

    def _exec(self, req: dict[str, Any], conn: socket.socket) -> tuple[dict[str, Any], Session | None]:
        """{"op": "exec", "id", "process", "stdin"}: start a process in the container; the session gets
        its output and, at the end, an EXIT frame."""
        if self.exit_code is not None:
            return {"error": "container is not running", "exit_code": 126}, None
        exec_id, process = str(req.get("id", "")), req.get("process")
        if not exec_id or exec_id in self.execs or not isinstance(process, dict):
            return {"error": "invalid exec request", "exit_code": 125}, None
        stdio = Stdio.create(bool(process.get("terminal")), bool(req.get("stdin")))
        err_r, err_w = os.pipe()
        ack_r, ack_w = os.pipe()
        helper = os.fork()
        if helper == 0:
            exec_main(self.pid, self.cgroups_path, process, stdio.child, err_w, ack_r, stdio.console)
        stdio.child_started()
        os.close(err_w)
        os.close(ack_r)
        failure = _read_all(err_r)
        pid = 0 if failure else _host_pid_of_child(helper)  # not reaped before the ack: still listed
        os.close(ack_w)
        if failure:
            os.waitpid(helper, 0)
            stdio.abandon()
            report = json.loads(failure)
            return {"error": report["message"], "exit_code": report["exit_code"]}, None
        stdio.take_console()
        proc = ExecProcess(exec_id, helper, os.pidfd_open(helper), stdio, conn)
        self.execs[exec_id] = proc
        for fd in stdio.outputs:
            self.sel.register(fd, selectors.EVENT_READ, lambda fd, p=proc: self._on_exec_output(p, fd))
        self.sel.register(proc.pidfd, selectors.EVENT_READ, lambda _fd, p=proc: self._on_exec_exit(p))
        session = Session(conn, {"stdout", "stderr"}, stdio.stdin, True, exec_id)
        return {"pid": pid}, session

    def _on_exec_output(self, proc: ExecProcess, fd: int) -> None:
        """Copy a chunk of an exec's output to its session (never to the log)."""
        data = read_chunk(fd)
        if data is None:
            return
        if not data:
            self._close_exec_output(proc, fd)
            return
        self._exec_send(proc, encode(STREAM_KINDS[proc.stdio.outputs[fd]], data))

    def _exec_send(self, proc: ExecProcess, frame: bytes) -> None:
        """Send a frame to the exec's session, if it still has one."""
        session = self.sessions.get(proc.session) if proc.session is not None else None
        if session is not None:
            self._send(session, frame)

    def _close_exec_output(self, proc: ExecProcess, fd: int) -> None:
        """Forget one output fd of an exec."""
        del proc.stdio.outputs[fd]
        self.sel.unregister(fd)
        os.close(fd)

    def _on_exec_exit(self, proc: ExecProcess) -> None:
        """The exec ended: send what is left of its output, then its exit code, and close the session."""
        _, status = os.waitpid(proc.helper, 0)
        self.sel.unregister(proc.pidfd)
        os.close(proc.pidfd)
        for fd in list(proc.stdio.outputs):
            while data := read_chunk(fd):
                self._exec_send(proc, encode(STREAM_KINDS[proc.stdio.outputs[fd]], data))
            self._close_exec_output(proc, fd)
        stdin = proc.stdio.stdin
        if stdin is not None:
            stdin.closing = True
            stdin.pending = b""
            self._settle(stdin)
        code = os.waitstatus_to_exitcode(status)
        self._exec_send(proc, encode_exit(128 - code if code < 0 else code))
        del self.execs[proc.id]
        if proc.session is not None and proc.session in self.sessions:
            self._drop(proc.session)

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
        for conn in list(self.buffers) + list(self.sessions):
            self._drop(conn)
        stdin = self.stdio.stdin
        if stdin is not None and not stdin.closed:
            if stdin.watched:
                self.sel.unregister(stdin.fd)
            stdin.close()


def _host_pid_of_child(parent: int) -> int:
    """The host pid of the one child of `parent` (the helper forked it inside the pid namespace)."""
    with open(f"/proc/{parent}/task/{parent}/children") as f:
        return int(f.read().split()[0])


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


def run(bundle: Path, log_path: Path, status_fd: int, options: dict[str, Any]) -> None:
    """The shim's life: start the container, report, serve, record the exit."""
    (bundle / B.SHIM_PID).write_text(str(os.getpid()))
    from dockyard.runtime.external import shim_for  # imports this module: chosen at run time
    shim = shim_for(bundle, log_path, bool(options.get("open_stdin")), bool(options.get("stdin_once")),
                    Rotation.from_json(options.get("log_rotation")))
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
    shim.stdio.abandon()
    if shim.cgroup and shim.cgroup.exists():
        shim.cgroup.remove()


def main(argv: list[str]) -> None:
    """Entry point: `<bundle> <log_path> <status_fd> [<options json>]`; double-forks away from the launcher.

    Options: {"open_stdin": bool, "stdin_once": bool, "log_rotation": {...}} (docker's OpenStdin and StdinOnce,
    the log's max-size/max-file/compress)."""
    bundle, log_path, status_fd = Path(argv[0]), Path(argv[1]), int(argv[2])
    options = json.loads(argv[3]) if len(argv) > 3 else {}
    os.set_inheritable(status_fd, False)
    if os.fork():
        os._exit(0)
    os.chdir("/")
    run(bundle, log_path, status_fd, options)
    sys.exit(0)
