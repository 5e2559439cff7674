"""The updater (swarmkit's `manager/orchestrator/update`), level-triggered: every pass looks at the service and
its tasks as stored and decides the next writes, so it resumes from the store after a leader change.

A slot is dirty while its runnable tasks carry a spec other than the service's TaskTemplate. Up to Parallelism
(0 = all) slots are in flight at once: a slot counts from when its new task is made until that task has run for
Delay. `stop-first` shuts the old task down and starts the new one (desired `ready`, started by the restart
supervisor once the old one stopped); `start-first` starts the new one and shuts the old one once the new runs.
A new task that ends within Monitor of its creation counts as a failure; failures over MaxFailureRatio of the
update's slots trigger FailureAction: pause, continue, or rollback (Spec ← PreviousSpec, rolled out with
RollbackConfig; a failing rollback pauses, it never rolls back again). UpdateStatus states and messages are
dockerd's."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager.plan import Plan
from dockyard.cluster.manager.restart import by_slot

NANO = 1_000_000_000
DEFAULTS = {"Parallelism": 1, "Delay": 0, "FailureAction": "pause", "Monitor": 5 * NANO, "MaxFailureRatio": 0,
            "Order": "stop-first"}
PAUSED = ("paused", "rollback_paused")
ROLLING_BACK = ("rollback_started", "rollback_paused")
DONE = ("completed", "rollback_completed")


def config(service: dict[str, Any], rollback: bool) -> dict[str, Any]:
    """UpdateConfig (or RollbackConfig) as swarmkit reads it: all defaults when absent, else Parallelism, Delay and
    MaxFailureRatio as sent (0 when missing) and an empty FailureAction, Monitor or Order defaulted."""
    sent = service["Spec"].get("RollbackConfig" if rollback else "UpdateConfig")
    if sent is None:
        return dict(DEFAULTS)
    unset_means_default = ("FailureAction", "Monitor", "Order")
    return {key: (sent.get(key) or default) if key in unset_means_default else sent.get(key, 0)
            for key, default in DEFAULTS.items()}


@dataclass
class SlotState:
    """One slot as the updater sees it."""

    tasks: list[T.Task]
    fresh: list[T.Task]
    stale: list[T.Task]

    @property
    def newest(self) -> T.Task | None:
        """The slot's task carrying the current spec."""
        return self.fresh[-1] if self.fresh else None


def slot_states(service: dict[str, Any], tasks: list[T.Task]) -> list[SlotState]:
    """Slots with runnable tasks, split into tasks with the current spec and stale ones."""
    template = service["Spec"]["TaskTemplate"]
    states = []
    for history in by_slot(tasks).values():
        runnable = [t for t in history if T.is_runnable(t)]
        if runnable:
            states.append(SlotState(history, [t for t in runnable if t["Spec"] == template],
                                    [t for t in runnable if t["Spec"] != template]))
    return states


def running_since(task: T.Task) -> float | None:
    """When the task reached running (None while it has not)."""
    status = task["Status"]
    return T.seconds(status["Timestamp"]) if status["State"] == "running" else None


def settled(task: T.Task, wait: float, now: float) -> bool:
    """The task has run for `wait` seconds."""
    since = running_since(task)
    return since is not None and now - since >= wait


def failed_tasks(service: dict[str, Any], tasks: list[T.Task], started: float, monitor: float) -> list[T.Task]:
    """Tasks of this update (current spec, made since it started) that ended within Monitor of their creation."""
    template = service["Spec"]["TaskTemplate"]
    return [t for t in tasks if t["Spec"] == template and T.seconds(t["CreatedAt"]) >= started
            and t["Status"]["State"] in ("failed", "rejected", "complete") and t["DesiredState"] != "remove"
            and T.seconds(t["Status"]["Timestamp"]) - T.seconds(t["CreatedAt"]) <= monitor]


