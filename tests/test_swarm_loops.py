"""The leader's control loops as pure functions: docker's Service/Task/Node JSON in, the writes to make out."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from dockyard.cluster import tasks as T
from dockyard.cluster.manager import constraints, global_, reaper, replicated, restart, scheduler, updater
from dockyard.cluster.manager.plan import Plan
from dockyard.errors import InvalidParameter

NANO = 1_000_000_000
NOW = 1_800_000_000.0
_ids = (f"task{n:021d}" for n in itertools.count(1))


def new_id() -> str:
    """Fresh task ids."""
    return next(_ids)


def service(replicas: int | None = 3, version: int = 10, **template: Any) -> dict[str, Any]:
    """A service as the store holds it."""
    mode = {"Replicated": {"Replicas": replicas}} if replicas is not None else {"Global": {}}
    task_template = {"ContainerSpec": {"Image": "busybox", "Args": ["sleep", "600"]}, "ForceUpdate": 0,
                     **template}
    return {"ID": "svc1", "Version": {"Index": version}, "CreatedAt": T.stamp(NOW - 100),
            "UpdatedAt": T.stamp(NOW - 100),
            "Spec": {"Name": "web", "Labels": {}, "TaskTemplate": task_template, "Mode": mode}}


def node(node_id: str, state: str = "ready", availability: str = "active", labels: dict[str, str] | None = None,
         cpus: int = 2 * NANO, memory: int = 4 << 30, hostname: str = "") -> dict[str, Any]:
    """A node as the store holds it."""
    return {"ID": node_id, "Version": {"Index": 1},
            "Spec": {"Labels": labels or {}, "Role": "manager", "Availability": availability},
            "Description": {"Hostname": hostname or node_id, "Platform": {"Architecture": "x86_64", "OS": "linux"},
                            "Resources": {"NanoCPUs": cpus, "MemoryBytes": memory},
                            "Engine": {"EngineVersion": "28.0.0", "Labels": {"tier": "gold"}}},
            "Status": {"State": state, "Addr": "192.168.77.1"}}


def at(task: T.Task, state: str, when: float, node_id: str = "n1") -> T.Task:
    """The task as its agent reported it."""
    changed = copy.deepcopy(task)
    changed["Status"] = {"Timestamp": T.stamp(when), "State": state, "Message": state, "PortStatus": {}}
    changed.setdefault("NodeID", node_id)
    return changed


def apply(tasks: list[T.Task], plan: Plan) -> list[T.Task]:
    """The task table after a plan's writes."""
    replaced = {t["ID"]: t for t in plan.update}
    kept = [replaced.get(t["ID"], t) for t in tasks if t["ID"] not in plan.delete]
    return kept + plan.create


def running_set(svc: dict[str, Any], when: float, count: int = 3) -> list[T.Task]:
    """`count` running tasks of the service, one per slot."""
    return [at(T.new_task(svc, slot, "", when, new_id), "running", when) for slot in range(1, count + 1)]


# ---- replicated orchestrator -------------------------------------------------------------------------------

def test_replicated_creates_missing_slots_with_the_spec_copied() -> None:
    svc = service(3)
    plan = replicated.reconcile(svc, [], NOW, new_id)
    assert [t["Slot"] for t in plan.create] == [1, 2, 3]
    task = plan.create[0]
    assert task["Spec"] == svc["Spec"]["TaskTemplate"] and task["Spec"] is not svc["Spec"]["TaskTemplate"]
    assert task["ServiceID"] == "svc1" and task["DesiredState"] == "running" and "NodeID" not in task
    assert task["Status"] == {"Timestamp": T.stamp(NOW), "State": "new", "Message": "created", "PortStatus": {}}
    assert task["SpecVersion"] == {"Index": 10} and task["Labels"] == {}
    assert task["ServiceAnnotations"] == {"Name": "web", "Labels": {}}
    assert "SpecVersion" not in T.public_view(task) and "ServiceAnnotations" not in T.public_view(task)


