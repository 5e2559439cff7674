"""The replicated orchestrator (swarmkit's `manager/orchestrator/replicated`): slots 1..Replicas each hold one
runnable task. Missing slots get a new task in the lowest free slot number; on scale down the surplus slots'
tasks are set to desired `remove`, preferring slots whose task is not running, then slots on the nodes holding the
most tasks of the service, then the highest slot numbers."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager.plan import Plan


def replicas(service: dict[str, Any]) -> int | None:
    """The wanted replica count, or None when the service is not replicated."""
    mode = service["Spec"].get("Mode") or {}
    if "Replicated" not in mode:
        return None
    return int((mode["Replicated"] or {}).get("Replicas", 1))


def runnable_slots(tasks: list[T.Task]) -> dict[int, list[T.Task]]:
    """Slot number → the runnable tasks in it."""
    slots: dict[int, list[T.Task]] = {}
    for task in tasks:
        if T.is_runnable(task):
            slots.setdefault(task.get("Slot", 0), []).append(task)
    return slots


def reconcile(service: dict[str, Any], tasks: list[T.Task], now: float, new_id: T.NewId) -> Plan:
    """Writes that bring the service's slots to its replica count."""
    plan = Plan()
    wanted = replicas(service)
    if wanted is None:
        return plan
    slots = runnable_slots(tasks)
    if len(slots) > wanted:
        per_node = Counter(t.get("NodeID") for held in slots.values() for t in held)

        def keep_last(slot: int) -> tuple[bool, int, int]:
            held = slots[slot]
            running = any(t["Status"]["State"] == "running" for t in held)
            return running, -max(per_node[t.get("NodeID")] for t in held), -slot
        for slot in sorted(slots, key=keep_last)[:len(slots) - wanted]:
            plan.update += [T.with_desired(t, "remove", now) for t in slots[slot]]
    slot = 0
    for _ in range(wanted - len(slots)):
        slot += 1
        while slot in slots:
            slot += 1
        plan.create.append(T.new_task(service, slot, "", now, new_id))
    return plan
