"""Swarm services on one node, end to end: the docker CLI and the Docker SDK for Python create, scale, update, roll
back and remove services against `dockyard daemon`; the leader's loops, the dispatcher and the local agent turn
them into task containers named and labelled as dockerd's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from daemon_harness import Daemon, busybox_daemon
from helpers import free_port
from test_overlay_dataplane import dockyard_chains, host_links

docker = pytest.importorskip("docker")

DEADLINE = 60.0
MESH_PREFIX = "dy-ov-"  # the daemon's overlay prefix (network/overlay.py)


def eventually(what: str, probe: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """Poll until `probe` returns something truthy (a convergence wait, not a timing assertion)."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie left by a SIGKILLed parent does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def tasks_of(d: Daemon, service: str, **filters: list[str]) -> list[dict[str, Any]]:
    """GET /tasks for one service."""
    query = urllib.parse.quote(json.dumps({"service": [service], **filters}))
    return d.api("GET", f"/tasks?filters={query}")


def running(d: Daemon, service: str) -> list[dict[str, Any]]:
    """The service's tasks that run and are wanted running."""
    return [t for t in tasks_of(d, service) if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]


def swarm_containers(d: Daemon, service: str) -> list[str]:
    """Names of the service's task containers (docker's label filter)."""
    out = d.docker_ok("ps", "-a", "--filter", f"label=com.docker.swarm.service.name={service}",
                      "--format", "{{.Names}}")
    return sorted(out.split())


