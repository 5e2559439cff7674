"""A swarm of three daemons on three namespace hosts (tests/netns_hosts.py): workers join over mutual TLS with the
docker CLI, tasks spread over them, a worker refuses manager commands, a killed worker goes `Down` and its tasks
run again elsewhere, the restarted worker stops its orphaned tasks, and a worker leaves."""

from __future__ import annotations

import json
import socket
import ssl
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from netns_hosts import entered
from swarm_hosts import HEARTBEAT, kill_host, node_id, nodes, running_tasks, three_hosts
from test_swarm_services import eventually

PREFIX = "dyj"
ERR_WORKER = ("Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or "
              "modify cluster state. Please run this command on a manager node or promote the current node to a "
              "manager.")


def test_three_hosts_join_spread_fail_and_leave(tmp_path: Path) -> None:
    with three_hosts(PREFIX, tmp_path) as (lan, daemons):
        manager, w1, w2 = daemons
        h1, h2, h3 = (h.address for h in lan.hosts)
        manager.docker_ok("swarm", "init", "--listen-addr", f"{h1}:2377", "--advertise-addr", h1,
                          "--dispatcher-heartbeat", f"{int(HEARTBEAT)}s")
        # the swarm listener is TLS from the swarm's CA; the Docker API is not served there
        info = json.loads(manager.docker_ok("info", "--format", "{{json .Swarm}}"))
        trust_root = info["Cluster"]["TLSInfo"]["TrustRoot"]
        assert "BEGIN CERTIFICATE" in trust_root
        with entered(lan.switch):
            context = ssl.create_default_context(cadata=trust_root)
            context.check_hostname = False
            with urllib.request.urlopen(f"https://{h1}:2377/swarmrpc/v1/ca", context=context, timeout=10) as r:
                assert json.loads(r.read())["Certificate"] == trust_root
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"https://{h1}:2377/_ping", context=context, timeout=10)
            assert refused.value.code == 404
            # a session without a node certificate is refused
            request = urllib.request.Request(f"https://{h1}:2377/swarmrpc/v1/session", data=b"{}", method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, context=context, timeout=10)
            assert refused.value.code == 403
        token = manager.docker_ok("swarm", "join-token", "-q", "worker")
        digest = token.split("-")[2]

        # a wrong secret and a wrong CA digest are refused with dockerd's texts
        wrong = w1.docker("swarm", "join", "--token", token[:-1] + ("0" if token[-1] != "0" else "1"),
                          "--listen-addr", f"{h2}:2377", "--advertise-addr", h2, f"{h1}:2377")
        assert wrong.returncode == 1
        assert wrong.stderr.decode().strip() == ("Error response from daemon: rpc error: code = InvalidArgument desc = A valid "
                                        "join token is necessary to join this cluster")
        other_ca = token.replace(digest, "1kxftv4ofnc6mt30lmgipg6ngf9luhwqopfk1tz6bdmnkubg0e")
        wrong = w1.docker("swarm", "join", "--token", other_ca, f"{h1}:2377")
        assert "remote CA does not match fingerprint. Expected: " in wrong.stderr.decode()
        manager_token = manager.docker_ok("swarm", "join-token", "-q", "manager")
        refused_manager = w1.docker("swarm", "join", "--token", manager_token, f"{h1}:2377")
        assert refused_manager.returncode == 1 and "not supported yet" in refused_manager.stderr.decode()

        for d, ip, cli in ((w1, h2, w1.docker), (w2, h3, w2.cli)):  # the docker CLI, then dockyard's own
            joined = cli("swarm", "join", "--token", token, "--listen-addr", f"{ip}:2377", "--advertise-addr", ip,
                         f"{h1}:2377")
            assert joined.returncode == 0 and joined.stdout.decode() == "This node joined a swarm as a worker.\n"
            swarm_dir = d.data_root / "swarm"
            assert stat.S_IMODE(swarm_dir.stat().st_mode) == 0o700
            assert stat.S_IMODE((swarm_dir / "certificates" / "swarm-node.key").stat().st_mode) == 0o600
        again = w1.docker("swarm", "join", "--token", token, f"{h1}:2377")
        assert again.stderr.decode().strip() == ("Error response from daemon: This node is already part of a swarm. Use "
                                        "\"docker swarm leave\" to leave this swarm and join another one.")
        ids = {name: node_id(d) for name, d in (("manager", manager), ("w1", w1), ("w2", w2))}
        w1_id, w2_id = ids["w1"], ids["w2"]
        eventually("three Ready/Active nodes", lambda: set(nodes(manager).values()) == {("Ready", "Active")}
                   and len(nodes(manager)) == 3)
        # a worker: docker's 503 text, its docker info
        refused_ls = w1.docker("node", "ls")
        assert refused_ls.returncode == 1 and refused_ls.stderr.decode().strip() == ERR_WORKER
        worker_info = json.loads(w1.docker_ok("info", "--format", "{{json .Swarm}}"))
        assert worker_info["LocalNodeState"] == "active" and worker_info["ControlAvailable"] is False
        assert worker_info["NodeID"] == ids["w1"] and worker_info["NodeAddr"] == h2
        assert worker_info["RemoteManagers"] == [{"NodeID": ids["manager"], "Addr": f"{h1}:2377"}]
        assert "Is Manager: false" in w1.docker_ok("info")
        # node certificates: CN node id, OU role, O cluster id
        cert = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in",
                               str(w1.data_root / "swarm" / "certificates" / "swarm-node.crt")],
                              capture_output=True, text=True, check=True).stdout
        cluster_id = manager.docker_ok("info", "--format", "{{.Swarm.Cluster.ID}}")
        assert f"O = {cluster_id}" in cert and "OU = swarm-worker" in cert and f"CN = {w1_id}" in cert
        assert json.loads(manager.docker_ok("node", "inspect", w1_id))[0]["Description"]["TLSInfo"]["TrustRoot"] == (
            trust_root)
        # with a node certificate the session routes answer; a session id that is not the node's live one is gone
        certs = w1.data_root / "swarm" / "certificates"
        with entered(lan.switch):
            context = ssl.create_default_context(cafile=str(certs / "swarm-root-ca.crt"))
            context.check_hostname = False
            context.load_cert_chain(str(certs / "swarm-node.crt"), str(certs / "swarm-node.key"))
            for route in ("heartbeat", "status"):
                request = urllib.request.Request(f"https://{h1}:2377/swarmrpc/v1/{route}",
                                                 data=b'{"SessionID": "not-mine"}', method="POST")
                with pytest.raises(urllib.error.HTTPError) as gone:
                    urllib.request.urlopen(request, context=context, timeout=10)
                assert gone.value.code == 410
        # a live worker is not removed without --force
        live = manager.docker("node", "rm", ids["w1"])
        assert live.returncode == 1 and f"node {w1_id} is not down and can't be removed" in live.stderr.decode()

        manager.docker_ok("service", "create", "--detach", "--name", "spread", "--replicas", "6",
                          "--restart-delay", "1s", "busybox", "sleep", "1d")
        eventually("2/2/2", lambda: [len(running_tasks(d, "spread")) for d in daemons] == [2, 2, 2])

        # the worker's host dies: Down within three heartbeats and a second, its tasks run again elsewhere
        kill_host(w2)
        died = time.monotonic()
        eventually("w2 down", lambda: nodes(manager)[ids["w2"]][0] == "Down", deadline=10)
        assert time.monotonic() - died <= 3 * HEARTBEAT + 1 + 0.5  # + the polling's own `docker node ls`
        eventually("six tasks on the others",
                   lambda: len(running_tasks(manager, "spread")) + len(running_tasks(w1, "spread")) == 6)
        # it comes back: it is Ready again, the containers of the tasks moved off it are removed (their tasks stay as
        # history, shut down), nothing runs twice
        w2.start()
        eventually("w2 ready", lambda: nodes(manager)[ids["w2"]][0] == "Ready")
        eventually("w2 removed the moved tasks' containers", lambda: w2.docker_ok(
            "ps", "-aq", "--filter", "label=com.docker.swarm.service.name=spread") == "")
        history = lambda: manager.docker_ok("service", "ps", "spread", "--filter", f"node={ids['w2']}", "--format",
                                            "{{.DesiredState}} {{.CurrentState}}").splitlines()  # noqa: E731
        eventually("their tasks are history on w2, shut down", lambda: len(history()) == 2 and all(
            line.startswith("Shutdown Shutdown") for line in history()))
        total = sum(len(running_tasks(d, "spread")) for d in daemons)
        assert total == 6

        # a worker daemon restarting keeps its tasks running and re-opens its session with its stored certificate
        manager.docker_ok("swarm", "update", "--dispatcher-heartbeat", "5s")  # the restart takes longer than 3 s
        before = running_tasks(w1, "spread")
        w1.stop()
        assert running_tasks(manager, "spread") and w1.process is None
        w1.start()
        eventually("w1 ready again", lambda: nodes(manager)[w1_id] == ("Ready", "Active"))
        time.sleep(1)  # a session's first set is applied: nothing was replaced
        assert running_tasks(w1, "spread") == before
        assert sum(len(running_tasks(d, "spread")) for d in daemons) == 6
        # so does the manager's: its listener opens again, the workers' sessions come back, nothing is replaced
        everywhere = [running_tasks(d, "spread") for d in daemons]
        manager.stop()
        manager.start()
        eventually("workers back", lambda: set(nodes(manager).values()) == {("Ready", "Active")})
        time.sleep(1)
        assert [running_tasks(d, "spread") for d in daemons] == everywhere
        manager.docker_ok("swarm", "update", "--dispatcher-heartbeat", f"{int(HEARTBEAT)}s")
        time.sleep(5 + 0.5)  # each worker's next beat (due within the old 5 s period) learns the new period

        # a worker leaves without --force: its task containers and its swarm files go
        w1_tasks = running_tasks(w1, "spread")
        assert w1_tasks
        assert w1.docker_ok("swarm", "leave") == "Node left the swarm."
        assert w1.docker_ok("ps", "-aq", "--filter", "label=com.docker.swarm.service.name=spread") == ""
        assert not (w1.data_root / "swarm").exists()
        assert w1.docker_ok("info", "--format", "{{.Swarm.LocalNodeState}}") == "inactive"
        eventually("w1 down", lambda: nodes(manager)[ids["w1"]][0] == "Down", deadline=10)
        manager.docker_ok("node", "rm", ids["w1"])
        assert ids["w1"] not in nodes(manager)
        manager.docker_ok("service", "rm", "spread")
        w2.docker_ok("swarm", "leave")
        manager.docker_ok("swarm", "leave", "--force")
        with entered(lan.switch), pytest.raises(ConnectionRefusedError):
            socket.create_connection((h1, 2377), timeout=5)  # the swarm listener closed with the swarm
