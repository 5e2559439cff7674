"""Jobs, the constraint enforcer, node availability, host-mode ports, templated and in-use secrets/configs and
`inspect --pretty`, end to end through the docker CLI (and ours) against `dockyard daemon` in a single-node swarm
(test_swarm_services' module fixture: its own daemon, checked for leftovers when the module ends)."""

from __future__ import annotations

import json
import re

import pytest

from daemon_harness import Daemon
from helpers import free_port
from test_swarm_services import eventually, fetch, running, swarm, swarm_containers, tasks_of  # noqa: F401

pytest.importorskip("docker")


def node_id(d: Daemon) -> str:
    """The one node's id."""
    return d.docker_ok("node", "ls", "-q")


def ls_row(d: Daemon, name: str) -> list[str]:
    """`docker service ls` columns of one service, split on two or more spaces."""
    for line in d.docker_ok("service", "ls").splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if cells[1] == name:
            return cells
    raise AssertionError(f"{name} not listed")


def remove_service(d: Daemon, name: str) -> None:
    """`docker service rm` and wait for its containers to go."""
    d.docker_ok("service", "rm", name)
    eventually(f"{name}'s containers removed", lambda: not swarm_containers(d, name))


def test_secret_and_config_in_use_are_not_removed(swarm: Daemon) -> None:
    d = swarm
    assert d.docker("secret", "create", "busy-secret", "-", input=b"pw").returncode == 0
    assert d.docker("config", "create", "busy-config", "-", input=b"cfg").returncode == 0
    for name in ("user-a", "user-b"):
        d.docker_ok("service", "create", "-d", "--name", name, "--secret", "busy-secret", "--config", "busy-config",
                    "busybox", "sleep", "600")
    users = sorted(("user-a", "user-b"), key=lambda n: json.loads(d.docker_ok("service", "inspect", n))[0]["ID"])
    refused = d.docker("secret", "rm", "busy-secret")
    assert refused.returncode == 1
    assert refused.stderr.decode().strip() == (
        "Error response from daemon: rpc error: code = InvalidArgument desc = secret 'busy-secret' is in use by the "
        f"following services: {users[0]}, {users[1]}")
    status, body = d.request("DELETE", "/configs/busy-config")
    assert status == 400
    assert json.loads(body)["message"] == ("rpc error: code = InvalidArgument desc = config 'busy-config' is in use "
                                           f"by the following services: {users[0]}, {users[1]}")
    remove_service(d, "user-a")
    refused = d.docker("config", "rm", "busy-config")
    assert refused.stderr.decode().strip().endswith("config 'busy-config' is in use by the following service: user-b")
    remove_service(d, "user-b")
    assert d.docker_ok("secret", "rm", "busy-secret") == "busy-secret"
    assert d.docker_ok("config", "rm", "busy-config") == "busy-config"


