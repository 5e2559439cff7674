"""The job orchestrators, the constraint enforcer and the orchestrators' handling of drained and paused nodes, as
pure functions: docker's Service/Task/Node JSON in, the writes to make out."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager import enforcer, global_, jobs, reaper, restart, scheduler
from test_swarm_loops import NANO, NOW, apply, at, new_id, node, service


def job(total: int | None = 3, concurrent: int = 2, iteration: int = 0, **template: Any) -> dict[str, Any]:
    """A replicated job (total given) or a global job (total None) as the store holds it."""
    svc = service(None, **template)
    svc["Spec"]["Mode"] = ({"ReplicatedJob": {"MaxConcurrent": concurrent, "TotalCompletions": total}}
                           if total is not None else {"GlobalJob": {}})
    svc["JobStatus"] = {"JobIteration": jobs.version(iteration), "LastExecution": T.stamp(NOW - 100)}
    return svc


def run_job(svc: dict[str, Any], tasks: list[T.Task], nodes: list[dict[str, Any]], when: float) -> list[T.Task]:
    """One orchestrator pass applied."""
    return apply(tasks, jobs.reconcile(svc, tasks, nodes, when, new_id))


def test_replicated_job_runs_max_concurrent_until_total_completions() -> None:
    svc = job(total=3, concurrent=2)
    tasks = run_job(svc, [], [node("n1")], NOW)
    assert [t.get("Slot", 0) for t in tasks] == [0, 1]
    assert all(t["DesiredState"] == "complete" and t["JobIteration"] == {} for t in tasks)
    tasks = run_job(svc, tasks, [node("n1")], NOW)
    assert len(tasks) == 2  # MaxConcurrent reached
    tasks = [at(tasks[0], "complete", NOW + 1), at(tasks[1], "running", NOW + 1)]
    tasks = run_job(svc, tasks, [node("n1")], NOW + 2)
    assert [t.get("Slot", 0) for t in tasks] == [0, 1, 2]
    tasks = [tasks[0], at(tasks[1], "complete", NOW + 3), at(tasks[2], "complete", NOW + 3)]
    assert run_job(svc, tasks, [node("n1")], NOW + 4) == tasks  # done: nothing more, nothing restarted


def test_failed_job_task_is_replaced_after_the_delay_and_completed_ones_never() -> None:
    svc = job(total=2, concurrent=2, RestartPolicy={"Condition": "any", "Delay": 2 * NANO})
    first, second = run_job(svc, [], [node("n1")], NOW)
    tasks = [at(first, "complete", NOW + 1), at(second, "failed", NOW + 1)]
    plan = jobs.reconcile(svc, tasks, [node("n1")], NOW + 1, new_id)
    assert [(t["ID"], t["DesiredState"]) for t in plan.update] == [(second["ID"], "shutdown")]
    [again] = plan.create
    assert again.get("Slot", 0) == second.get("Slot", 0) and again["DesiredState"] == "ready"
    tasks = apply(tasks, plan)
    assert not jobs.reconcile(svc, tasks, [node("n1")], NOW + 2, new_id)  # still waiting
    started = jobs.reconcile(svc, tasks, [node("n1")], NOW + 4, new_id)
    assert [(t["ID"], t["DesiredState"]) for t in started.update] == [(again["ID"], "complete")]


def test_a_new_iteration_removes_the_old_running_tasks_and_starts_again() -> None:
    svc = job(total=1, concurrent=1)
    [old] = run_job(svc, [], [node("n1")], NOW)
    old = at(old, "running", NOW + 1)
    bumped = job(total=1, concurrent=1, iteration=7)
    plan = jobs.reconcile(bumped, [old], [node("n1")], NOW + 2, new_id)
    assert [(t["ID"], t["DesiredState"]) for t in plan.update] == [(old["ID"], "remove")]
    assert [t["JobIteration"] for t in plan.create] == [{"Index": 7}]


def test_global_job_runs_once_per_eligible_node_and_leaves_drained_ones() -> None:
    svc = job(total=None)
    nodes = [node("n1"), node("n2", availability="pause"), node("n3", state="down")]
    tasks = run_job(svc, [], nodes, NOW)
    assert [(t["NodeID"], t.get("Slot", 0)) for t in tasks] == [("n1", 0)]
    tasks = [at(tasks[0], "running", NOW + 1)]
    plan = jobs.reconcile(svc, tasks, [node("n1", availability="drain")], NOW + 2, new_id)
    assert [t["DesiredState"] for t in plan.update] == ["shutdown"] and not plan.create


def test_job_tasks_are_scheduled_and_charge_their_node() -> None:
    svc = job(total=1, concurrent=1)
    tasks = run_job(svc, [], [node("n1")], NOW)
    tasks = apply(tasks, scheduler.allocate(tasks, NOW))
    assigned = scheduler.schedule(tasks, {"svc1": svc}, [node("n1")], NOW)
    assert [(t["Status"]["State"], t["NodeID"]) for t in assigned.update] == [("assigned", "n1")]


def test_enforcer_rejects_tasks_whose_node_lost_the_label_and_they_are_replaced() -> None:
    svc = service(1, Placement={"Constraints": ["node.labels.zone==a"]}, RestartPolicy={"Condition": "any"})
    [task] = [at(T.new_task(svc, 1, "", NOW, new_id), "running", NOW)]
    assert not enforcer.enforce([task], {"svc1": svc}, [node("n1", labels={"zone": "a"})], NOW)
    unlabelled = node("n1")
    plan = enforcer.enforce([task], {"svc1": svc}, [unlabelled], NOW + 1)
    [rejected] = plan.update
    assert rejected["Status"]["State"] == "rejected"
    assert rejected["Status"]["Message"] == "task rejected by constraint enforcer"
    assert rejected["Status"]["Err"] == "assigned node no longer meets constraints"
    assert not enforcer.enforce([task], {"svc1": svc}, [node("n1", availability="pause")], NOW)
    replaced = restart.supervise(svc, [rejected], set(), NOW + 1, new_id)
    assert [t["DesiredState"] for t in replaced.update] == ["shutdown"] and len(replaced.create) == 1
    pending = apply([rejected], replaced)
    pending = apply(pending, restart.supervise(svc, pending, set(), NOW + 7, new_id))
    pending = apply(pending, scheduler.allocate(pending, NOW + 7))
    plan = scheduler.schedule(pending, {"svc1": svc}, [unlabelled], NOW + 7)
    assert [t["Status"]["Err"] for t in plan.update] == [
        "no suitable node (scheduling constraints not satisfied on 1 node)"]


def test_enforcer_rejects_tasks_over_the_nodes_reservations() -> None:
    svc = service(2, Resources={"Reservations": {"MemoryBytes": 3 << 30}})
    tasks = [at(T.new_task(svc, slot, "", NOW, new_id), "running", NOW) for slot in (1, 2)]
    plan = enforcer.enforce(tasks, {"svc1": svc}, [node("n1", memory=4 << 30)], NOW)
    assert [t["ID"] for t in plan.update] == [sorted(t["ID"] for t in tasks)[1]]


def test_drain_moves_replicated_tasks_off_and_pause_keeps_them() -> None:
    svc = service(1)
    [task] = [at(T.new_task(svc, 1, "", NOW, new_id), "running", NOW)]
    drained = node("n1", availability="drain")
    plan = restart.supervise(svc, [task], set(), NOW, new_id, drained={"n1"})
    assert [t["DesiredState"] for t in plan.update] == ["shutdown"] and len(plan.create) == 1
    assert global_.invalid(drained) and not global_.invalid(node("n1", availability="pause"))
    tasks = apply([task], plan)
    tasks = apply(tasks, scheduler.allocate(tasks, NOW))
    err = scheduler.schedule(tasks, {"svc1": svc}, [drained], NOW).update[0]["Status"]["Err"]
    assert err == "no suitable node (1 node not available for new tasks)"


def test_global_service_keeps_tasks_on_paused_nodes_and_sheds_drained_ones() -> None:
    svc = service(None)
    [task] = [at(T.new_task(svc, 0, "n1", NOW, new_id), "running", NOW)]
    assert not global_.reconcile(svc, [task], [node("n1", availability="pause")], NOW, new_id)
    plan = global_.reconcile(svc, [task], [node("n1", availability="drain")], NOW, new_id)
    assert [t["DesiredState"] for t in plan.update] == ["shutdown"] and not plan.create


def test_the_reaper_keeps_a_jobs_history() -> None:
    svc = job(total=1, concurrent=1)
    failed = [T.with_desired(at(jobs.new_task(svc, 0, "", NOW + n, new_id), "failed", NOW + n), "shutdown", NOW + n)
              for n in range(7)]
    assert reaper.reap(failed, {"svc1": svc}, 5) == []
    plain = service(1)
    ended = [T.with_desired(at(T.new_task(plain, 1, "", NOW + n, new_id), "failed", NOW + n), "shutdown", NOW + n)
             for n in range(7)]
    assert reaper.reap(ended, {"svc1": plain}, 5) == [t["ID"] for t in ended[:2]]
