"""`docker service logs` on a manager of a three-host swarm (tests/swarm_hosts.py) gives the lines of tasks on every
node — workers publish them over the swarm listener when the manager asks on their session — with tail and follow,
and ends when not following; `docker service ps` shows the tasks of every node."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from swarm_hosts import swarm_of_three
from test_swarm_services import eventually

PREFIX = "dyl"
SCRIPT = 'echo first-line; i=0; while true; do i=$((i+1)); echo "n=$i"; sleep 0.3; done'
LINE = re.compile(r"^web\.(\d)\.([0-9a-z]{25})@(\S+)\s*\| (.*)$")


def lines_by_task(out: str) -> dict[str, list[str]]:
    """Task id -> its lines, from `docker service logs --no-trunc` output (every line must carry the prefix)."""
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        match = LINE.match(line)
        assert match, line
        found.setdefault(match.group(2), []).append(match.group(4))
    return found


def test_service_logs_from_every_node(tmp_path: Path) -> None:
    with swarm_of_three(PREFIX, tmp_path) as swarm:
        manager = swarm.manager
        manager.docker_ok("service", "create", "--detach", "--name", "web", "--replicas", "3", "busybox", "sh", "-c",
                          SCRIPT)
        eventually("one task on each host", lambda: swarm.where("web") == [1, 1, 1])
        tasks = {}
        for line in manager.docker_ok("service", "ps", "--no-trunc", "--format", "{{.ID}} {{.Node}}", "web").splitlines():
            task_id, node = line.split()
            tasks[task_id] = node
        hostname = manager.docker_ok("info", "--format", "{{.Name}}")
        assert len(tasks) == 3 and set(tasks.values()) == {hostname}  # node names resolved (one hostname here)
        on_nodes = {json.loads(manager.docker_ok("inspect", task_id))[0]["NodeID"] for task_id in tasks}
        assert on_nodes == set(swarm.ids)
        time.sleep(1.5)  # each task has written a few lines

        # not following: every task's lines, and the command ends
        done = manager.docker("service", "logs", "--no-trunc", "web", timeout=30)
        assert done.returncode == 0, done.stderr
        found = lines_by_task(done.stdout.decode())
        assert set(found) == set(tasks)
        for task_lines in found.values():
            assert task_lines[0] == "first-line" and task_lines[1:4] == ["n=1", "n=2", "n=3"]
        # --tail: the last lines of each task
        tail = lines_by_task(manager.docker_ok("service", "logs", "--no-trunc", "--tail", "2", "web"))
        assert set(tail) == set(tasks) and all(len(v) == 2 and v[0].startswith("n=") for v in tail.values())
        # one task on a worker by its id
        worker_task = next(t for t in tasks if json.loads(manager.docker_ok("inspect", t))[0]["NodeID"] == swarm.ids[1])
        one = lines_by_task(manager.docker_ok("service", "logs", "--no-trunc", worker_task))
        assert list(one) == [worker_task] and one[worker_task][0] == "first-line"
        # the raw details the docker CLI reads
        details = manager.docker_ok("service", "logs", "--details", "--raw", "--tail", "1", "web")
        assert len(details.splitlines()) == 3

        # following: new lines of all three tasks arrive as they are written
        follower = subprocess.Popen(["docker", "-H", f"unix://{manager.socket}", "service", "logs", "-f", "--tail",
                                     "0", "--no-trunc", "web"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)
        assert follower.poll() is None  # still following
        follower.terminate()
        out, _ = follower.communicate(timeout=10)
        followed = lines_by_task(out.decode())
        assert set(followed) == set(tasks)
        for task_lines in followed.values():
            assert len(task_lines) >= 5 and "first-line" not in task_lines
            numbers = [int(v.split("=")[1]) for v in task_lines]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # in order, none lost
        manager.docker_ok("service", "rm", "web")
