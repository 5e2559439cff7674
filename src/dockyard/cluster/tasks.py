"""Swarm tasks in docker's API shape: the state ladder (swarmkit's `design/task_model.md`), new task objects, status
changes that never move backwards, and the view the API shows.

A stored task carries three fields dockerd keeps in its own store but never shows: `SpecVersion` (the service version
the task's spec was copied from, for the CLI's `_up-to-date` filter), `StartAfter` (when a task waiting in
desired state `ready` may be started: the restart delay) and `ServiceAnnotations` (its service's name and labels when
it was made, which the `label` filter of `/tasks` matches, as swarmkit's)."""

from __future__ import annotations

import copy
from typing import Any, Callable

from dockyard.util.timeutil import format_ns, parse_rfc3339

STATES = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running",
          "complete", "shutdown", "failed", "rejected", "remove", "orphaned")
RANK = {state: index for index, state in enumerate(STATES)}
RUNNING = RANK["running"]
COMPLETE = RANK["complete"]
INTERNAL = ("SpecVersion", "StartAfter", "ServiceAnnotations")

Task = dict[str, Any]
NewId = Callable[[], str]


def rank(state: str) -> int:
    """A state's place on the ladder."""
    return RANK[state]


def stamp(now: float) -> str:
    """`now` (unix seconds) as the API's timestamp."""
    return format_ns(int(now * 1_000_000_000))


def seconds(timestamp: str) -> float:
    """An API timestamp as unix seconds."""
    return parse_rfc3339(timestamp)


def observed(task: Task) -> int:
    """The rank of what the agent last reported."""
    return rank(task["Status"]["State"])


def desired(task: Task) -> int:
    """The rank of what the orchestrator wants."""
    return rank(task["DesiredState"])


def is_runnable(task: Task) -> bool:
    """Wanted running (or ready to run, or a job's task wanted complete): the task holds its slot."""
    return desired(task) <= COMPLETE


def has_ended(task: Task) -> bool:
    """The task got past running (complete, failed, shut down...)."""
    return observed(task) > RUNNING


def is_active(task: Task) -> bool:
    """Wanted and not yet ended: counts against its node's resources."""
    return is_runnable(task) and not has_ended(task)


def new_task(service: dict[str, Any], slot: int, node_id: str, now: float, new_id: NewId,
             desired_state: str = "running", start_after: float | None = None) -> Task:
    """A task of `service` in `slot` (global tasks: slot 0 and their node), spec copied from the service."""
    when = stamp(now)
    task: Task = {
        "ID": new_id(),
        "Version": {"Index": 0},
        "CreatedAt": when,
        "UpdatedAt": when,
        "Labels": {},
        "Spec": copy.deepcopy(service["Spec"]["TaskTemplate"]),
        "ServiceID": service["ID"],
        "Status": {"Timestamp": when, "State": "new", "Message": "created", "PortStatus": {}},
        "DesiredState": desired_state,
        "SpecVersion": dict(service.get("SpecVersion") or service["Version"]),
        "ServiceAnnotations": {"Name": service["Spec"].get("Name", ""),
                               "Labels": dict(service["Spec"].get("Labels") or {})},
    }
    if slot:
        task["Slot"] = slot
    if node_id:
        task["NodeID"] = node_id
    if start_after is not None:
        task["StartAfter"] = stamp(start_after)
    return task


def with_desired(task: Task, state: str, now: float) -> Task:
    """A copy of `task` wanted in `state`."""
    changed = copy.deepcopy(task)
    changed["DesiredState"] = state
    changed["UpdatedAt"] = stamp(now)
    changed.pop("StartAfter", None)
    return changed


def with_status(task: Task, state: str, message: str, now: float, err: str = "",
                **extra: Any) -> Task | None:
    """A copy of `task` in observed `state`, or None when that would move it backwards or change nothing."""
    old = task["Status"]
    if rank(state) < observed(task) or (state == old["State"] and message == old.get("Message")
                                        and err == old.get("Err", "")):
        return None
    changed = copy.deepcopy(task)
    status: dict[str, Any] = {"Timestamp": stamp(now), "State": state, "Message": message}
    if err:
        status["Err"] = err
    status.update({key: value for key, value in old.items() if key in ("ContainerStatus",)})
    status.update(extra)
    status.setdefault("PortStatus", {})
    changed["Status"] = status
    changed["UpdatedAt"] = stamp(now)
    return changed


def public_view(task: Task) -> Task:
    """The task as `GET /tasks` shows it."""
    return {key: value for key, value in task.items() if key not in INTERNAL}


def slot_key(task: Task) -> tuple[str, int | str]:
    """What identifies a task's slot: (service, slot) for replicated services, (service, node) for global ones."""
    return task["ServiceID"], task.get("Slot") or task.get("NodeID", "")


def task_name(task: Task, service_name: str) -> str:
    """`<service>.<slot>.<task id>` (global: `<service>.<node id>.<task id>`): the task's container name."""
    return f"{service_name}.{task.get('Slot') or task.get('NodeID', '')}.{task['ID']}"