def test_replicated_job_runs_to_completion_and_reruns_on_force(swarm: Daemon) -> None:
    d = swarm
    created = d.docker("service", "create", "--name", "job3", "--mode", "replicated-job", "--replicas", "3",
                       "busybox", "sh", "-c", "echo done", timeout=120)
    assert created.returncode == 0, created.stderr
    assert b"job complete" in created.stdout
    service = json.loads(d.docker_ok("service", "inspect", "job3"))[0]
    assert service["Spec"]["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 3, "TotalCompletions": 3}}
    assert service["JobStatus"]["JobIteration"] == {} and service["JobStatus"]["LastExecution"]
    assert ls_row(d, "job3")[2:4] == ["replicated job", "0/3 (3/3 completed)"]
    tasks = tasks_of(d, "job3")
    assert sorted(t["Status"]["State"] for t in tasks) == ["complete"] * 3
    assert {t["DesiredState"] for t in tasks} == {"complete"} and all(t["JobIteration"] == {} for t in tasks)
    assert sorted(t.get("Slot", 0) for t in tasks) == [0, 1, 2]
    assert len(swarm_containers(d, "job3")) == 3
    updated = d.docker("service", "update", "--force", "job3", timeout=120)
    assert updated.returncode == 0 and b"job complete" in updated.stdout, updated.stderr
    iteration = json.loads(d.docker_ok("service", "inspect", "job3"))[0]["JobStatus"]["JobIteration"]
    assert iteration["Index"] > 0
    current = [t for t in tasks_of(d, "job3") if t["JobIteration"] == iteration]
    assert sorted(t["Status"]["State"] for t in current) == ["complete"] * 3
    assert ls_row(d, "job3")[3] == "0/3 (3/3 completed)"
    remove_service(d, "job3")


def test_failing_job_is_retried_and_global_job_runs_once_per_node(swarm: Daemon) -> None:
    d = swarm
    d.docker_ok("service", "create", "-d", "--name", "flaky", "--mode", "replicated-job", "--restart-delay", "100ms",
                "busybox", "sh", "-c", "test -e /tmp/x")
    eventually("the failed task retried", lambda: len([t for t in tasks_of(d, "flaky")
                                                       if t["Status"]["State"] == "failed"]) >= 2)
    assert ls_row(d, "flaky")[3].endswith("(0/1 completed)")
    remove_service(d, "flaky")
    created = d.docker("service", "create", "--name", "gjob", "--mode", "global-job", "busybox", "true", timeout=120)
    assert created.returncode == 0 and b"job complete" in created.stdout, created.stderr
    assert ls_row(d, "gjob")[2:4] == ["global job", "0/0 (1/1 completed)"]
    [task] = tasks_of(d, "gjob")
    assert task["NodeID"] == node_id(d) and task["Status"]["State"] == "complete"
    remove_service(d, "gjob")


def pending_errors(d: Daemon, name: str) -> list[str]:
    """Status.Err of the service's pending tasks, once the scheduler has given each its reason (a task the
    allocator has just made pending has none yet: an empty list until then)."""
    errors = [t["Status"].get("Err", "") for t in tasks_of(d, name) if t["Status"]["State"] == "pending"]
    return errors if all(errors) else []


def test_losing_a_label_shuts_tasks_down_and_they_wait_for_a_fitting_node(swarm: Daemon) -> None:
    d = swarm
    node = node_id(d)
    d.docker_ok("node", "update", "--label-add", "zone=a", node)
    d.docker_ok("service", "create", "-d", "--name", "zoned", "--constraint", "node.labels.zone==a",
                "--restart-delay", "1s", "busybox", "sleep", "600")
    [first] = eventually("the task runs", lambda: running(d, "zoned"))
    d.docker_ok("node", "update", "--label-rm", "zone", node)
    rejected = eventually("the task rejected", lambda: [t for t in tasks_of(d, "zoned") if t["ID"] == first["ID"]
                                                        and t["DesiredState"] == "shutdown"])[0]
    assert rejected["Status"]["State"] == "rejected"
    assert rejected["Status"]["Message"] == "task rejected by constraint enforcer"
    assert rejected["Status"]["Err"] == "assigned node no longer meets constraints"
    container = rejected["Status"]["ContainerStatus"]["ContainerID"]
    eventually("its container stopped", lambda: not d.inspect(container)["State"]["Running"])
    assert eventually("a replacement waits", lambda: pending_errors(d, "zoned")) == [
        "no suitable node (scheduling constraints not satisfied on 1 node)"]
    d.docker_ok("node", "update", "--label-add", "zone=a", node)
    eventually("the replacement runs", lambda: running(d, "zoned"))
    remove_service(d, "zoned")
    d.docker_ok("node", "update", "--label-rm", "zone", node)


def test_drain_moves_tasks_off_pause_stops_new_placements(swarm: Daemon) -> None:
    d = swarm
    node = node_id(d)
    d.docker_ok("service", "create", "-d", "--name", "movable", "--replicas", "2", "busybox", "sleep", "600")
    d.docker_ok("service", "create", "-d", "--name", "everywhere", "--mode", "global", "busybox", "sleep", "600")
    eventually("both services run", lambda: len(running(d, "movable")) == 2 and running(d, "everywhere"))
    try:
        d.docker_ok("node", "update", "--availability", "drain", node)
        eventually("no task left running", lambda: not running(d, "movable") and not running(d, "everywhere"))
        assert eventually("replacements wait", lambda: len(pending_errors(d, "movable")) == 2
                          and pending_errors(d, "movable")) == ["no suitable node (1 node not available for new "
                                                                "tasks)"] * 2
        assert not [t for t in tasks_of(d, "everywhere") if t["DesiredState"] == "running"]
        d.docker_ok("node", "update", "--availability", "active", node)
        eventually("both run again", lambda: len(running(d, "movable")) == 2 and running(d, "everywhere"))
        kept = {t["ID"] for t in running(d, "movable") + running(d, "everywhere")}
        d.docker_ok("node", "update", "--availability", "pause", node)
        d.docker_ok("service", "scale", "-d", "movable=3")
        assert eventually("the third waits", lambda: pending_errors(d, "movable")) == [
            "no suitable node (1 node not available for new tasks)"]
        assert {t["ID"] for t in running(d, "movable") + running(d, "everywhere")} == kept
    finally:
        d.docker_ok("node", "update", "--availability", "active", node)
    eventually("the third runs", lambda: len(running(d, "movable")) == 3)
    remove_service(d, "movable")
    remove_service(d, "everywhere")


def test_host_mode_port_is_published_by_each_task_on_its_node(swarm: Daemon) -> None:
    d = swarm
    port = free_port()
    created = d.docker("service", "create", "--name", "hostport", "-p", f"mode=host,published={port},target=80",
                       "busybox", "sh", "-c", "mkdir -p /w && cp /etc/passwd /w/ && exec httpd -f -p 80 -h /w",
                       timeout=120)
    assert created.returncode == 0 and b"converged" in created.stdout, created.stderr
    service = json.loads(d.docker_ok("service", "inspect", "hostport"))[0]
    wanted = {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": port, "PublishMode": "host"}
    assert service["Endpoint"]["Ports"] == [wanted] and service["Spec"]["EndpointSpec"]["Ports"] == [wanted]
    [task] = running(d, "hostport")
    assert task["Status"]["PortStatus"]["Ports"][0] == wanted
    assert json.loads(d.docker_ok("inspect", "--type", "task", task["ID"]))[0]["Status"]["PortStatus"] == \
        task["Status"]["PortStatus"]
    container = d.inspect(task["Status"]["ContainerStatus"]["ContainerID"])
    assert container["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": str(port)}]}
    assert "ingress" not in container["NetworkSettings"]["Networks"]
    assert f"*:{port}->80/tcp" in d.docker_ok("service", "ps", "hostport")
    assert "root:" in eventually("the page on the node's port", lambda: fetch(port, "/passwd"))
    d.docker_ok("service", "scale", "-d", "hostport=2")
    assert eventually("the second task waits", lambda: pending_errors(d, "hostport")) == [
        "no suitable node (host-mode port already in use on 1 node)"]
    refused = d.docker("service", "create", "-d", "--name", "clash", "-p", f"{port}:80", "busybox", "true")
    assert refused.returncode == 1 and refused.stderr.decode().strip().endswith(
        f"port '{port}' is already in use by service 'hostport' ({service['ID']}) as a host-published port")
    remove_service(d, "hostport")
    eventually("the port closed", lambda: fetch(port, "/passwd") is None)