@pytest.fixture(scope="module")
def swarm() -> Iterator[Daemon]:
    """A daemon of this module's own with busybox, in a single-node swarm for the module's tests."""
    with busybox_daemon() as d:
        d.docker_ok("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
        try:
            yield d
        finally:
            pid_file = d.exec_root / "swarm" / "etcd.pid"
            etcd = int(pid_file.read_text()) if pid_file.exists() else None
            d.docker("swarm", "leave", "--force")
            assert not pid_file.exists()
            assert etcd is None or not alive(etcd)
            assert "ingress" not in d.docker_ok("network", "ls", "--format", "{{.Name}}").split()
            assert_overlays_gone(d)


def assert_overlays_gone(d: Daemon) -> None:
    """After `swarm leave`: docker_gwbridge removed (kept by leave, as dockerd does: a user removes it), and no
    overlay link, chain or namespace left."""
    d.docker("network", "rm", "docker_gwbridge")
    assert not host_links(MESH_PREFIX), "links left in the node's namespace"
    assert not [c for c in dockyard_chains() if MESH_PREFIX in c], "chains left"
    overlays = d.exec_root / "overlay"
    assert not overlays.exists() or not list(overlays.iterdir()), "overlay namespaces left"


def test_cli_create_converges_scales_replaces_and_removes(swarm: Daemon) -> None:
    d = swarm
    created = d.docker("service", "create", "--name", "web", "--replicas", "3", "busybox", "httpd", "-f", "-p", "80",
                       "-h", "/etc", timeout=120)
    assert created.returncode == 0, created.stderr
    assert b"verify: Service " in created.stdout and created.stdout.rstrip().endswith(b"converged")
    listing = d.docker_ok("service", "ls").splitlines()
    assert listing[0].split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
    assert listing[1].split()[1:5] == ["web", "replicated", "3/3", "busybox:latest"]
    names = swarm_containers(d, "web")
    assert [n.rsplit(".", 1)[0] for n in names] == ["web.1", "web.2", "web.3"]
    labels = d.inspect(names[0])["Config"]["Labels"]
    task_id = names[0].rsplit(".", 1)[1]
    assert labels["com.docker.swarm.task.id"] == task_id and labels["com.docker.swarm.service.name"] == "web"
    assert labels["com.docker.swarm.task.name"] == names[0] and labels["com.docker.swarm.task"] == ""
    task = d.api("GET", f"/tasks/{task_id}")
    assert task["Status"]["ContainerStatus"]["ContainerID"] == d.inspect(names[0])["Id"]
    assert task["Status"]["ContainerStatus"]["PID"] > 0 and task["Status"]["Message"] == "started"
    ps = d.docker_ok("service", "ps", "web").splitlines()
    assert ps[0].split()[:4] == ["ID", "NAME", "IMAGE", "NODE"] and len(ps) == 4

    assert b"web scaled to 6" in d.docker("service", "scale", "-d", "web=6").stdout
    eventually("6 running tasks", lambda: len(running(d, "web")) == 6)
    assert "6/6" in d.docker_ok("service", "ls")

    victim = d.inspect(names[1])
    os.kill(victim["State"]["Pid"], signal.SIGKILL)
    slot = int(names[1].split(".")[1])
    failed = eventually("the killed task failed", lambda: [t for t in tasks_of(d, "web")
                                                           if t["Status"]["State"] == "failed"])
    assert failed[0]["Slot"] == slot and failed[0]["Status"]["Err"] == "task: non-zero exit (137)"
    assert failed[0]["Status"]["ContainerStatus"]["ExitCode"] == 137
    eventually("a replacement in the killed task's slot", lambda: any(
        t["Slot"] == slot and t["ID"] != failed[0]["ID"] for t in running(d, "web")))

    d.docker_ok("service", "rm", "web")
    eventually("every task container removed", lambda: not swarm_containers(d, "web"))
    eventually("every task deleted", lambda: not d.api("GET", "/tasks"))


def test_sdk_services_round_trip_update_rollback_scale_remove(swarm: Daemon) -> None:
    client = docker.DockerClient(base_url=f"unix://{swarm.socket}")
    try:
        spec = docker.types.ContainerSpec("busybox", ["sleep", "600"], env={"A": "1"},
                                          healthcheck=docker.types.Healthcheck(test=["CMD", "true"], interval=10**9),
                                          stop_grace_period=2 * 10**9)
        template = docker.types.TaskTemplate(spec, restart_policy=docker.types.RestartPolicy("on-failure", 10**9, 3))
        service_id = client.api.create_service(template, name="sdk", labels={"team": "a"},
                                               update_config=docker.types.UpdateConfig(parallelism=2))["ID"]
        inspected = client.api.inspect_service(service_id)
        assert inspected["Spec"] == {
            "Name": "sdk", "Labels": {"team": "a"},
            "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Command": ["sleep", "600"], "Env": ["A=1"],
                                               "StopGracePeriod": 2 * 10**9,
                                               "Healthcheck": {"Test": ["CMD", "true"], "Interval": 10**9},
                                               "Isolation": "default"},
                             "RestartPolicy": {"Condition": "on-failure", "Delay": 10**9, "MaxAttempts": 3,
                                               "Window": 0},
                             "ForceUpdate": 0, "Runtime": "container"},
            "Mode": {"Replicated": {"Replicas": 1}},
            "UpdateConfig": {"Parallelism": 2, "FailureAction": "continue", "MaxFailureRatio": 0,
                             "Order": "stop-first"},
            "EndpointSpec": {"Mode": "vip"}}
        assert "RollbackConfig" not in inspected["Spec"]
        full = client.api.inspect_service("sdk", insert_defaults=True)
        assert full["Spec"]["RollbackConfig"] == {"Parallelism": 1, "FailureAction": "pause",
                                                  "Monitor": 5 * 10**9, "MaxFailureRatio": 0,
                                                  "Order": "stop-first"}
        assert client.api.inspect_service(service_id[:6])["ID"] == service_id
        eventually("the healthy task runs", lambda: running(swarm, service_id))

        service = client.services.get(service_id)
        service.scale(2)
        eventually("2 running tasks", lambda: len(running(swarm, "sdk")) == 2)
        with pytest.raises(docker.errors.APIError, match="update out of sequence"):
            client.api.update_service(service_id, inspected["Version"]["Index"], template, name="sdk")

        service.reload()
        service.update(env=["A=2"])
        after = client.api.inspect_service(service_id)
        assert after["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=2"]
        assert after["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"]
        eventually("the update completed", lambda: client.api.inspect_service(service_id).get(
            "UpdateStatus", {}).get("State") == "completed")
        fresh = tasks_of(swarm, "sdk", **{"_up-to-date": ["true"], "desired-state": ["running"]})
        assert len(fresh) == 2 and all(t["Spec"]["ContainerSpec"]["Env"] == ["A=2"] for t in fresh)

        rollback = swarm.docker("service", "rollback", "-d", "sdk")
        assert rollback.returncode == 0 and rollback.stdout == b"sdk\n", rollback.stderr
        rolled = client.api.inspect_service(service_id)
        assert rolled["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"]
        assert rolled["UpdateStatus"]["Message"] == "manually requested rollback"
        eventually("the rollback completed", lambda: client.api.inspect_service(service_id).get(
            "UpdateStatus", {}).get("State") == "rollback_completed")

        listed = client.api.services(filters={"name": "sd"}, status=True)
        assert [s["ID"] for s in listed] == [service_id]
        assert listed[0]["ServiceStatus"] == {"RunningTasks": 2, "DesiredTasks": 2, "CompletedTasks": 0}
        assert client.api.services(filters={"mode": "global"}) == []
        with pytest.raises(docker.errors.APIError, match="already exists"):
            client.api.create_service(template, name="sdk")

        client.api.remove_service(service_id)
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_service(service_id)
        eventually("the sdk tasks' containers removed", lambda: not swarm_containers(swarm, "sdk"))
    finally:
        client.close()


