"""Restart policies (no, always, on-failure[:N], unless-stopped, on-unhealthy) with docker's back-off.

Docker's restartmanager: the delay starts at 100 ms and doubles up to one minute; a run that lasted
10 s or more resets it. `docker stop`/`kill` and `rm` cancel restarts; a manual start resets the count.
`on-unhealthy` (Dockyard's own) behaves as `always` and also restarts a container whose healthcheck
turns unhealthy (see containers/health.py).

Between an exit and the policy's start the container is `restarting` (never `exited`): the start goes
from `restarting` straight to `running`, and only if the container is still restarting when it holds
the container's lock (see ContainerService.start), so a stop, a removal or another start that got there
first turns it into nothing. A restart can be cancelled only while it waits out its back-off; once it
has begun starting the container it finishes, and whoever stopped it then stops what it started.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

from dockyard.containers.record import ContainerRecord, ContainerState
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.util.timeutil import parse_rfc3339, unix_seconds

log = logging.getLogger(__name__)

POLICIES = ("no", "always", "on-failure", "unless-stopped", "on-unhealthy")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def validate_restart_policy(policy: Any, auto_remove: bool) -> dict[str, Any]:
    """Docker's checks of HostConfig.RestartPolicy; returns the normalised policy."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.RestartPolicy "
                               "of type container.RestartPolicy")
    name = policy.get("Name") or "no"
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(name, str):
        raise InvalidParameter("json: cannot unmarshal into Go struct field RestartPolicy.Name of type string")
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidParameter("json: cannot unmarshal into Go struct field RestartPolicy.MaximumRetryCount "
                               "of type int")
    if name not in POLICIES:
        raise InvalidParameter(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
                               "'on-failure', 'unless-stopped', or 'on-unhealthy'")
    if count < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if auto_remove and name != "no":
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    return {"Name": name, "MaximumRetryCount": count}


def policy_name(doc: ContainerRecord) -> str:
    """The container's restart policy name ("no" when unset)."""
    return (doc.host_config.get("RestartPolicy") or {}).get("Name") or "no"


def should_restart(doc: ContainerRecord, exit_code: int, manually_stopped: bool) -> bool:
    """Docker's ShouldRestart decision for one exit (the count is doc.restart_count)."""
    name = policy_name(doc)
    if name in ("always", "on-unhealthy"):
        return True
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        limit = doc.host_config["RestartPolicy"].get("MaximumRetryCount") or 0
        return exit_code != 0 and (limit == 0 or doc.restart_count < limit)
    return False


def run_seconds(state: ContainerState) -> float:
    """How long the last run lasted (StartedAt to FinishedAt)."""
    if unix_seconds(state.started_at) <= 0 or unix_seconds(state.finished_at) <= 0:
        return 0.0
    return parse_rfc3339(state.finished_at) - parse_rfc3339(state.started_at)


def mark_restarting(doc: ContainerRecord) -> None:
    """Docker's SetRestarting: counted as running (so ps lists it) but with no process."""
    state = doc.state
    state.status, state.running, state.restarting, state.paused, state.pid = "restarting", True, True, False, 0


def clear_restarting(doc: ContainerRecord) -> None:
    """A restart that will not happen after all: the container is simply exited."""
    state = doc.state
    state.status, state.running, state.restarting, state.pid = "exited", False, False, 0


@dataclass
class _Pending:
    """Back-off state of one container while the daemon runs."""

    delay: float = 0.0
    task: asyncio.Task | None = None  # the restart in progress, from its scheduling until its start returned
    waiting: bool = False  # the task still sleeps its back-off: cancelling it then is safe
    canceled: bool = False
    force: bool = False  # restart on the next exit whatever the policy (unhealthy)