def test_templates_in_configs_secrets_and_the_container_spec_are_rendered_per_task(swarm: Daemon) -> None:
    d = swarm
    node = json.loads(d.docker_ok("node", "inspect", "self"))[0]
    assert d.docker("secret", "create", "base-pw", "-", input=b"hunter2").returncode == 0
    template = (b'svc={{.Service.Name}} tier={{index .Service.Labels "tier"}} task={{.Task.Name}} '
                b'slot={{.Task.Slot}} node={{.Node.Hostname}}/{{.Node.Platform.OS}} mode={{env "MODE"}} '
                b'pw={{secret "base-pw"}}')
    assert d.docker("config", "create", "--template-driver", "golang", "app-conf", "-",
                    input=template).returncode == 0
    assert d.docker("secret", "create", "--template-driver", "golang", "app-pw", "-",
                    input=b"{{.Service.ID}}:{{secret \"base-pw\"}}").returncode == 0
    assert json.loads(d.docker_ok("config", "inspect", "app-conf"))[0]["Spec"]["Templating"] == {"Name": "golang"}
    d.docker_ok("service", "create", "-d", "--name", "templated", "--label", "tier=front", "--env", "MODE=prod",
                "--secret", "base-pw", "--secret", "app-pw", "--config", "source=app-conf,target=/etc/app.conf",
                "busybox", "sleep", "600")
    [task] = eventually("the task runs", lambda: running(d, "templated"))
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    service_id = task["ServiceID"]
    assert d.docker_ok("exec", container, "cat", "/etc/app.conf") == (
        f"svc=templated tier=front task=templated.1.{task['ID']} slot=1 node={node['Description']['Hostname']}/linux "
        "mode=prod pw=hunter2")
    assert d.docker_ok("exec", container, "cat", "/run/secrets/app-pw") == f"{service_id}:hunter2"
    remove_service(d, "templated")
    assert d.docker("config", "create", "--template-driver", "golang", "bad-conf", "-",
                    input=b"{{json .Service}}").returncode == 0
    d.docker_ok("service", "create", "-d", "--name", "badtemplate", "--config", "bad-conf", "busybox", "sleep", "600")
    rejected = eventually("the task rejected", lambda: [t for t in tasks_of(d, "badtemplate")
                                                        if t["Status"]["State"] == "rejected"])[0]
    config_id = json.loads(d.docker_ok("config", "inspect", "bad-conf"))[0]["ID"]
    assert rejected["Status"]["Err"].startswith(f"failed to expand templated config {config_id}: template: expansion")
    assert 'function "json" not defined' in rejected["Status"]["Err"]
    remove_service(d, "badtemplate")
    d.docker_ok("service", "create", "-d", "--name", "tplspec", "--hostname", "{{.Node.Hostname}}-{{.Task.Slot}}",
                "--env", "SVC={{.Service.Name}}", "--mount", "type=volume,source=tplvol-{{.Task.Slot}},target=/data",
                "busybox", "sleep", "600")
    [task] = eventually("the task runs", lambda: running(d, "tplspec"))
    container = task["Status"]["ContainerStatus"]["ContainerID"]
    assert d.docker_ok("exec", container, "hostname") == f"{node['Description']['Hostname']}-1"
    assert "SVC=tplspec" in d.docker_ok("exec", container, "env").splitlines()
    assert d.inspect(container)["Mounts"][0]["Name"] == "tplvol-1"
    remove_service(d, "tplspec")
    d.docker_ok("volume", "rm", "tplvol-1")
    d.docker_ok("service", "create", "-d", "--name", "badspec", "--env", "X={{.Nope}}", "busybox", "true")
    rejected = eventually("the task rejected", lambda: [t for t in tasks_of(d, "badspec")
                                                        if t["Status"]["State"] == "rejected"])[0]
    assert rejected["Status"]["Err"].startswith('expanding env failed: expanding env "X={{.Nope}}": template: '
                                                'expansion:1:2: executing "expansion" at <.Nope>')
    remove_service(d, "badspec")
    for kind, name in (("config", "app-conf"), ("config", "bad-conf"), ("secret", "app-pw"), ("secret", "base-pw")):
        d.docker_ok(kind, "rm", name)