def test_unplaceable_task_stays_pending_and_logs_nothing_else(swarm: Daemon) -> None:
    created = swarm.api("POST", "/services/create", {
        "Name": "gpu", "TaskTemplate": {"ContainerSpec": {"Image": "busybox", "Args": ["true"]},
                                        "Resources": {"Reservations": {"GenericResources": [
                                            {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 1}}]}}}})
    task = eventually("a task with its scheduling error", lambda: [
        t for t in tasks_of(swarm, created["ID"]) if t["Status"].get("Err")])[0]
    assert task["Status"]["State"] == "pending"
    assert task["Status"]["Err"] == "no suitable node (insufficient resources on 1 node)"
    assert "NodeID" not in task
    swarm.api("DELETE", f"/services/{created['ID']}")
    eventually("its task deleted", lambda: not swarm.api("GET", "/tasks"))


def test_service_logs_carry_the_details_the_cli_needs(swarm: Daemon) -> None:
    d = swarm
    d.docker_ok("service", "create", "-d", "--name", "hello", "--restart-condition", "none", "busybox", "echo",
                "hello")
    done = eventually("the task completed", lambda: [t for t in tasks_of(d, "hello")
                                                     if t["Status"]["State"] == "complete"])[0]
    assert done["DesiredState"] == "running" and done["Status"]["Message"] == "finished"
    out = d.docker("service", "logs", "hello")
    assert out.returncode == 0, out.stderr
    prefix, _, text = out.stdout.decode().partition("|")
    assert prefix.strip().startswith(f"hello.1.{done['ID'][:12]}@") and text == " hello\n"
    raw = d.request("GET", "/services/hello/logs?stdout=1&details=1")[1]
    node = d.api("GET", "/info")["Swarm"]["NodeID"]
    assert raw[8:] == (f"com.docker.swarm.node.id={node},com.docker.swarm.service.id={done['ServiceID']},"
                       f"com.docker.swarm.task.id={done['ID']} hello\n").encode()
    assert d.request("GET", f"/tasks/{done['ID']}/logs?stdout=1")[1][8:] == b"hello\n"
    d.docker_ok("service", "rm", "hello")
    eventually("its container removed", lambda: not swarm_containers(d, "hello"))