def test_replicated_fills_the_lowest_free_slots_and_is_quiet_when_converged() -> None:
    svc = service(3)
    tasks = running_set(svc, NOW)
    assert not replicated.reconcile(svc, tasks, NOW, new_id)
    plan = replicated.reconcile(service(4), [tasks[0], tasks[2]], NOW, new_id)
    assert [t["Slot"] for t in plan.create] == [2, 4]


def test_replicated_scale_down_removes_not_running_then_busiest_node_then_highest_slots() -> None:
    svc = service(5)
    tasks = running_set(svc, NOW, 5)
    tasks[1] = at(tasks[1], "preparing", NOW)
    for task in tasks[2:]:
        task["NodeID"] = "n2"
    plan = replicated.reconcile(service(2), tasks, NOW, new_id)
    removed = sorted(t["Slot"] for t in plan.update)
    assert removed == [2, 4, 5]
    assert {t["DesiredState"] for t in plan.update} == {"remove"} and not plan.create


# ---- restart supervisor ------------------------------------------------------------------------------------

def test_failed_task_is_replaced_in_its_slot_after_the_delay_once_the_old_one_stopped() -> None:
    svc = service(1, RestartPolicy={"Condition": "any", "Delay": 2 * NANO})
    old = at(T.new_task(svc, 1, "", NOW - 10, new_id), "failed", NOW - 1)
    plan = restart.supervise(svc, [old], set(), NOW, new_id)
    assert [t["DesiredState"] for t in plan.update] == ["shutdown"]
    (fresh,) = plan.create
    assert fresh["Slot"] == 1 and fresh["DesiredState"] == "ready" and fresh["StartAfter"] == T.stamp(NOW + 2)
    tasks = apply([old], plan)
    assert not restart.supervise(svc, tasks, set(), NOW + 1, new_id)
    promoted = restart.supervise(svc, tasks, set(), NOW + 2, new_id).update
    assert [(t["ID"], t["DesiredState"]) for t in promoted] == [(fresh["ID"], "running")]
    assert "StartAfter" not in promoted[0]


@pytest.mark.parametrize("policy,state,restarts", [
    ({"Condition": "none"}, "failed", False),
    ({"Condition": "on-failure"}, "complete", False),
    ({"Condition": "on-failure"}, "failed", True),
    ({}, "complete", True),
])
def test_restart_condition(policy: dict[str, Any], state: str, restarts: bool) -> None:
    svc = service(1, RestartPolicy=policy)
    old = at(T.new_task(svc, 1, "", NOW - 10, new_id), state, NOW - 1)
    plan = restart.supervise(svc, [old], set(), NOW, new_id)
    assert bool(plan.create) is restarts
    if not restarts:
        assert not plan


def test_max_attempts_counts_restarts_inside_the_window_only() -> None:
    svc = service(1, RestartPolicy={"Condition": "any", "Delay": 0, "MaxAttempts": 2, "Window": 60 * NANO})
    history = [at(T.new_task(svc, 1, "", created, new_id), "failed", created + 1)
               for created in (NOW - 500, NOW - 400, NOW - 30)]
    for task in history[:-1]:
        task["DesiredState"] = "shutdown"
    assert restart.supervise(svc, history, set(), NOW, new_id).create  # one restart inside the window
    recent = at(T.new_task(svc, 1, "", NOW - 20, new_id), "failed", NOW - 19)
    history[-1]["DesiredState"] = "shutdown"
    assert not restart.supervise(svc, history + [recent], set(), NOW, new_id)