def same_pretty(d: Daemon, *args: str) -> str:
    """`inspect --pretty` printed by the docker CLI and by ours, which must be byte for byte the same (but for the
    relative times of an update, "4 seconds ago", which may tick between the two runs)."""
    theirs, ours = d.docker(*args, "--pretty"), d.cli(*args, "--pretty")
    assert theirs.returncode == 0 and ours.returncode == 0, (theirs.stderr, ours.stderr)

    def steady(text: str) -> str:
        return re.sub(r"\t(\d+ seconds?|Less than a second) ago\n", "\tN seconds ago\n", text)
    assert steady(ours.stdout.decode()) == steady(theirs.stdout.decode())
    return ours.stdout.decode()


def test_pretty_inspect_prints_what_the_docker_cli_prints(swarm: Daemon) -> None:
    d = swarm
    node = node_id(d)
    d.docker_ok("node", "update", "--label-add", "zone=a", "--label-add", "flag", node)
    assert d.docker("secret", "create", "--label", "team=x", "pretty-pw", "-", input=b"pw").returncode == 0
    assert d.docker("config", "create", "--label", "team=y", "pretty-conf", "-", input=b"a=1\nb=2").returncode == 0
    d.docker_ok("service", "create", "-d", "--name", "rich", "--label", "svc=1", "--label", "bare",
                "--replicas", "0", "--constraint", "node.labels.zone==a", "--placement-pref", "spread=node.labels.zone",
                "--replicas-max-per-node", "2", "--update-delay", "10s", "--update-parallelism", "2",
                "--update-monitor", "1m30s", "--update-max-failure-ratio", "0.25", "--rollback-order", "start-first",
                "--env", "A=1", "--workdir", "/tmp", "--user", "nobody", "--init", "--cap-add", "NET_ADMIN",
                "--cap-drop", "CHOWN", "--sysctl", "net.core.somaxconn=1024", "--ulimit", "nofile=1024:2048",
                "--mount", "type=tmpfs,target=/scratch", "--mount", "type=volume,source=vol1,target=/data,readonly",
                "--secret", "pretty-pw", "--config", "source=pretty-conf,target=/etc/p.conf",
                "--log-driver", "json-file", "--log-opt", "max-size=1m", "--reserve-cpu", "0.5",
                "--reserve-memory", "64M", "--limit-cpu", "1.5", "--limit-memory", "1G", "--limit-pids", "100",
                "-p", "mode=host,published=18080,target=80", "--health-cmd", "true", "--health-interval", "5s",
                "--health-retries", "2", "busybox", "sleep", "600")
    d.docker_ok("service", "create", "-d", "--name", "plain-job", "--mode", "replicated-job", "busybox", "true")
    text = same_pretty(d, "service", "inspect", "rich")
    assert "\nService Mode:\tReplicated\n Replicas:\t0\n" in text and " Max Replicas Per Node:   2" in text
    assert "Update order:      stop-first" in text and "Rollback order:    start-first" in text
    same_pretty(d, "service", "inspect", "plain-job", "rich")
    d.docker_ok("service", "create", "-d", "--name", "updated", "busybox", "sleep", "600")
    eventually("it runs", lambda: running(d, "updated"))
    d.docker_ok("service", "update", "-d", "--env-add", "B=2", "updated")
    eventually("the update completed", lambda: (d.api("GET", "/services/updated").get("UpdateStatus") or {})
               .get("State") == "completed")
    assert "\nUpdateStatus:\n State:\t\tcompleted\n Started:\t" in same_pretty(d, "service", "inspect", "updated")
    same_pretty(d, "node", "inspect", "self")
    same_pretty(d, "secret", "inspect", "pretty-pw")
    assert same_pretty(d, "config", "inspect", "pretty-conf").endswith("Data:\na=1\nb=2\n")
    for name in ("rich", "plain-job", "updated"):
        remove_service(d, name)
    d.docker_ok("secret", "rm", "pretty-pw")
    d.docker_ok("config", "rm", "pretty-conf")
    d.docker_ok("node", "update", "--label-rm", "zone", "--label-rm", "flag", node)


