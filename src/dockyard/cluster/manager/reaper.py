"""The task reaper (swarmkit's `manager/orchestrator/taskreaper`): keeps at most TaskHistoryRetentionLimit tasks
per slot of a replicated or global service (oldest ended ones go first; a negative limit keeps everything; a job's
tasks are all kept), and deletes tasks wanted `remove` once
they have stopped or were never assigned, so `service rm` and scale down converge."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager.restart import by_slot

DEFAULT_RETENTION = 5


def never_started(task: T.Task) -> bool:
    """No agent ever saw the task."""
    return T.observed(task) < T.rank("assigned")


def reap(tasks: list[T.Task], services: dict[str, dict[str, Any]], retention: int) -> list[str]:
    """Ids of the tasks to delete."""
    doomed = []
    for task in tasks:
        gone = task["ServiceID"] not in services or task["DesiredState"] == "remove"
        if gone and not T.is_runnable(task) and (T.has_ended(task) or never_started(task)):
            doomed.append(task["ID"])
    if retention < 0:
        return doomed
    kept = [t for t in tasks if t["ID"] not in doomed and "JobIteration" not in t]  # swarmkit keeps jobs' history
    for history in by_slot(kept).values():
        surplus = len(history) - retention
        for task in history:
            if surplus <= 0:
                break
            if not T.is_runnable(task) and (T.has_ended(task) or never_started(task)):
                doomed.append(task["ID"])
                surplus -= 1
    return doomed


def orphans(tasks: list[T.Task], services: dict[str, dict[str, Any]], now: float) -> list[T.Task]:
    """Runnable tasks of removed services, set to desired `remove` (their containers stop, then they are reaped)."""
    return [T.with_desired(t, "remove", now) for t in tasks if t["ServiceID"] not in services and T.is_runnable(t)]
