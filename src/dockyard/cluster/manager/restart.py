"""The restart supervisor (swarmkit's `manager/orchestrator/restart`): a task that ended while wanted running is
replaced in its slot per the service's RestartPolicy (Condition any|on-failure|none, Delay, MaxAttempts, Window);
a replacement waits in desired state `ready` until its delay has passed and the slot's old task has stopped."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from dockyard.cluster import tasks as T
from dockyard.cluster.manager.plan import Plan

NANO = 1_000_000_000
DEFAULT_DELAY = 5 * NANO


def policy(service: dict[str, Any]) -> dict[str, Any]:
    """The service's RestartPolicy with swarmkit's defaults filled in."""
    sent = service["Spec"]["TaskTemplate"].get("RestartPolicy") or {}
    return {"Condition": sent.get("Condition") or "any", "Delay": sent.get("Delay", DEFAULT_DELAY),
            "MaxAttempts": sent.get("MaxAttempts", 0), "Window": sent.get("Window", 0)}


def by_slot(tasks: Iterable[T.Task]) -> dict[tuple[str, int | str], list[T.Task]]:
    """Tasks grouped by slot, oldest first."""
    slots: dict[tuple[str, int | str], list[T.Task]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: t["CreatedAt"]):
        slots[T.slot_key(task)].append(task)
    return slots


def should_restart(task: T.Task, rules: dict[str, Any], history: list[T.Task], now: float) -> bool:
    """Whether an ended task gets a replacement: its condition, then MaxAttempts within Window."""
    if rules["Condition"] == "none":
        return False
    if rules["Condition"] == "on-failure" and task["Status"]["State"] == "complete":
        return False
    if rules["MaxAttempts"] <= 0:
        return True
    restarts = history[1:]
    if rules["Window"] > 0:
        since = now - rules["Window"] / NANO
        restarts = [t for t in restarts if T.seconds(t["CreatedAt"]) >= since]
    return len(restarts) < rules["MaxAttempts"]


def supervise(service: dict[str, Any], tasks: list[T.Task], down_nodes: set[str], now: float,
              new_id: T.NewId, drained: set[str] | None = None) -> Plan:
    """Replace the service's ended tasks (and, for replicated services, those on down or `drained` nodes), and
    start the replacements whose wait is over. As swarmkit's restart supervisor, a replacement waits the policy's
    delay, except one for a task on a drained node."""
    plan = Plan()
    rules = policy(service)
    replicated = "Replicated" in service["Spec"].get("Mode", {})
    for history in by_slot(tasks).values():
        for task in history:
            drained_away = replicated and task.get("NodeID") in (drained or set()) and T.is_active(task)
            lost = drained_away or replicated and task.get("NodeID") in down_nodes and T.is_active(task)
            if not T.is_runnable(task) or not (T.has_ended(task) or lost):
                continue
            if not lost and not should_restart(task, rules, history, now):
                continue
            plan.update.append(T.with_desired(task, "shutdown", now))
            delay = 0 if drained_away else rules["Delay"] / NANO
            plan.create.append(T.new_task(service, task.get("Slot", 0), "" if replicated else task["NodeID"],
                                          now, new_id, "ready", now + delay))
        plan.update += start_ready(history, now, down_nodes)
    return plan


def down_nodes(nodes: list[dict[str, Any]]) -> set[str]:
    """Ids of the nodes the dispatcher marked `down`."""
    return {n["ID"] for n in nodes if n.get("Status", {}).get("State") == "down"}


def start_ready(history: list[T.Task], now: float, down_nodes: set[str]) -> list[T.Task]:
    """The slot's task waiting in desired `ready`, promoted to `running` once its delay is over and no other
    task of the slot still runs (a task on a down node does not count: swarmkit's DelayStart stops waiting for the
    old task when its node becomes unavailable)."""
    waiting = [t for t in history if t["DesiredState"] == "ready"]
    if not waiting:
        return []
    task = waiting[-1]
    if "StartAfter" in task and T.seconds(task["StartAfter"]) > now:
        return []
    others_running = any(t is not task and not T.has_ended(t) and T.observed(t) >= T.rank("assigned")
                         and t.get("NodeID") not in down_nodes for t in history)
    if others_running:
        return []
    return [T.with_desired(task, "running", now)]
