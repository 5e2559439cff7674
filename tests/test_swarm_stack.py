"""`docker stack deploy` (the docker CLI's own stack command, which drives the services, networks, secrets and configs
API) on three namespace hosts (tests/swarm_hosts.py): a three-service stack with an overlay network, a secret, a
config and a published port runs across the hosts, `stack ls/services/ps` show it, the port answers on every host,
a task reaches another service by its compose name over the overlay, a task on a worker reads the secret and the
config, and `stack rm` removes everything on every host."""

from __future__ import annotations

import textwrap
from pathlib import Path

from swarm_hosts import running_tasks, swarm_of_three
from test_swarm_overlay import SERVE_HOSTNAME
from test_swarm_services import eventually
from test_swarm_xhost import mesh_requests

PREFIX = "dys"
SECRET = "stack-s3cret-41c7"
CONFIG = "stack-config-hello"
STACK_LABEL = "label=com.docker.stack.namespace=app"

COMPOSE = textwrap.dedent(f"""\
    services:
      web:
        image: busybox
        command: ["sh", "-c", "{SERVE_HOSTNAME}"]
        ports: ["8080:80"]
        networks: [backend]
        secrets: [token]
        configs:
          - source: greeting
            target: /greeting
        deploy:
          replicas: 3
          restart_policy: {{delay: 1s}}
      api:
        image: busybox
        command: ["sh", "-c", "mkdir -p /tmp/w; echo api-answer > /tmp/w/index.html; exec httpd -f -p 80 -h /tmp/w"]
        networks: [backend]
        deploy:
          replicas: 2
          placement: {{constraints: ["node.role==worker"]}}
      client:
        image: busybox
        command: ["sleep", "1d"]
        networks: [backend]
        deploy:
          placement: {{constraints: ["node.role==manager"]}}
    networks:
      backend:
        driver: overlay
        attachable: true
    secrets:
      token:
        file: ./token.txt
    configs:
      greeting:
        file: ./greeting.txt
    """)


def stack_services(manager) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Service name -> REPLICAS column of `docker stack services app`."""
    out = manager.docker_ok("stack", "services", "app", "--format", "{{.Name}} {{.Replicas}}")
    return dict(line.split() for line in out.splitlines())


def test_stack_deploy_across_three_hosts(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yml").write_text(COMPOSE)
    (project / "token.txt").write_text(SECRET)
    (project / "greeting.txt").write_text(CONFIG)
    with swarm_of_three(PREFIX, tmp_path) as swarm:
        manager, w1, w2 = swarm.daemons
        deployed = manager.docker_ok("stack", "deploy", "-c", str(project / "compose.yml"), "app")
        for line in ("Creating network app_backend", "Creating secret app_token", "Creating config app_greeting",
                     "Creating service app_web", "Creating service app_api", "Creating service app_client"):
            assert line in deployed, deployed
        assert manager.docker_ok("stack", "ls", "--format", "{{.Name}} {{.Services}}") == "app 3"
        eventually("the REPLICAS column converges", lambda: stack_services(manager) == {
            "app_web": "3/3", "app_api": "2/2", "app_client": "1/1"})
        # the stack's objects carry its namespace label, as the docker CLI made them
        network = manager.api("GET", "/networks/app_backend")
        assert network["Labels"] == {"com.docker.stack.namespace": "app"} and network["Attachable"]
        assert network["Scope"] == "swarm" and network["Driver"] == "overlay"
        assert manager.docker_ok("secret", "ls", "--filter", STACK_LABEL, "--format", "{{.Name}}") == "app_token"
        assert manager.docker_ok("config", "ls", "--filter", STACK_LABEL, "--format", "{{.Name}}") == "app_greeting"
        assert manager.docker_ok("network", "ls", "--filter", STACK_LABEL, "--format", "{{.Name}}") == "app_backend"

        # stack ps: the tasks run on every node
        hostnames = {manager.docker_ok("node", "inspect", "--format", "{{.Description.Hostname}}", i)
                     for i in swarm.ids}
        ps = manager.docker_ok("stack", "ps", "app", "--filter", "desired-state=running", "--format",
                               "{{.Name}} {{.Node}} {{.CurrentState}}").splitlines()
        assert len(ps) == 6 and all(" Running " in line for line in ps), ps
        assert {line.split()[1] for line in ps} == hostnames, ps
        eventually("a web task on each host", lambda: swarm.where("app_web") == [1, 1, 1])
        web = {d.inspect(name)["Config"]["Hostname"] for d in swarm.daemons for name in running_tasks(d, "app_web")}

        # the published port answers from the switch on every host, balanced over the web tasks
        for host in range(3):
            eventually(f"8080 answers on host {host + 1}", lambda: "-" not in mesh_requests(swarm.lan, host, 2))
            served = mesh_requests(swarm.lan, host, 10)
            assert "-" not in served and set(served) <= web and len(set(served)) >= 2, served

        # the client task (on the manager) reaches the api service, whose tasks run on the workers, by its name
        [client] = running_tasks(manager, "app_client")
        answers = manager.docker_ok("exec", client, "sh", "-c",
                                    "for i in 1 2 3 4; do timeout 3 wget -qO- http://api/ || echo -; done").split()
        assert answers == ["api-answer"] * 4, answers
        assert manager.docker_ok("exec", client, "sh", "-c", "timeout 3 wget -qO- http://app_api/") == "api-answer"

        # a web task on a worker reads the secret and the config
        [on_w1] = running_tasks(w1, "app_web")
        assert w1.docker_ok("exec", on_w1, "cat", "/run/secrets/token") == SECRET
        assert w1.docker_ok("exec", on_w1, "cat", "/greeting") == CONFIG

        # stack rm: services, network, secret and config go, and nothing of the stack stays on any host
        removed = manager.docker_ok("stack", "rm", "app")
        for line in ("Removing service app_web", "Removing secret app_token", "Removing config app_greeting",
                     "Removing network app_backend"):
            assert line in removed, removed
        assert manager.docker_ok("stack", "ls", "--format", "{{.Name}}") == ""
        for kind in ("service", "secret", "config"):
            assert manager.docker_ok(kind, "ls", "--filter", STACK_LABEL, "-q") == "", kind
        network_id = network["Id"]
        for d in swarm.daemons:
            eventually("no stack container left", lambda: d.docker_ok("ps", "-aq", "--filter", STACK_LABEL) == "")
            eventually("no stack network left", lambda: "app_backend" not in d.docker_ok(
                "network", "ls", "--format", "{{.Name}}").split())
            eventually("no overlay namespace of the stack's network left",
                       lambda: not (d.exec_root / "overlay" / f"dy-ov-{network_id[:12]}").exists())
            assert not list((d.exec_root / "swarm" / "mounts").glob("*"))
    assert str(tmp_path) not in Path("/proc/mounts").read_text()
