"""One task's controller on its node (swarmkit's `exec.Controller` driven by `exec.Do`): it walks the task up the
ladder ACCEPTED → PREPARING → READY → STARTING → RUNNING → COMPLETE | FAILED | SHUTDOWN | REJECTED toward what
the orchestrator wants, through the container and image services, and reports each step.

Preparing pulls the image and falls back to a local copy when the pull fails (as dockerd); starting waits for a
healthcheck to pass before the task counts as running; shutting down uses the spec's stop signal and grace
period. A container that already exists for the task (a restarted daemon) is adopted, not recreated."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from dockyard.cluster import tasks as T
from dockyard.cluster.agent.containerconfig import create_body, grace_seconds, port_status
from dockyard.cluster.agent.protocols import TaskEngine
from dockyard.cluster.templating import TemplateError
from dockyard.errors import DockyardError, NotFound
from dockyard.util import reference
from dockyard.util.aio import cancel_and_wait, run_blocking

log = logging.getLogger(__name__)

HEALTH_POLL = 0.2
Report = Callable[[str, dict[str, Any]], None]


class Rejected(Exception):
    """The task cannot run here (its error text goes into Status.Err)."""


class TaskController:
    """Drives one task's container."""

    def __init__(self, task: T.Task, service_name: str, engine: TaskEngine, report: Report,
                 data: dict[str, dict[str, bytes]], networks: list[tuple[str, str | None]] | None = None) -> None:
        self.task = task
        self.networks = networks or []
        self.name = T.task_name(task, service_name)
        self.service_name = service_name
        self.engine = engine
        self.report = report
        self.data = data
        self.changed = asyncio.Event()
        self.runner: asyncio.Task[None] | None = None
        self.orphaned = False  # moved off this node while it was away: its container goes once it stopped

    def start(self) -> None:
        """Begin driving the task."""
        self.runner = asyncio.create_task(self._drive(), name=f"task-{self.task['ID']}")

    def update(self, task: T.Task) -> None:
        """The orchestrator's newest view of the task (its desired state may have moved)."""
        self.task = task
        self.changed.set()

    def orphan(self) -> None:
        """The task was moved elsewhere while this node was away: it stops as wanted, reports `shutdown`, and then
        its container and files go (the task itself stays in the store as history)."""
        self.orphaned = True
        if self.runner is None or self.runner.done():
            self.runner = asyncio.create_task(self._drop(), name=f"task-{self.task['ID']}")
        self.changed.set()

    async def remove(self) -> None:
        """The task left the assignments: stop driving it and remove its container."""
        if self.runner is not None:
            await cancel_and_wait(self.runner)
        await self._drop()

    async def _drop(self) -> None:
        """Remove the task's container and its secret and config files."""
        try:
            await self.engine.containers.remove(self.name, force=True)
        except NotFound:
            pass  # never created, or already gone
        await run_blocking(self.engine.files.remove, self.task["ID"])

    def _wants(self, state: str) -> bool:
        """The orchestrator wants the task at least this far (desired ≥ state)."""
        return T.desired(self.task) >= T.rank(state)

    def _send(self, state: str, message: str, err: str = "", **extra: Any) -> None:
        """Report a status (the dispatcher drops anything that would move backwards)."""
        status: dict[str, Any] = {"State": state, "Message": message}
        if err:
            status["Err"] = err
        status.update(extra)
        self.report(self.task["ID"], status)

    def _container_status(self, exit_code: int | None = None) -> dict[str, Any]:
        """ContainerStatus from the container's inspect document."""
        state = self.engine.containers.inspect(self.name)
        status: dict[str, Any] = {"ContainerID": state["Id"], "PID": state["State"]["Pid"]}
        code = state["State"]["ExitCode"] if exit_code is None else exit_code
        if code:
            status["ExitCode"] = code
        return status

    async def _drive(self) -> None:
        """The task's whole life on this node."""
        try:
            await self._walk()
            if self.orphaned:
                await self._drop()
        except asyncio.CancelledError:
            raise
        except DockyardError as exc:
            log.warning("task %s: %s", self.task["ID"], exc.message)
            self._send("failed", "", err=exc.message)

    async def _walk(self) -> None:
        """Prepare, start, run and stop the task as its desired state allows."""
        observed = T.observed(self.task)
        if observed > T.RUNNING:
            return
        existing = self._existing()
        if existing is not None and existing["State"]["Running"]:
            await self._run()
            return
        if existing is not None and observed >= T.rank("starting"):
            done: asyncio.Future = asyncio.get_running_loop().create_future()
            done.set_result(existing["State"]["ExitCode"])
            await self._finish(done)
            return
        if self._wants("shutdown") and existing is None:
            self._send("shutdown", "shutdown")
            return
        if existing is None:
            self._send("accepted", "accepted")
            self._send("preparing", "preparing")
            try:
                await self._prepare()
            except Rejected as exc:
                self._send("rejected", "preparing", err=str(exc))
                return
        self._send("ready", "prepared")
        while not self._wants("running"):
            await self._next_change()
        if self._wants("shutdown"):
            self._send("shutdown", "shutdown")
            return
        self._send("starting", "starting")
        await self.engine.containers.start(self.name)
        await self._run()

    def _existing(self) -> dict[str, Any] | None:
        """The task's container, if it was already made."""
        try:
            return self.engine.containers.inspect(self.name)
        except NotFound:
            return None

    async def _next_change(self) -> None:
        """Wait for the orchestrator to change the task."""
        self.changed.clear()
        await self.changed.wait()

    async def _prepare(self) -> None:
        """The image here (pulled, or the local copy), the secrets and configs on the task's tmpfs, the container
        created."""
        failed = self.data.get("errors", {}).get(self.task["ID"])
        if failed is not None:
            raise Rejected(failed.decode())  # its ContainerSpec templates did not expand
        image = self.task["Spec"]["ContainerSpec"]["Image"]
        await self._pull(image)
        body = create_body(self.task, self.service_name, self.networks)
        try:
            mounts = await run_blocking(self.engine.files.materialise, self.task, self.data)
        except KeyError as exc:
            raise Rejected(f"secret or config {exc.args[0]} not found") from None
        except TemplateError as exc:
            raise Rejected(exc.message) from None
        except OSError as exc:
            raise Rejected(f"secrets and configs of the task: {exc.strerror}") from None
        body["HostConfig"]["Mounts"] = [*(body["HostConfig"].get("Mounts") or []), *mounts]
        try:
            await self.engine.containers.create(body, self.name)
        except DockyardError as exc:
            raise Rejected(exc.message) from None

    async def _pull(self, image: str) -> None:
        """Pull the image; when that fails, a local copy does (dockerd's fallback)."""
        ref = reference.parse(image)

        def pull() -> None:
            for message in self.engine.images.pull(ref.name, ref.digest or ref.tag or reference.DEFAULT_TAG):
                if message.get("error"):
                    raise Rejected(str(message["error"]))
        try:
            await run_blocking(pull)
            return
        except (Rejected, DockyardError) as exc:
            failure = exc.message if isinstance(exc, DockyardError) else str(exc)
        try:
            self.engine.images.inspect(image)
        except NotFound:
            raise Rejected(failure) from None
        log.info("task %s: pulling %s failed (%s); using the local copy", self.task["ID"], image, failure)

    async def _run(self) -> None:
        """From started to its end: running once healthy, then complete/failed on exit, shutdown on request."""
        exited = self.engine.containers.register_wait(self.name, "not-running")
        if not await self._healthy(exited):
            await self._finish(exited)
            return
        ports = self.engine.containers.inspect(self.name)["NetworkSettings"].get("Ports") or {}
        self._send("running", "started", ContainerStatus=self._container_status(), PortStatus=port_status(ports))
        await self._until_exit_or_shutdown(exited)
        await self._finish(exited)

    async def _healthy(self, exited: asyncio.Future) -> bool:
        """Wait for a healthcheck to pass (no healthcheck: at once); False when the container exits first."""
        while not exited.done():
            health = self.engine.containers.inspect(self.name)["State"].get("Health")
            if health is None or health.get("Status") == "healthy":
                return True
            if self._wants("shutdown"):
                return True
            await asyncio.wait([exited], timeout=HEALTH_POLL)
        return False

    async def _until_exit_or_shutdown(self, exited: asyncio.Future) -> None:
        """Run until the container exits or the orchestrator wants the task stopped."""
        while not exited.done():
            if self._wants("shutdown"):
                spec = self.task["Spec"]["ContainerSpec"]
                await self.engine.containers.stop(self.name, grace_seconds(spec), spec.get("StopSignal") or None)
                await exited
                return
            self.changed.clear()
            waiter = asyncio.ensure_future(self.changed.wait())
            await asyncio.wait([exited, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

    async def _finish(self, exited: asyncio.Future) -> None:
        """Report how the container ended."""
        if not exited.done():
            return
        code = int(exited.result() or 0)
        status = self._container_status(code)
        if self._wants("shutdown"):
            self._send("shutdown", "shutdown", ContainerStatus=status)
        elif code == 0:
            self._send("complete", "finished", ContainerStatus=status)
        else:
            self._send("failed", "started", err=f"task: non-zero exit ({code})", ContainerStatus=status)