def test_dockyard_cli_runs_jobs_and_lists_them_as_docker(swarm: Daemon) -> None:
    d = swarm
    created = d.cli("service", "create", "--name", "cli-job", "--mode", "replicated-job", "--replicas", "2",
                    "--max-concurrent", "1", "busybox", "true", timeout=120)
    assert created.returncode == 0, created.stderr
    assert created.stdout.decode().splitlines()[1:] == ["job complete"]
    mode = json.loads(d.docker_ok("service", "inspect", "cli-job"))[0]["Spec"]["Mode"]
    assert mode == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 2}}
    created = d.cli("service", "create", "--name", "cli-gjob", "--mode", "global-job", "busybox", "true",
                    timeout=120)
    assert created.returncode == 0 and created.stdout.decode().endswith("job complete\n"), created.stderr
    refused = d.cli("service", "create", "--mode", "global-job", "--replicas", "2", "busybox", "true")
    assert refused.returncode != 0 and b"replicas can only be used with replicated or replicated-job mode" in \
        refused.stderr
    assert d.cli("service", "ls").stdout == d.docker("service", "ls").stdout
    assert ls_row(d, "cli-job")[2:4] == ["replicated job", "0/1 (2/2 completed)"]
    assert d.cli("service", "scale", "cli-job=3", timeout=120).returncode == 0
    assert ls_row(d, "cli-job")[3] == "0/1 (3/3 completed)"
    remove_service(d, "cli-job")
    remove_service(d, "cli-gjob")