class RestartSupervisor:
    """Decides after every exit whether to restart, waits the back-off, and starts the container again."""

    def __init__(self, get_doc: Callable[[str], ContainerRecord | None],
                 save: Callable[[ContainerRecord], Awaitable[None]],
                 start: Callable[[str], Awaitable[bool]], kill: Callable[[str], Awaitable[None]],
                 publish: Callable[..., None]) -> None:
        self._get_doc = get_doc
        self._kill = kill
        self._save = save
        self._start = start
        self._publish = publish
        self._pending: dict[str, _Pending] = {}

    def _state(self, container_id: str) -> _Pending:
        return self._pending.setdefault(container_id, _Pending())

    def started_by_user(self, doc: ContainerRecord) -> None:
        """A manual start (or restart): forget back-off, count and the manual-stop flag (docker does)."""
        self._cancel_task(doc.id)
        self._pending.pop(doc.id, None)
        doc.restart_count = 0
        doc.manually_stopped = False

    async def stopped_by_user(self, doc: ContainerRecord) -> None:
        """`stop`, `kill` with the stop signal or SIGKILL, `rm -f`: no restart follows; a pending one ends."""
        self._state(doc.id).canceled = True
        doc.manually_stopped = True
        self._cancel_task(doc.id)
        if doc.state.restarting:
            clear_restarting(doc)  # a policy start that has not begun launching now does nothing
        await self._save(doc)

    def _cancel_task(self, container_id: str) -> bool:
        """End a restart still waiting out its back-off; True when a restart was pending at all.

        A restart already starting the container is left to finish (cancelling it would abandon a
        launch that goes on in its thread): the caller clears `restarting`, so a start that has not
        taken the container's lock yet does nothing, and one that has is stopped by the caller next."""
        pending = self._pending.get(container_id)
        if pending is None or pending.task is None or pending.task.done():
            return False
        if pending.waiting and pending.task is not asyncio.current_task():
            pending.task.cancel()
            pending.task = None
        return True

    def pending(self, container_id: str) -> bool:
        """Whether a restart of the container is scheduled or under way."""
        pending = self._pending.get(container_id)
        return pending is not None and pending.task is not None and not pending.task.done()

    def forget(self, container_id: str) -> None:
        """The container is removed."""
        self._cancel_task(container_id)
        self._pending.pop(container_id, None)

    def after_exit(self, doc: ContainerRecord, exit_code: int) -> bool:
        """After an exit has been recorded: schedule a restart when the policy says so (doc left restarting)."""
        pending = self._state(doc.id)
        forced, pending.force = pending.force, False
        if pending.canceled or not (forced or should_restart(doc, exit_code, bool(doc.manually_stopped))):
            pending.canceled = False
            return False
        self._schedule(doc, pending, run_seconds(doc.state))
        return True

    async def restart_unhealthy(self, doc: ContainerRecord) -> None:
        """Kill a container whose healthcheck failed; the exit then restarts it whatever its policy."""
        self._state(doc.id).force = True
        await self._kill(doc.id)

    def _schedule(self, doc: ContainerRecord, pending: _Pending, ran_for: float) -> None:
        if ran_for >= RESET_AFTER:
            pending.delay = 0.0
        pending.delay = FIRST_DELAY if pending.delay == 0.0 else min(pending.delay * 2, MAX_DELAY)
        doc.restart_count += 1
        mark_restarting(doc)
        pending.waiting = True
        pending.task = asyncio.create_task(self._restart_after(doc.id, pending, pending.delay))

    async def _restart_after(self, container_id: str, pending: _Pending, delay: float) -> None:
        """Wait the back-off, then start the container again; a failed start leaves it exited (docker's)."""
        await asyncio.sleep(delay)
        doc = self._get_doc(container_id)
        if doc is None or self._pending.get(container_id) is not pending or pending.task is not asyncio.current_task():
            return
        pending.waiting = False  # from here on the restart runs to its end: see _cancel_task
        try:
            started = await self._start(container_id)
        except DockyardError as failed:
            log.warning("restarting container %s failed: %s", container_id[:12], failed)
            return
        except Exception:  # a background task: nobody else would see the error
            log.exception("restarting container %s failed", container_id[:12])
            return
        finally:
            if pending.task is asyncio.current_task():
                pending.task = None
        if started:
            self._publish(doc, "restart")

    async def resume(self, docs: Iterable[ContainerRecord]) -> None:
        """At daemon start, for containers no shim runs: restart what was waiting to restart, and what its
        policy restarts after a daemon restart."""
        for doc in docs:
            state = doc.state
            if self.pending(doc.id):
                continue  # already scheduled by the exit handled during restore
            if state.restarting:
                self._schedule(doc, self._state(doc.id), 0.0)
                doc.restart_count -= 1  # the interrupted restart was already counted
                await self._save(doc)
            elif (not state.running and unix_seconds(state.started_at) > 0
                  and should_restart(doc, state.exit_code, bool(doc.manually_stopped))):
                self._schedule(doc, self._state(doc.id), RESET_AFTER)
                doc.restart_count -= 1  # docker starts these without counting a restart
                await self._save(doc)
