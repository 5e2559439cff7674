"""Exec instances: create, inspect, start (a process in a running container through its shim), resize."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from dockyard.containers.launcher import container_env
from dockyard.containers.record import ContainerRecord
from dockyard.errors import Conflict, InvalidParameter, NotFound, RuntimeFailure
from dockyard.oci.spec import ALL_CAPABILITIES
from dockyard.oci.users import resolve_user
from dockyard.util.aio import run_blocking, wait_within

_LAUNCH_WAIT = 5.0  # how long a resize waits for an exec whose start is under way
_KILLED = 137  # an exec whose shim went away died with its container


@dataclass
class ExecRecord:
    """One exec instance, docker's ExecConfig."""

    id: str
    container_id: str
    cmd: list[str]
    tty: bool
    open_stdin: bool
    open_stdout: bool
    open_stderr: bool
    user: str
    env: list[str]
    working_dir: str
    privileged: bool
    detach_keys: str | None
    linked: list[str]  # the links' variables (dockerd works them out at exec create)
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    launched: asyncio.Event = field(default_factory=asyncio.Event)

    def view(self) -> dict[str, Any]:
        """GET /exec/{id}/json."""
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
            "ProcessConfig": {"tty": self.tty, "entrypoint": self.cmd[0], "arguments": self.cmd[1:],
                              "privileged": self.privileged, "user": self.user},
            "OpenStdin": self.open_stdin, "OpenStderr": self.open_stderr, "OpenStdout": self.open_stdout,
            "CanRemove": False, "ContainerID": self.container_id, "DetachKeys": self.detach_keys or "",
            "Pid": self.pid,
        }


def _str_list(body: dict[str, Any], key: str) -> list[str]:
    """A list of strings from the body (null or absent is empty)."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"invalid {key}: expected a list of strings")
    return value


def _check_runnable(doc: ContainerRecord, shim: Any) -> None:
    """Docker's 409s for exec into a container that is not running, paused or restarting."""
    state, cid = doc.state, doc.id
    if not state.running or shim is None:
        raise Conflict(f"Container {cid} is not running")
    if state.paused:
        raise Conflict(f"Container {cid} is paused, unpause the container before exec")
    if state.restarting:
        raise Conflict(f"Container {cid} is restarting, wait until the container is running")