def test_tasks_on_a_down_node_are_replaced_after_the_restart_delay() -> None:
    # swarmkit's restartTasksByNodeID goes through the restart supervisor: the policy's delay (5 s by default)
    svc = service(2)
    tasks = running_set(svc, NOW - 60, 2)
    tasks[1]["NodeID"] = "n2"
    plan = restart.supervise(svc, tasks, {"n2"}, NOW, new_id)
    assert [t["ID"] for t in plan.update if t["DesiredState"] == "shutdown"] == [tasks[1]["ID"]]
    assert plan.create[0]["Slot"] == 2 and plan.create[0]["StartAfter"] == T.stamp(NOW + 5)
    after = apply(tasks, plan)
    assert not [t for t in restart.supervise(svc, after, {"n2"}, NOW + 4, new_id).update
                if t["DesiredState"] == "running"]
    # the old task still shows running on the silent node: its replacement starts without waiting for it
    promoted = restart.supervise(svc, after, {"n2"}, NOW + 5, new_id).update
    assert [t["ID"] for t in promoted if t["DesiredState"] == "running"] == [plan.create[0]["ID"]]


def test_tasks_on_a_drained_node_are_replaced_at_once() -> None:
    svc = service(2)
    tasks = running_set(svc, NOW - 60, 2)
    tasks[1]["NodeID"] = "n2"
    plan = restart.supervise(svc, tasks, set(), NOW, new_id, drained={"n2"})
    assert plan.create[0]["Slot"] == 2 and plan.create[0]["StartAfter"] == T.stamp(NOW)


# ---- scheduler ---------------------------------------------------------------------------------------------

def pending(svc: dict[str, Any], count: int) -> list[T.Task]:
    """Fresh tasks through the allocator."""
    created = replicated.reconcile(svc, [], NOW, new_id).create[:count]
    return apply(created, scheduler.allocate(created, NOW))


def test_allocator_then_scheduler_spreads_tasks_over_nodes() -> None:
    svc = service(4)
    tasks = pending(svc, 4)
    assert {(t["Status"]["State"], t["Status"]["Message"]) for t in tasks} == {("pending", "pending task scheduling")}
    plan = scheduler.schedule(tasks, {"svc1": svc}, [node("n1"), node("n2")], NOW)
    assert sorted(t["NodeID"] for t in plan.update) == ["n1", "n1", "n2", "n2"]
    assert {t["Status"]["State"] for t in plan.update} == {"assigned"}
    assert plan.update[0]["Status"]["Message"] == "scheduler assigned task to node"


def test_unplaceable_task_stays_pending_with_dockerds_explanation() -> None:
    svc = service(1, Placement={"Constraints": ["node.labels.zone==a"]},
                  Resources={"Reservations": {"GenericResources": [
                      {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 1}}]}})
    nodes = [node("n1", labels={"zone": "a"}), node("n2"), node("n3"), node("n4", availability="drain")]
    for gpu_node in nodes[1:3]:
        gpu_node["Description"]["Resources"]["GenericResources"] = [
            {"NamedResourceSpec": {"Kind": "gpu", "Value": "GPU-0"}}]
    plan = scheduler.schedule(pending(svc, 1), {"svc1": svc}, nodes, NOW)
    (task,) = plan.update
    assert task["Status"]["State"] == "pending" and "NodeID" not in task
    assert task["Status"]["Err"] == ("no suitable node (scheduling constraints not satisfied on 2 nodes; "
                                     "1 node not available for new tasks; insufficient resources on 1 node)")
    assert not scheduler.schedule([task], {"svc1": svc}, nodes, NOW + 1)  # nothing new to say


def test_constraints_on_node_and_engine_fields() -> None:
    nodes = [node("n1", hostname="alpha", labels={"zone": "a"}), node("n2", hostname="beta")]

    def placed(*exprs: str) -> list[str]:
        svc = service(1, Placement={"Constraints": list(exprs)})
        return [t.get("NodeID", "-") for t in scheduler.schedule(pending(svc, 1), {"svc1": svc}, nodes, NOW).update]
    assert placed("node.hostname==BETA") == ["n2"]
    assert placed("node.id!=n1") == ["n2"]
    assert placed("node.labels.zone!=a") == ["n2"]
    assert placed("node.role==manager", "node.platform.os==linux", "node.platform.arch==x86_64",
                  "engine.labels.tier==gold", "node.labels.zone==a") == ["n1"]
    assert placed("node.colour==red") == ["-"]


