"""Operating a three-host swarm (tests/swarm_hosts.py) with the docker CLI: global services follow nodes as they
drain, come back, die, are removed and join; replicated tasks leave a drained node; constraints follow node labels;
promotion is refused whole; a down node's removal cleans its tasks; rolling updates across hosts keep their
parallelism; a secret on a worker lives only in its memory and the task's tmpfs."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from pathlib import Path

from swarm_hosts import kill_host, node_id, nodes, running_tasks, swarm_of_three
from test_swarm_services import eventually

PREFIX = "dyo"
PLAINTEXT = "xops-s3cret-7f3a9c1e-plaintext"


def tasks_of(manager, service: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The service's tasks from the manager's API."""
    filters = urllib.parse.quote(json.dumps({"service": [service]}))
    return manager.api("GET", f"/tasks?filters={filters}")


def test_placement_follows_nodes(tmp_path: Path) -> None:
    with swarm_of_three(PREFIX, tmp_path) as swarm:
        manager, w1, w2 = swarm.daemons
        _, w1_id, w2_id = swarm.ids
        token = manager.docker_ok("swarm", "join-token", "-q", "worker")
        manager.docker_ok("service", "create", "--detach", "--name", "g", "--mode", "global", "--stop-grace-period",
                          "1s", "busybox", "sleep", "1d")
        manager.docker_ok("service", "create", "--detach", "--name", "r", "--replicas", "6", "--stop-grace-period",
                          "1s", "busybox", "sleep", "1d")
        eventually("g on every node, r 2/2/2", lambda: swarm.where("g") == [1, 1, 1] and swarm.where("r") == [2, 2, 2])

        # drain: the replicated tasks move off, the global task stops; active again: the global task comes back
        manager.docker_ok("node", "update", "--availability", "drain", w1_id)
        eventually("w1 drained", lambda: swarm.where("g") == [1, 0, 1] and swarm.where("r") == [3, 0, 3])
        assert nodes(manager)[w1_id] == ("Ready", "Drain")
        manager.docker_ok("node", "update", "--availability", "active", w1_id)
        eventually("g back on w1", lambda: swarm.where("g") == [1, 1, 1])
        manager.docker_ok("service", "scale", "--detach", "r=9")
        eventually("new r tasks go to w1 again", lambda: swarm.where("r") == [3, 3, 3])

        # constraints follow the node labels
        manager.docker_ok("node", "update", "--label-add", "zone=a", w2_id)
        manager.docker_ok("service", "create", "--detach", "--name", "z", "--replicas", "2", "--stop-grace-period",
                          "1s", "--constraint", "node.labels.zone==a", "busybox", "sleep", "1d")
        eventually("z on w2", lambda: swarm.where("z") == [0, 0, 2])
        manager.docker_ok("node", "update", "--label-rm", "zone", w2_id)
        manager.docker_ok("node", "update", "--label-add", "zone=a", w1_id)
        eventually("z moved to w1", lambda: swarm.where("z") == [0, 2, 0])

        # a worker cannot be promoted (manager joins are not built): refused, nothing changed
        promote = manager.docker("node", "promote", w1_id)
        assert promote.returncode == 1
        assert promote.stderr.decode().strip() == (
            "Error response from daemon: rpc error: code = Unimplemented desc = promoting a worker to manager is not "
            "supported yet: Dockyard swarms have one manager")
        assert manager.docker_ok("node", "inspect", "--format", "{{.Spec.Role}} {{.ManagerStatus}}", w1_id) == (
            "worker <nil>")

        # w2 dies; removing the down node deletes its tasks from the store
        kill_host(w2)
        eventually("w2 down", lambda: nodes(manager)[w2_id][0] == "Down", deadline=10)
        alive = (manager, w1)
        eventually("r's nine tasks on the two others", lambda: sum(len(running_tasks(d, "r")) for d in alive) == 9)
        assert any(t.get("NodeID") == w2_id for t in manager.api("GET", "/tasks"))
        manager.docker_ok("node", "rm", "--force", w2_id)
        assert w2_id not in nodes(manager)
        assert not [t for t in manager.api("GET", "/tasks") if t.get("NodeID") == w2_id]
        eventually("r still nine", lambda: sum(len(running_tasks(d, "r")) for d in alive) == 9)

        # the host comes back, leaves the swarm it was removed from, and joins again as a new node: it gets the
        # global task (the others run where they are)
        w2.start()
        w2.docker_ok("swarm", "leave", "--force")
        assert w2.docker_ok("ps", "-aq", "--filter", "label=com.docker.swarm.service.name") == ""
        address = swarm.lan.hosts[2].address
        w2.docker_ok("swarm", "join", "--token", token, "--listen-addr", f"{address}:2377", "--advertise-addr",
                     address, f"{swarm.lan.hosts[0].address}:2377")
        new_id = node_id(w2)
        assert new_id != w2_id
        eventually("the new node runs g", lambda: swarm.where("g") == [1, 1, 1])
        assert nodes(manager)[new_id] == ("Ready", "Active")
        for service in ("g", "r", "z"):
            manager.docker_ok("service", "rm", service)