class ExecService:
    """Exec instances of every container; a process runs inside its container through the shim."""

    def __init__(self, containers: Any) -> None:
        self._containers = containers
        self._execs: dict[str, ExecRecord] = {}

    def create(self, ref: str, body: Any) -> str:
        """POST /containers/{id}/exec: validate and record; 409 unless the container runs."""
        if not isinstance(body, dict):
            raise InvalidParameter("invalid exec config: expected a JSON object")
        doc, shim = self._containers.runtime_of(ref)
        _check_runnable(doc, shim)
        cmd = _str_list(body, "Cmd")
        if not cmd:
            raise InvalidParameter("No exec command specified")
        working_dir = body.get("WorkingDir") or ""
        if working_dir and not working_dir.startswith("/"):
            raise InvalidParameter(f"the working directory '{working_dir}' is invalid, it needs to be an "
                                   "absolute path")
        self._forget_orphans()
        rec = ExecRecord(secrets.token_hex(32), doc.id, cmd, bool(body.get("Tty")), bool(body.get("AttachStdin")),
                         bool(body.get("AttachStdout")), bool(body.get("AttachStderr")), str(body.get("User") or ""),
                         _str_list(body, "Env"), working_dir, bool(body.get("Privileged")), body.get("DetachKeys"),
                         self._containers.linked_env(doc))
        self._execs[rec.id] = rec
        self._containers.publish(doc.id, f"exec_create: {' '.join(cmd)}", execID=rec.id)
        return rec.id

    def _forget_orphans(self) -> None:
        """Drop finished execs whose container is gone."""
        for rec in list(self._execs.values()):
            if rec.running:
                continue
            try:
                self._containers.runtime_of(rec.container_id)
            except NotFound:
                del self._execs[rec.id]

    def get(self, exec_id: str) -> ExecRecord:
        """An exec by id; 404 with docker's text."""
        rec = self._execs.get(exec_id)
        if rec is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    def inspect(self, exec_id: str) -> dict[str, Any]:
        """GET /exec/{id}/json."""
        return self.get(exec_id).view()

    def claim(self, exec_id: str) -> ExecRecord:
        """Mark an exec as starting (before the hijack); 409 when it already ran or the container stopped."""
        rec = self.get(exec_id)
        if rec.running or rec.started:
            raise Conflict(f"Exec command {exec_id} is already running" if rec.running
                           else f"Exec command {exec_id} has already run")
        doc, shim = self._containers.runtime_of(rec.container_id)
        _check_runnable(doc, shim)
        rec.started = True
        return rec

    async def launch(self, rec: ExecRecord, console: tuple[int, int] | None = None) -> tuple[Any, Any]:
        """Start a claimed exec in its container: (reader, writer) of the shim's exec session; a TTY gets the
        `console` (height, width) size. RuntimeFailure with docker's text when the process cannot be started
        (exit code recorded)."""
        try:
            doc, shim = self._containers.runtime_of(rec.container_id)
            _check_runnable(doc, shim)
            process = await run_blocking(self._process, doc, rec)
            reader, writer, answer = await shim.open_stream(
                {"op": "exec", "id": rec.id, "process": process, "stdin": rec.open_stdin})
        except (Conflict, RuntimeFailure) as exc:
            self.finish(rec, 126)
            raise RuntimeFailure(exc.message, 126) from exc
        if "error" in answer:
            self.finish(rec, int(answer.get("exit_code", 126)))
            raise RuntimeFailure("OCI runtime exec failed: exec failed: unable to start container process: "
                                 f"{answer['error']}: unknown", rec.exit_code or 126)
        rec.running, rec.pid = True, int(answer["pid"])
        rec.launched.set()
        self._containers.publish(rec.container_id, f"exec_start: {' '.join(rec.cmd)}", execID=rec.id)
        if rec.tty and console is not None:
            await self.resize(rec.id, *console)
        return reader, writer

    def _process(self, doc: ContainerRecord, rec: ExecRecord) -> dict[str, Any]:
        """The OCI process of an exec: the container's (capabilities, rlimits...) with the exec's command,
        user, environment, working directory and terminal."""
        bundle = self._containers.bundle(doc.id)
        process = json.loads((bundle / "config.json").read_text())["process"]
        config, host = doc.config, doc.host_config
        try:
            user = resolve_user(bundle / "rootfs", rec.user or config.get("User") or "", host.get("GroupAdd"))
        except InvalidParameter as bad:
            raise RuntimeFailure(bad.message, 126) from bad
        env_config = {"Env": list(config.get("Env") or []) + rec.env, "Tty": rec.tty}
        process.update(args=list(rec.cmd), terminal=rec.tty, cwd=rec.working_dir or config.get("WorkingDir") or "/",
                       env=container_env(env_config, config["Hostname"], user.home, rec.linked),
                       user={"uid": user.uid, "gid": user.gid, "additionalGids": list(user.additional_gids)})
        if rec.privileged:
            caps = list(ALL_CAPABILITIES)
            process["capabilities"] = {"bounding": caps, "effective": list(caps), "permitted": list(caps)}
        return process

    def finish(self, rec: ExecRecord, exit_code: int | None) -> None:
        """Record the end of an exec (None: its shim went away) and publish exec_die."""
        rec.running = False
        rec.exit_code = _KILLED if exit_code is None else exit_code
        rec.launched.set()
        try:
            self._containers.publish(rec.container_id, "exec_die", execID=rec.id, exitCode=str(rec.exit_code))
        except NotFound:
            return  # the container was removed meanwhile: nobody to report to

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        """POST /exec/{id}/resize: the exec's TTY window size (waits briefly for a start under way)."""
        rec = self.get(exec_id)
        if rec.started and not rec.launched.is_set():
            await wait_within(rec.launched.wait(), _LAUNCH_WAIT)
        if not rec.running:
            raise Conflict(f"Exec {exec_id} is not running")
        _, shim = self._containers.runtime_of(rec.container_id)
        if shim is None:
            raise Conflict(f"Container {rec.container_id} is not running")
        await run_blocking(shim.resize, height, width, rec.id)