def test_dockyard_service_commands(swarm: Daemon) -> None:
    d = swarm

    def ok(*args: str) -> str:
        done = d.cli(*args, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.decode()
    created = ok("service", "create", "--name", "cli", "--replicas", "2", "-e", "A=1", "busybox", "sleep", "600")
    service_id = created.splitlines()[0]
    assert created.rstrip().endswith(f"verify: Service {service_id} converged")
    assert ok("service", "ls").splitlines()[1].split()[1:5] == ["cli", "replicated", "2/2", "busybox"]
    ps = ok("service", "ps", "cli").splitlines()
    assert ps[0].split()[:4] == ["ID", "NAME", "IMAGE", "NODE"]
    assert [line.split()[1] for line in ps[1:]] == ["cli.1", "cli.2"]
    assert ok("service", "scale", "-d", "cli=3") == "cli scaled to 3\n"
    eventually("3 running", lambda: len(running(d, "cli")) == 3)
    assert ok("service", "update", "-d", "--env-add", "A=2", "cli") == "cli\n"
    assert json.loads(ok("service", "inspect", "cli"))[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=2"]
    assert ok("service", "rollback", "-d", "cli") == "cli\n"
    assert ok("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", "cli") == '["A=1"]\n'
    assert ok("service", "rm", "cli") == "cli\n"
    missing = d.cli("service", "rm", "cli")
    assert missing.returncode == 1 and b"service cli not found" in missing.stderr
    eventually("its containers removed", lambda: not swarm_containers(d, "cli"))


def test_secrets_and_configs_are_files_on_a_task_tmpfs(swarm: Daemon) -> None:
    d = swarm
    client = docker.DockerClient(base_url=f"unix://{d.socket}")
    try:
        secret_id = client.api.create_secret("pw", "s3cr3t-ünïcode".encode())["ID"]
        config_id = client.api.create_config("cfg", b"key=value\n")["ID"]
        spec = docker.types.ContainerSpec(
            "busybox", ["sleep", "600"],
            secrets=[docker.types.SecretReference(secret_id, "pw")],
            configs=[docker.types.ConfigReference(config_id, "cfg", mode=0o400)])
        service_id = client.api.create_service(docker.types.TaskTemplate(spec), name="withsecret")["ID"]
        task = eventually("the task runs", lambda: running(d, service_id))[0]
        name = swarm_containers(d, "withsecret")[0]
        assert d.docker_ok("exec", name, "cat", "/run/secrets/pw") == "s3cr3t-ünïcode"
        assert d.docker_ok("exec", name, "cat", "/cfg") == "key=value"
        assert d.docker_ok("exec", name, "stat", "-c", "%a %u", "/run/secrets/pw", "/cfg") == "444 0\n400 0"
        refused = d.docker("exec", name, "sh", "-c", "echo x > /run/secrets/pw")
        assert refused.returncode != 0 and b"Read-only file system" in refused.stderr
        mounts = Path("/proc/self/mountinfo").read_text()
        assert f"/swarm/mounts/{task['ID']} " in mounts
        leaked = subprocess.run(["grep", "-r", "-l", "s3cr3t", str(d.data_root)], capture_output=True)
        assert leaked.stdout == b""
        client.api.remove_service(service_id)
        eventually("the tmpfs unmounted", lambda: f"/swarm/mounts/{task['ID']} "
                   not in Path("/proc/self/mountinfo").read_text())
        eventually("the task deleted", lambda: not d.api("GET", "/tasks"))
        client.api.remove_secret(secret_id)
        client.api.remove_config(config_id)
    finally:
        client.close()


def test_daemon_sigkill_leaves_tasks_running_and_adopts_them(swarm: Daemon) -> None:
    d = swarm
    d.docker_ok("service", "create", "-d", "--name", "durable", "--replicas", "2", "busybox", "sleep", "600")
    before = eventually("2 running", lambda: len(running(d, "durable")) == 2 and running(d, "durable"))
    containers = {t["Status"]["ContainerStatus"]["ContainerID"] for t in before}
    d.stop(signal.SIGKILL)
    d.start()
    after = eventually("the service answers again", lambda: running(d, "durable"))
    assert {t["ID"] for t in after} == {t["ID"] for t in before}
    assert {t["Status"]["ContainerStatus"]["ContainerID"] for t in after} == containers
    assert all(d.inspect(c)["State"]["Running"] for c in containers)
    d.docker_ok("service", "scale", "-d", "durable=3")
    eventually("the loops run again after the restart", lambda: len(running(d, "durable")) == 3)
    assert len(tasks_of(d, "durable")) == 3
    d.docker_ok("service", "rm", "durable")
    eventually("its containers removed", lambda: not swarm_containers(d, "durable"))


def mesh_rules(d: Daemon) -> str:
    """The routing mesh's nft rules: the node's chains and the ingress sandbox's table."""
    sandbox = d.exec_root / "overlay" / f"{MESH_PREFIX}ingress-sbox"
    node = "".join(subprocess.run(["nft", "list", "chain", "ip", "dockyard", chain], capture_output=True,
                                  text=True).stdout for chain in (f"{MESH_PREFIX}mesh-pre", f"{MESH_PREFIX}mesh-out"))
    inside = subprocess.run(["nsenter", f"--net={sandbox}", "nft", "list", "table", "ip", "dockyard-ingress"],
                            capture_output=True, text=True).stdout if sandbox.exists() else ""
    return node + inside


def fetch(port: int, path: str) -> str | None:
    """A page from 127.0.0.1:port (None while nothing answers)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as page:
            return page.read().decode()
    except OSError:
        return None


def test_published_port_reaches_every_task_through_the_routing_mesh(swarm: Daemon) -> None:
    """`-p P:80` publishes P on the node's addresses through the ingress network: the tasks join it, requests
    spread over them; `service rm` takes the port's rules away."""
    d = swarm
    port = free_port()
    d.docker_ok("service", "create", "--name", "mesh", "--replicas", "3", "-p", f"{port}:80", "busybox", "sh", "-c",
                "mkdir -p /tmp/www && hostname > /tmp/www/h && cp /etc/passwd /tmp/www/ && "
                "exec httpd -f -p 80 -h /tmp/www")
    assert len(running(d, "mesh")) == 3
    endpoint = d.api("GET", "/services/mesh")["Endpoint"]
    assert endpoint["Ports"] == [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": port,
                                  "PublishMode": "ingress"}]
    ingress = d.api("GET", "/networks/ingress")
    assert (ingress["Driver"], ingress["Scope"], ingress["Ingress"]) == ("overlay", "swarm", True)
    assert "root:" in eventually("the page through the mesh", lambda: fetch(port, "/passwd"))
    hosts = {fetch(port, "/h") for _ in range(9)}
    assert len(hosts - {None}) > 1, hosts
    assert f"dport {port}" in mesh_rules(d)
    d.docker_ok("service", "create", "-d", "--name", "dynamic", "-p", "80", "busybox", "sleep", "600")
    dynamic = d.api("GET", "/services/dynamic")["Endpoint"]["Ports"][0]["PublishedPort"]
    assert 30000 <= dynamic <= 32767
    d.docker_ok("service", "rm", "mesh", "dynamic")
    eventually("its containers removed", lambda: not swarm_containers(d, "mesh"))
    eventually("the port's rules removed", lambda: f"dport {port}" not in mesh_rules(d))
    assert fetch(port, "/h") is None