def with_update_status(service: dict[str, Any], state: str, message: str, now: float,
                       started: bool = False) -> dict[str, Any]:
    """A copy of the service with a new UpdateStatus (a fresh StartedAt when `started`, CompletedAt when done)."""
    changed = copy.deepcopy(service)
    old = service.get("UpdateStatus") or {}
    status = {"State": state, "StartedAt": T.stamp(now) if started or "StartedAt" not in old else old["StartedAt"],
              "Message": message}
    if state in DONE:
        status["CompletedAt"] = T.stamp(now)
    changed["UpdateStatus"] = status
    return changed


def rolled_back(service: dict[str, Any], task_id: str, now: float) -> dict[str, Any]:
    """The service with its previous spec back, rolling out with RollbackConfig."""
    changed = with_update_status(service, "rollback_started",
                                 f"update rolled back due to failure or early termination of task {task_id}",
                                 now, started=True)
    changed["Spec"], changed["PreviousSpec"] = service["PreviousSpec"], service["Spec"]
    return changed


def update(service: dict[str, Any], tasks: list[T.Task], now: float, new_id: T.NewId) -> Plan:
    """The next writes of the service's rolling update (nothing when it has none)."""
    plan = Plan()
    status = service.get("UpdateStatus") or {}
    state = status.get("State", "")
    if state in PAUSED:
        return plan
    rollback = state in ROLLING_BACK
    rules = config(service, rollback)
    slots = slot_states(service, tasks)
    dirty = [s for s in slots if s.stale and not s.fresh]
    if state in ("", *DONE):
        if not dirty:
            return plan
        service = with_update_status(service, "updating", "update in progress", now, started=True)
        plan.services.append(service)
        state = "updating"
    started = T.seconds(service["UpdateStatus"]["StartedAt"])
    failures = failed_tasks(service, tasks, started, rules["Monitor"] / NANO)
    updated = [s for s in slots if s.newest is not None and T.seconds(s.newest["CreatedAt"]) >= started]
    if failures and len(failures) / max(len(dirty) + len(updated), 1) > rules["MaxFailureRatio"]:
        action = rules["FailureAction"]
        culprit = failures[0]["ID"]
        if rollback and action != "continue":
            return _replace(plan, with_update_status(
                service, "rollback_paused", f"rollback paused due to failure or early termination of task {culprit}",
                now))
        if action == "pause":
            return _replace(plan, with_update_status(
                service, "paused", f"update paused due to failure or early termination of task {culprit}", now))
        if action == "rollback" and service.get("PreviousSpec"):
            return _replace(plan, rolled_back(service, culprit, now))
    for slot in slots:
        newest = slot.newest
        if slot.stale and newest is not None and newest["Status"]["State"] == "running":
            plan.update += [T.with_desired(t, "shutdown", now) for t in slot.stale]
    in_flight = [s for s in updated if s.newest is not None and not settled(s.newest, rules["Delay"] / NANO, now)]
    room = len(dirty) if rules["Parallelism"] == 0 else rules["Parallelism"] - len(in_flight)
    for slot in sorted(dirty, key=lambda s: T.slot_key(s.stale[0]))[:max(room, 0)]:
        plan.extend(_replace_slot(service, slot, rules["Order"], now, new_id))
    monitoring = [s for s in updated if s.newest is not None and not settled(s.newest, rules["Monitor"] / NANO, now)]
    if not dirty and not monitoring and not any(s.stale for s in slots):
        done = ("rollback_completed", "rollback completed") if rollback else ("completed", "update completed")
        _replace(plan, with_update_status(service, *done, now))
    return plan


def _replace(plan: Plan, service: dict[str, Any]) -> Plan:
    """The plan with `service` as the one service write."""
    plan.services = [service]
    return plan


def _replace_slot(service: dict[str, Any], slot: SlotState, order: str, now: float, new_id: T.NewId) -> Plan:
    """Writes that put a task with the current spec into a dirty slot."""
    first = slot.stale[0]
    node = "" if first.get("Slot") else first.get("NodeID", "")
    plan = Plan()
    if order == "start-first":
        plan.create.append(T.new_task(service, first.get("Slot", 0), node, now, new_id))
        return plan
    plan.update += [T.with_desired(t, "shutdown", now) for t in slot.stale]
    plan.create.append(T.new_task(service, first.get("Slot", 0), node, now, new_id, "ready"))
    return plan