def sample_running(manager, service: str, until_done: float = 90) -> list[int]:  # type: ignore[no-untyped-def]
    """How many of the service's tasks run, sampled until its update completes."""
    samples = []
    end = time.monotonic() + until_done
    while time.monotonic() < end:
        samples.append(sum(t["Status"]["State"] == "running" for t in tasks_of(manager, service)))
        state = manager.docker_ok("service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}"
                                  "{{end}}", service)
        if state == "completed":
            return samples
        time.sleep(0.1)
    raise AssertionError(f"update of {service} never completed: {samples}")


def files_holding(root: Path, needle: bytes, skip: Path) -> list[Path]:
    """Regular files below `root` (not below `skip`) that contain `needle`."""
    found = []
    for where, dirs, files in os.walk(root):
        if Path(where) == skip:
            dirs.clear()
            continue
        for name in files:
            path = Path(where) / name
            if os.path.ismount(path) or path.is_symlink() or not path.is_file():
                continue  # a namespace file bind-mounted here (nsfs), a link, a socket or a pipe
            if needle in path.read_bytes():
                found.append(path)
    return found


def test_rolling_update_across_hosts(tmp_path: Path) -> None:
    with swarm_of_three(PREFIX, tmp_path) as swarm:
        manager = swarm.manager
        for d in swarm.daemons:
            d.docker_ok("tag", "busybox", "busybox:v2")
        manager.docker_ok("service", "create", "--detach", "--name", "up", "--replicas", "6", "--stop-grace-period",
                          "1s", "busybox", "sleep", "1d")
        eventually("2/2/2", lambda: swarm.where("up") == [2, 2, 2])
        # the containers run; wait until the workers' status reports have said so too, or the first sample below
        # counts tasks whose "running" is still on its way from a worker (CI saw [2, 6, 6, ...])
        eventually("six tasks reported running", lambda: sum(
            t["Status"]["State"] == "running" for t in tasks_of(manager, "up")) == 6)
        # stop-first, two at a time: never more than two down
        manager.docker_ok("service", "update", "--detach", "--image", "busybox:v2", "--update-parallelism", "2",
                          "up")
        samples = sample_running(manager, "up")
        assert min(samples) >= 4 and min(samples) < 6, samples  # tasks did go down, never more than two
        eventually("six v2 tasks", lambda: sorted(
            t["Spec"]["ContainerSpec"]["Image"] for t in tasks_of(manager, "up")
            if t["Status"]["State"] == "running") == ["busybox:v2"] * 6)
        assert sum(swarm.where("up")) == 6
        # start-first: never below the replica count
        manager.docker_ok("service", "update", "--detach", "--image", "busybox", "--update-parallelism", "2",
                          "--update-order", "start-first", "up")
        samples = sample_running(manager, "up")
        assert min(samples) >= 6 and max(samples) > 6, samples  # new tasks started before old ones stopped
        manager.docker_ok("service", "rm", "up")


def test_worker_secret_only_in_tmpfs(tmp_path: Path) -> None:
    with swarm_of_three(PREFIX, tmp_path) as swarm:
        manager, w1, w2 = swarm.daemons
        # a secret used by tasks on the workers: in the task's tmpfs, nowhere on disk
        created = manager.docker("secret", "create", "s", "-", input=PLAINTEXT.encode())
        assert created.returncode == 0, created.stderr
        manager.docker_ok("service", "create", "--detach", "--name", "sec", "--replicas", "2", "--constraint",
                          "node.role==worker", "--secret", "s", "busybox", "sleep", "1d")
        eventually("one task on each worker", lambda: swarm.where("sec") == [0, 1, 1])
        for worker in (w1, w2):
            container = worker.docker_ok("ps", "-q", "--filter", "label=com.docker.swarm.service.name=sec")
            assert worker.docker_ok("exec", container, "cat", "/run/secrets/s") == PLAINTEXT
            mounts = [line.split() for line in worker.docker_ok("exec", container, "cat", "/proc/mounts").splitlines()]
            assert [m[2] for m in mounts if m[1] == "/run/secrets/s"] == ["tmpfs"]
        for d in swarm.daemons:
            tmpfs = d.exec_root / "swarm" / "mounts"
            assert d.data_root.is_relative_to(d.base) and d.exec_root.is_relative_to(d.base)
            assert files_holding(d.base, PLAINTEXT.encode(), skip=tmpfs) == []
        assert list((manager.data_root / "swarm" / "etcd").iterdir())  # etcd's data was among what was searched
        manager.docker_ok("service", "rm", "sec")