@pytest.mark.parametrize("expr,message", [
    ("node.id", "constraint expected one operator from ==, !="),
    ("node id==x", "key 'node id' is invalid"),
    ("node.id==<x>", "value '<x>' is invalid"),
])
def test_constraint_syntax_errors(expr: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=f"^{message}$"):
        constraints.parse([expr])


def test_reservations_max_replicas_and_host_ports_limit_a_node() -> None:
    nodes = [node("n1", cpus=NANO), node("n2", cpus=NANO)]
    svc = service(3, Resources={"Reservations": {"NanoCPUs": NANO // 2}})
    assigned = scheduler.schedule(pending(svc, 3), {"svc1": svc}, nodes, NOW).update
    assert sorted(t["NodeID"] for t in assigned) == ["n1", "n1", "n2"]
    svc = service(3, Placement={"MaxReplicas": 1})
    plan = scheduler.schedule(pending(svc, 3), {"svc1": svc}, nodes, NOW).update
    assert [t["Status"].get("Err") for t in plan if t["Status"]["State"] == "pending"] == [
        "no suitable node (max replicas per node limit exceed)"]
    svc = service(2)
    svc["Spec"]["EndpointSpec"] = {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                              "PublishMode": "host"}]}
    plan = scheduler.schedule(pending(svc, 2), {"svc1": svc}, [node("n1")], NOW).update
    assert plan[1]["Status"]["Err"] == "no suitable node (host-mode port already in use on 1 node)"


def test_spread_preference_balances_label_groups_before_nodes() -> None:
    nodes = [node("a1", labels={"zone": "a"}), node("a2", labels={"zone": "a"}), node("b1", labels={"zone": "b"})]
    svc = service(4, Placement={"Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]})
    plan = scheduler.schedule(pending(svc, 4), {"svc1": svc}, nodes, NOW).update
    zones = sorted(t["NodeID"] for t in plan)
    assert zones == ["a1", "a2", "b1", "b1"]


def test_fewest_tasks_overall_breaks_ties_and_unwanted_pending_tasks_are_shut_down() -> None:
    other = service(1)
    other["ID"] = "svc2"
    busy = at(T.new_task(other, 1, "", NOW, new_id), "running", NOW, "n1")
    svc = service(1)
    tasks = pending(svc, 1)
    plan = scheduler.schedule(tasks + [busy], {"svc1": svc, "svc2": other}, [node("n1"), node("n2")], NOW)
    assert [t["NodeID"] for t in plan.update] == ["n2"]
    gone = T.with_desired(tasks[0], "remove", NOW)
    (shut,) = scheduler.schedule([gone], {"svc1": svc}, [node("n1")], NOW).update
    assert shut["Status"]["State"] == "shutdown"


# ---- global orchestrator -----------------------------------------------------------------------------------

def test_global_runs_one_task_per_eligible_node() -> None:
    svc = service(None, Placement={"Constraints": ["node.labels.zone!=b"]})
    nodes = [node("n1"), node("n2", labels={"zone": "b"}), node("n3", state="down")]
    plan = global_.reconcile(svc, [], nodes, NOW, new_id)
    assert [(t["NodeID"], t.get("Slot")) for t in plan.create] == [("n1", None)]
    tasks = [at(plan.create[0], "running", NOW)]
    assert not global_.reconcile(svc, tasks, nodes, NOW, new_id)
    nodes[0] = node("n1", availability="drain")
    (drained,) = global_.reconcile(svc, tasks, nodes, NOW, new_id).update
    assert drained["DesiredState"] == "shutdown"
    (removed,) = global_.reconcile(svc, tasks, nodes[1:], NOW, new_id).update
    assert removed["DesiredState"] == "remove"


# ---- task reaper -------------------------------------------------------------------------------------------

def test_reaper_keeps_the_history_limit_per_slot_and_deletes_removed_tasks_once_stopped() -> None:
    svc = service(1)
    history = []
    for n in range(7):
        task = at(T.new_task(svc, 1, "", NOW + n, new_id), "failed", NOW + n)
        task["DesiredState"] = "shutdown"
        history.append(task)
    history.append(at(T.new_task(svc, 1, "", NOW + 10, new_id), "running", NOW + 10))
    assert reaper.reap(history, {"svc1": svc}, 5) == [t["ID"] for t in history[:3]]
    assert reaper.reap(history, {"svc1": svc}, -1) == []
    stopping = T.with_desired(history[-1], "remove", NOW)
    assert reaper.reap([stopping], {"svc1": svc}, 5) == []
    stopped = at(stopping, "shutdown", NOW + 1)
    assert reaper.reap([stopped], {"svc1": svc}, 5) == [stopped["ID"]]
    unassigned = T.with_desired(T.new_task(svc, 2, "", NOW, new_id), "remove", NOW)
    assert reaper.reap([unassigned], {}, 5) == [unassigned["ID"]]


# ---- updater -----------------------------------------------------------------------------------------------

def changed_image(svc: dict[str, Any], image: str = "busybox:new", **update_config: Any) -> dict[str, Any]:
    """The service after `docker service update --image`."""
    new = copy.deepcopy(svc)
    new["PreviousSpec"] = svc["Spec"]
    new["Spec"] = copy.deepcopy(svc["Spec"])
    new["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = image
    if update_config:
        new["Spec"]["UpdateConfig"] = update_config
    new["Version"] = {"Index": svc["Version"]["Index"] + 5}
    return new


def agent_runs(tasks: list[T.Task], when: float) -> list[T.Task]:
    """What the agent does by `when`: shut-down tasks stop, tasks wanted running run."""
    out = []
    for task in tasks:
        if task["DesiredState"] in ("shutdown", "remove") and not T.has_ended(task):
            task = at(task, "shutdown", when)
        elif task["DesiredState"] == "running" and task["Status"]["State"] != "running" and not T.has_ended(task):
            task = at(task, "running", when)
        out.append(task)
    return out


def step(svc: dict[str, Any], tasks: list[T.Task], when: float) -> tuple[dict[str, Any], list[T.Task]]:
    """One updater pass plus the restart supervisor's promotions, applied."""
    plan = updater.update(svc, tasks, when, new_id)
    svc = plan.services[-1] if plan.services else svc
    tasks = apply(tasks, plan)
    return svc, apply(tasks, restart.supervise(svc, tasks, set(), when, new_id))


def test_rolling_update_stop_first_in_batches_then_completed() -> None:
    old = service(4)
    svc = changed_image(old, Parallelism=2, Delay=1 * NANO, Monitor=2 * NANO)
    tasks = running_set(old, NOW - 100, 4)
    svc, tasks = step(svc, tasks, NOW)
    assert svc["UpdateStatus"] == {"State": "updating", "StartedAt": T.stamp(NOW), "Message": "update in progress"}
    fresh = [t for t in tasks if t["Spec"]["ContainerSpec"]["Image"] == "busybox:new"]
    assert [(t["Slot"], t["DesiredState"]) for t in fresh] == [(1, "ready"), (2, "ready")]
    assert sorted(t["Slot"] for t in tasks if t["DesiredState"] == "shutdown") == [1, 2]
    tasks = agent_runs(tasks, NOW + 0.1)  # old ones stop
    svc, tasks = step(svc, tasks, NOW + 0.2)  # new ones promoted to running
    tasks = agent_runs(tasks, NOW + 0.3)
    down = [t for t in tasks if t["Status"]["State"] != "running" and T.is_runnable(t)]
    assert down == []
    svc, tasks = step(svc, tasks, NOW + 0.5)  # still inside Delay: no new batch
    assert len([t for t in tasks if t["Spec"]["ContainerSpec"]["Image"] == "busybox:new"]) == 2
    svc, tasks = step(svc, tasks, NOW + 1.4)
    assert sorted(t["Slot"] for t in tasks if t["DesiredState"] == "ready") == [3, 4]
    tasks = agent_runs(tasks, NOW + 1.5)
    svc, tasks = step(svc, tasks, NOW + 1.6)
    tasks = agent_runs(tasks, NOW + 1.7)
    svc, tasks = step(svc, tasks, NOW + 2.0)
    assert svc["UpdateStatus"]["State"] == "updating"  # monitoring the last batch
    svc, tasks = step(svc, tasks, NOW + 3.8)
    assert svc["UpdateStatus"]["State"] == "completed" and svc["UpdateStatus"]["Message"] == "update completed"
    assert svc["UpdateStatus"]["CompletedAt"] == T.stamp(NOW + 3.8)
    assert sorted(t["Slot"] for t in tasks if T.is_runnable(t)) == [1, 2, 3, 4]


def test_start_first_never_drops_below_the_replica_count() -> None:
    old = service(2)
    svc = changed_image(old, Parallelism=1, Order="start-first")
    tasks = running_set(old, NOW - 100, 2)
    svc, tasks = step(svc, tasks, NOW)
    assert [t["DesiredState"] for t in tasks] == ["running", "running", "running"]
    tasks = agent_runs(tasks, NOW + 0.1)
    svc, tasks = step(svc, tasks, NOW + 0.2)
    assert [t["Slot"] for t in tasks if t["DesiredState"] == "shutdown"] == [1]
    assert len([t for t in tasks if t["Status"]["State"] == "running"]) == 3


def test_failure_pauses_by_default_and_rolls_back_when_asked() -> None:
    old = service(2)
    for action, state, message in [
            ("pause", "paused", "update paused due to failure or early termination of task "),
            ("rollback", "rollback_started", "update rolled back due to failure or early termination of task ")]:
        svc = changed_image(old, Parallelism=1, FailureAction=action)
        tasks = running_set(old, NOW - 100, 2)
        svc, tasks = step(svc, tasks, NOW)
        tasks = agent_runs(tasks, NOW + 0.1)
        svc, tasks = step(svc, tasks, NOW + 0.2)
        fresh = next(t for t in tasks if t["Spec"]["ContainerSpec"]["Image"] == "busybox:new")
        tasks = [at(t, "failed", NOW + 1) if t is fresh else t for t in tasks]
        svc, tasks = step(svc, tasks, NOW + 1.1)
        assert svc["UpdateStatus"]["State"] == state
        assert svc["UpdateStatus"]["Message"] == message + fresh["ID"]
    assert svc["Spec"] == old["Spec"] and svc["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:new"
    assert not updater.update({**svc, "UpdateStatus": {**svc["UpdateStatus"], "State": "paused"}}, tasks, NOW + 2,
                              new_id)


def test_rollback_rolls_out_with_its_own_config_and_completes() -> None:
    old = service(2)
    svc = changed_image(old)
    tasks = running_set(svc, NOW - 100, 2)
    svc["Spec"], svc["PreviousSpec"] = svc["PreviousSpec"], svc["Spec"]
    svc["Spec"]["RollbackConfig"] = {"Parallelism": 0, "Monitor": NANO}
    svc["UpdateStatus"] = {"State": "rollback_started", "StartedAt": T.stamp(NOW), "Message": "manually requested rollback"}
    svc, tasks = step(svc, tasks, NOW)
    assert len([t for t in tasks if t["DesiredState"] == "ready"]) == 2  # Parallelism 0: every slot at once
    for when in (NOW + 0.1, NOW + 0.2, NOW + 0.3):
        tasks = agent_runs(tasks, when)
        svc, tasks = step(svc, tasks, when)
    svc, tasks = step(svc, tasks, NOW + 2)
    assert svc["UpdateStatus"]["State"] == "rollback_completed"
    assert svc["UpdateStatus"]["Message"] == "rollback completed"
