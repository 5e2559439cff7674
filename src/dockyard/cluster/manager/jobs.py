"""The job orchestrators (swarmkit's `manager/orchestrator/jobs/{replicated,global}`): a job's tasks are wanted
`complete` and run to completion. Each run of a job is an iteration (`JobStatus.JobIteration`, bumped by every
update of the service); tasks of an older iteration still running are removed. A replicated job keeps at most
MaxConcurrent tasks of the iteration going until TotalCompletions have completed (slots 0..N-1, lowest free
first); a global job runs one task on every ready, active node its constraints allow and shuts down those on
drained or down nodes. A failed task is replaced per the RestartPolicy, where `any` means `on-failure` (a
completed task is never run again)."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager import constraints as C
from dockyard.cluster.manager import global_
from dockyard.cluster.manager.plan import Plan
from dockyard.cluster.manager.restart import NANO, by_slot, down_nodes, policy, should_restart, start_ready

WANTED = "complete"


def is_job(service: dict[str, Any]) -> bool:
    """Whether the service is a replicated or global job."""
    mode = service["Spec"].get("Mode") or {}
    return "ReplicatedJob" in mode or "GlobalJob" in mode


def iteration(service: dict[str, Any]) -> int:
    """The job's current iteration."""
    return int(((service.get("JobStatus") or {}).get("JobIteration") or {}).get("Index", 0))


def version(index: int) -> dict[str, int]:
    """A Version as Go renders it (`Index` omitted when 0)."""
    return {"Index": index} if index else {}


def task_iteration(task: T.Task) -> int | None:
    """The iteration a task belongs to (None: not a job's task)."""
    found = task.get("JobIteration")
    return None if found is None else int(found.get("Index", 0))


def new_task(service: dict[str, Any], slot: int, node_id: str, now: float, new_id: T.NewId,
             desired: str = WANTED, start_after: float | None = None) -> T.Task:
    """A task of the job's current iteration."""
    task = T.new_task(service, slot, node_id, now, new_id, desired, start_after)
    task["JobIteration"] = version(iteration(service))
    return task


def reconcile(service: dict[str, Any], tasks: list[T.Task], nodes: list[dict[str, Any]], now: float,
              new_id: T.NewId) -> Plan:
    """Writes that move a job's current iteration toward completion."""
    plan = Plan()
    if not is_job(service):
        return plan
    current = iteration(service)
    mine = [t for t in tasks if task_iteration(t) == current]
    plan.update += [T.with_desired(t, "remove", now) for t in tasks
                    if task_iteration(t) not in (None, current) and T.observed(t) <= T.RUNNING
                    and t["DesiredState"] != "remove"]
    plan.extend(_restart(service, mine, down_nodes(nodes), now, new_id))
    if "ReplicatedJob" in service["Spec"]["Mode"]:
        plan.extend(_replicated(service, mine, now, new_id))
    else:
        plan.extend(_global(service, mine, nodes, now, new_id))
    return plan


def _wanted(task: T.Task) -> bool:
    """Still wanted by the job (desired at most complete)."""
    return T.desired(task) <= T.rank(WANTED)


def _restart(service: dict[str, Any], tasks: list[T.Task], down: set[str], now: float, new_id: T.NewId) -> Plan:
    """Failed tasks of the iteration shut down and, as the RestartPolicy allows, replaced in their slot after the
    delay; replacements whose wait is over are started."""
    plan = Plan()
    rules = policy(service)
    for history in by_slot(tasks).values():
        for task in history:
            if not _wanted(task) or T.observed(task) <= T.rank("complete"):
                continue
            plan.update.append(T.with_desired(task, "shutdown", now))
            if should_restart(task, rules, history, now):
                plan.create.append(new_task(service, task.get("Slot", 0), task.get("NodeID", "") if
                                            "GlobalJob" in service["Spec"]["Mode"] else "", now, new_id,
                                            "ready", now + rules["Delay"] / NANO))
        plan.update += [T.with_desired(t, WANTED, now) for t in start_ready(history, now, down)]  # wanted complete
    return plan


def _replicated(service: dict[str, Any], tasks: list[T.Task], now: float, new_id: T.NewId) -> Plan:
    """New tasks up to MaxConcurrent at once and TotalCompletions in all."""
    plan = Plan()
    job = service["Spec"]["Mode"]["ReplicatedJob"]
    concurrent, total = int(job.get("MaxConcurrent", 1)), int(job.get("TotalCompletions", 1))
    complete = [t for t in tasks if t["Status"]["State"] == "complete"]
    active = [t for t in tasks if t["Status"]["State"] != "complete" and _wanted(t)]
    slots = {t.get("Slot", 0) for t in complete + active}
    for _ in range(max(0, min(concurrent - len(active), total - len(complete) - len(active)))):
        slot = next(s for s in range(total + len(slots)) if s not in slots)
        slots.add(slot)
        plan.create.append(new_task(service, slot, "", now, new_id))
    return plan


def _global(service: dict[str, Any], tasks: list[T.Task], nodes: list[dict[str, Any]], now: float,
            new_id: T.NewId) -> Plan:
    """One task on every eligible node without one; tasks on drained or down nodes shut down."""
    plan = Plan()
    constraints = C.service_constraints(service["Spec"]["TaskTemplate"])
    held = {t.get("NodeID", "") for t in tasks if _wanted(t)}
    for node in nodes:
        if not C.node_matches(constraints, node):
            continue
        if global_.invalid(node):
            plan.update += [T.with_desired(t, "shutdown", now) for t in tasks if t.get("NodeID") == node["ID"]
                            and _wanted(t) and T.observed(t) <= T.RUNNING]
        elif node["ID"] not in held and global_.eligible(node, constraints):
            plan.create.append(new_task(service, 0, node["ID"], now, new_id))
    return plan
