"""What one session has sent its node (swarmkit's `dispatcher/assignments.go`): the first message is the COMPLETE set
(tasks, their services' names, the secret, config and error data they reference, the network peers), every later
one an INCREMENTAL change against what was sent — tasks added or changed (a status the agent reported itself is no
change), task ids removed, data added and data no task needs any more, and the network peers when they changed —
or nothing at all when nothing changed. A value is computed (a secret unsealed, a template rendered) only when it
is first sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dockyard.cluster import tasks as T
from dockyard.cluster.rpcwire import DATA_KINDS
Key = tuple[str, str]  # (data kind, key): ("secrets", id), ("configs", "id@task id"), ("errors", task id)...
Value = Callable[[], tuple[Key, bytes]]  # where the value goes (a template may fail: then under `errors`) and it
UNSTABLE = ("Version", "Status", "UpdatedAt")  # what changes without the agent having to act (swarmkit's
# TasksEqualStable: the agent reported the status itself)


@dataclass
class Current:
    """A node's assignments now: its tasks as the agent runs them, their services' names, the data they need (each
    value computed on demand) and its network peers."""

    tasks: list[T.Task]
    services: dict[str, str]
    data: dict[Key, Value]
    networks: list[dict[str, Any]]


def known(where: Key, value: bytes) -> Value:
    """A value computed already."""
    return lambda: (where, value)


def _stable(task: T.Task) -> dict[str, Any]:
    """The parts of a task whose change the agent must hear of."""
    return {key: value for key, value in task.items() if key not in UNSTABLE}


def _by_kind(values: dict[Key, bytes]) -> dict[str, dict[str, bytes]]:
    """{kind: {key: value}} for every data kind."""
    grouped: dict[str, dict[str, bytes]] = {kind: {} for kind in DATA_KINDS}
    for (kind, key), value in values.items():
        grouped[kind][key] = value
    return grouped


class AssignmentSet:
    """One session's view of what its node holds."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] | None = None  # None until the COMPLETE set went out
        self.data: dict[Key, Key] = {}  # wanted key -> where its value was sent
        self.networks: list[dict[str, Any]] = []

    def next(self, current: Current) -> dict[str, Any] | None:
        """The message that brings the node from what it was sent to `current` (None: nothing changed)."""
        stable = {task["ID"]: _stable(task) for task in current.tasks}
        added = {key: current.data[key]() for key in current.data if key not in self.data}
        dropped = [self.data.pop(key) for key in list(self.data) if key not in current.data]
        self.data.update({key: where for key, (where, _) in added.items()})
        values = {where: value for where, value in added.values()}
        if self.tasks is None:
            self.tasks, self.networks = stable, current.networks
            return {"type": "assignments", "kind": "complete", "tasks": current.tasks,
                    "services": current.services, "data": _by_kind(values), "networks": current.networks}
        changed = [task for task in current.tasks if self.tasks.get(task["ID"]) != stable[task["ID"]]]
        removed = [task_id for task_id in self.tasks if task_id not in stable]
        self.tasks = stable
        message: dict[str, Any] = {"type": "assignments", "kind": "incremental", "tasks": changed,
                                   "removed": removed, "data": _by_kind(values),
                                   "removed_data": {kind: [k for d, k in dropped if d == kind] for kind in DATA_KINDS},
                                   "services": {task["ServiceID"]: current.services[task["ServiceID"]]
                                                for task in changed if task["ServiceID"] in current.services}}
        if current.networks != self.networks:
            self.networks = message["networks"] = current.networks
        elif not (changed or removed or values or dropped):
            return None
        return message
