"""Swarm mode, part 1 (one manager on etcd): /swarm, /nodes, /secrets, /configs and /info's Swarm section through the
Docker SDK for Python and the real docker CLI, with dockerd's shapes, statuses and texts; the etcd member survives a
daemon SIGKILL and `swarm leave --force` leaves nothing of it behind."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import Daemon, destroy
from helpers import wait_for

docker = pytest.importorskip("docker")

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
               'node to swarm and try again.')
LOCKED = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to '
          'unlock it.')
TOKEN = re.compile(r"SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}\Z")


def etcd_pid(d: Daemon) -> int | None:
    """The etcd member's pid from the daemon's pid file, when there is one."""
    path = d.exec_root / "swarm" / "etcd.pid"
    return int(path.read_text()) if path.exists() else None


def alive(pid: int) -> bool:
    """Whether a process (not a zombie) runs."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def swarm_daemon() -> Iterator[Daemon]:
    """A daemon of this module's own; whatever swarm a test leaves is left with force, and its etcd is gone."""
    d = Daemon(Path(tempfile.mkdtemp(prefix="dy-swarm-")))
    d.start()
    try:
        yield d
    finally:
        try:
            if d.process is None:
                d.start()
            d.request("POST", "/swarm/leave?force=1")
        finally:
            pid = etcd_pid(d)
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)
            destroy(d)


@pytest.fixture
def sd(swarm_daemon: Daemon) -> Iterator[Daemon]:
    """The module's daemon, outside any swarm before and after the test."""
    yield swarm_daemon
    if swarm_daemon.process is None:
        swarm_daemon.start()
    swarm_daemon.request("POST", "/swarm/leave?force=1")
    assert not (swarm_daemon.data_root / "swarm").exists()


@pytest.fixture
def client(sd: Daemon) -> Iterator[object]:
    c = docker.DockerClient(base_url=sd.host, version="1.45")
    yield c
    c.close()


def quote_filters(filters: dict) -> str:
    """A filters query value."""
    return urllib.parse.quote(json.dumps(filters))


def error_of(d: Daemon, method: str, path: str, body: object = None) -> tuple[int, str]:
    """Status and message of a request that must fail."""
    status, raw = d.request(method, path, body)
    assert status >= 400, (method, path, raw)
    return status, json.loads(raw)["message"]


def test_outside_a_swarm_manager_routes_answer_503(sd: Daemon) -> None:
    for method, path in (("GET", "/swarm"), ("GET", "/nodes"), ("GET", "/secrets"), ("GET", "/configs"),
                         ("GET", "/swarm/unlockkey"), ("POST", "/swarm/update?version=1")):
        assert error_of(sd, method, path) == (503, NOT_MANAGER)
    assert error_of(sd, "POST", "/swarm/leave") == (503, "This node is not part of a swarm")
    assert error_of(sd, "POST", "/swarm/unlock", {"UnlockKey": "x"}) == (503, NOT_MANAGER)
    assert error_of(sd, "POST", "/swarm/join", {"RemoteAddrs": ["127.0.0.1:2377"], "JoinToken": "x"}) == (
        400, 'invalid ListenAddr "": invalid empty address')
    assert error_of(sd, "POST", "/swarm/join", {"ListenAddr": "0.0.0.0:2377", "JoinToken": "x"}) == (
        400, "at least 1 RemoteAddr is required to join")
    assert error_of(sd, "POST", "/swarm/join", {"ListenAddr": "0.0.0.0:2377", "RemoteAddrs": ["127.0.0.1:2377"],
                                                "JoinToken": "x"}) == (400, "invalid join token")
    assert sd.api("GET", "/info")["Swarm"] == {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                                               "ControlAvailable": False, "Error": "", "RemoteManagers": None}
    result = sd.docker("node", "ls")
    assert result.returncode == 1 and result.stderr.decode() == f"Error response from daemon: {NOT_MANAGER}\n"


def test_init_is_refused_when_the_listen_address_is_taken(sd: Daemon) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        assert error_of(sd, "POST", "/swarm/init", {"ListenAddr": f"127.0.0.1:{port}", "AdvertiseAddr": "127.0.0.1"}) == (
            500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
    finally:
        taken.close()
    assert sd.api("GET", "/info")["Swarm"]["LocalNodeState"] == "inactive"
    assert not (sd.data_root / "swarm").exists() and etcd_pid(sd) is None


def test_init_defaults_tokens_nodes_and_info_through_the_sdk(sd: Daemon, client) -> None:
    node_id = client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:4567")
    attrs = client.swarm.attrs
    assert attrs["Spec"] == {
        "Name": "default", "Labels": {}, "Orchestration": {"TaskHistoryRetentionLimit": 5},
        "Raft": {"SnapshotInterval": 10000, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
                 "ElectionTick": 10, "HeartbeatTick": 1},
        "Dispatcher": {"HeartbeatPeriod": 5000000000}, "CAConfig": {"NodeCertExpiry": 7776000000000000},
        "TaskDefaults": {}, "EncryptionConfig": {"AutoLockManagers": False}}
    assert attrs["DefaultAddrPool"] == ["10.0.0.0/8"] and attrs["SubnetSize"] == 24 and attrs["DataPathPort"] == 4789
    assert attrs["TLSInfo"]["TrustRoot"].startswith("-----BEGIN CERTIFICATE-----")
    tokens = attrs["JoinTokens"]
    assert TOKEN.match(tokens["Worker"]) and TOKEN.match(tokens["Manager"]) and tokens["Worker"] != tokens["Manager"]
    assert tokens["Worker"].split("-")[2] == tokens["Manager"].split("-")[2]  # the same CA digest
    [node] = client.nodes.list()
    assert node.id == node_id
    assert node.attrs["Spec"] == {"Labels": {}, "Role": "manager", "Availability": "active"}
    assert node.attrs["Status"] == {"State": "ready", "Addr": "127.0.0.1"}
    assert node.attrs["Description"]["TLSInfo"] == attrs["TLSInfo"]
    assert client.nodes.get(node.attrs["Description"]["Hostname"]).id == node_id
    assert node.attrs["ManagerStatus"] == {"Leader": True, "Reachability": "reachable", "Addr": "127.0.0.1:4567"}
    assert client.nodes.get(node_id).attrs["Version"] == node.attrs["Version"]
    swarm_info = client.info()["Swarm"]
    assert {k: swarm_info[k] for k in ("NodeID", "NodeAddr", "LocalNodeState", "ControlAvailable", "Nodes",
                                       "Managers")} == {"NodeID": node_id, "NodeAddr": "127.0.0.1",
                                                        "LocalNodeState": "active", "ControlAvailable": True,
                                                        "Nodes": 1, "Managers": 1}
    assert swarm_info["Cluster"]["ID"] == attrs["ID"] and "JoinTokens" not in swarm_info["Cluster"]
    assert error_of(sd, "POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "127.0.0.1"}) == (
        503, 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another '
             'one.')
    assert error_of(sd, "POST", "/swarm/leave") == (
        503, "You are attempting to leave the swarm on a node that is participating as a manager. Removing the last "
             "manager erases all current state of the swarm. Use `--force` to ignore this message. ")
    assert client.swarm.leave(force=True)
    assert error_of(sd, "GET", "/swarm") == (503, NOT_MANAGER)


def test_init_validation_and_custom_spec_round_trip(sd: Daemon, client) -> None:
    assert error_of(sd, "POST", "/swarm/init", {"ListenAddr": "", "AdvertiseAddr": "127.0.0.1"}) == (
        400, 'invalid ListenAddr "": invalid empty address')
    assert error_of(sd, "POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "0.0.0.0"}) == (
        400, "advertise address must be a non-zero IP address or network interface (with optional port number)")
    assert error_of(sd, "POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "127.0.0.1",
                                                "Spec": {"Name": "other"}}) == (
        400, 'swarm spec must be named "default"')
    assert error_of(sd, "POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "127.0.0.1",
                                                "DataPathPort": 80}) == (
        400, "Datapath port number is not in valid range (1024-49151) : 80")
    assert not (sd.data_root / "swarm").exists()
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377", task_history_retention_limit=10,
                      snapshot_interval=5000,
                      dispatcher_heartbeat_period=2000000000, node_cert_expiry=3600000000000,
                      default_addr_pool=["10.20.0.0/16"], subnet_size=26, data_path_port=7789,
                      labels={"team": "core"})
    attrs = client.swarm.attrs
    assert attrs["Spec"] == {
        "Name": "default", "Labels": {"team": "core"}, "Orchestration": {"TaskHistoryRetentionLimit": 10},
        "Raft": {"SnapshotInterval": 5000, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
                 "ElectionTick": 10, "HeartbeatTick": 1},
        "Dispatcher": {"HeartbeatPeriod": 2000000000}, "CAConfig": {"NodeCertExpiry": 3600000000000},
        "TaskDefaults": {}, "EncryptionConfig": {"AutoLockManagers": False}}
    assert (attrs["DefaultAddrPool"], attrs["SubnetSize"], attrs["DataPathPort"]) == (["10.20.0.0/16"], 26, 7789)


def test_update_merges_rotates_tokens_and_checks_the_version(sd: Daemon, client) -> None:
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    before = client.swarm.attrs
    assert client.swarm.update(rotate_worker_token=True, task_history_retention_limit=7)
    client.swarm.reload()
    after = client.swarm.attrs
    assert after["Version"]["Index"] > before["Version"]["Index"]
    assert after["JoinTokens"]["Worker"] != before["JoinTokens"]["Worker"]
    assert after["JoinTokens"]["Manager"] == before["JoinTokens"]["Manager"]
    assert after["Spec"] == {**before["Spec"], "Orchestration": {"TaskHistoryRetentionLimit": 7}}
    stale = before["Version"]["Index"]
    status, message = error_of(sd, "POST", f"/swarm/update?version={stale}", before["Spec"])
    assert status == 500 and message.endswith("update out of sequence")
    assert client.swarm.attrs["Spec"]["Orchestration"] == {"TaskHistoryRetentionLimit": 7}
    assert error_of(sd, "POST", "/swarm/update", before["Spec"]) == (
        400, """invalid swarm version '': strconv.ParseUint: parsing "": invalid syntax""")
    node_id = client.nodes.list()[0].id
    assert error_of(sd, "POST", f"/nodes/{node_id}/update?version=-1", {"Role": "manager"}) == (
        400, """invalid node version '-1': strconv.ParseUint: parsing "-1": invalid syntax""")
    secret = client.secrets.create(name="v", data="x")
    assert error_of(sd, "POST", f"/secrets/{secret.id}/update", {"Name": "v"}) == (400, "invalid secret version")


def test_node_update_round_trips_the_spec_and_refusals(sd: Daemon, client) -> None:
    node_id = client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    node = client.nodes.get(node_id)
    spec = {"Name": "n1", "Labels": {"zone": "a", "disk": "ssd"}, "Role": "manager", "Availability": "drain"}
    assert node.update(spec)
    node.reload()
    assert node.attrs["Spec"] == spec
    [event] = [e for e in client.events(since=int(time.time()) - 60, until=int(time.time()) + 1, decode=True,
                                        filters={"type": "node", "event": "update"})
               if e["Actor"]["ID"] == node_id]
    assert event["Actor"] == {"ID": node_id, "Attributes": {"name": "n1", "availability.old": "active",
                                                            "availability.new": "drain"}}
    assert [n.id for n in client.nodes.list(filters={"node.label": "zone=a"})] == [node_id]
    assert client.nodes.list(filters={"node.label": "zone=b"}) == []
    assert [n.id for n in client.nodes.list(filters={"role": "manager"})] == [node_id]
    assert client.nodes.list(filters={"role": "worker"}) == []
    assert error_of(sd, "GET", "/nodes?filters=" + quote_filters({"role": ["boss"]})) == (
        400, "Invalid role filter: 'boss'")
    assert error_of(sd, "GET", "/nodes?filters=" + quote_filters({"colour": ["red"]})) == (400, "invalid filter 'colour'")
    status, message = error_of(sd, "POST", f"/nodes/{node_id}/update?version=1", spec)
    assert status == 500 and message.endswith("update out of sequence")
    version = node.attrs["Version"]["Index"]
    assert error_of(sd, "POST", f"/nodes/{node_id}/update?version={version}", {**spec, "Role": "worker"}) == (
        400, "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm")
    assert error_of(sd, "POST", f"/nodes/{node_id}/update?version={version}", {**spec, "Role": "boss"})[0] == 400
    for force in ("", "?force=1"):
        status, message = error_of(sd, "DELETE", f"/nodes/{node_id}{force}")
        assert status == 400 and "must be demoted to worker before removal" in message
    assert error_of(sd, "GET", "/nodes/nosuchnode") == (404, "node nosuchnode not found")
    assert client.nodes.get("n1").id == node_id  # by the spec's name
    assert error_of(sd, "DELETE", "/nodes/nosuchnode") == (404, "node nosuchnode not found")


def test_secrets_and_configs_through_the_sdk(sd: Daemon, client) -> None:
    started = int(time.time())
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    plaintext = "sécret-plaintext-4711"
    secret = client.secrets.create(name="db-pass", data=plaintext, labels={"app": "db"})
    attrs = client.secrets.get(secret.id).attrs
    assert attrs["Spec"] == {"Name": "db-pass", "Labels": {"app": "db"}}  # never Data
    assert client.secrets.get("db-pass").id == secret.id and client.secrets.get(secret.id[:6]).id == secret.id
    config = client.configs.create(name="web.conf", data="listen 80\n", labels={"app": "web"},
                                   templating={"Name": "golang"})
    assert client.configs.get(config.id).attrs["Spec"] == {
        "Name": "web.conf", "Labels": {"app": "web"}, "Data": base64.b64encode(b"listen 80\n").decode(),
        "Templating": {"Name": "golang"}}
    assert [s.id for s in client.secrets.list(filters={"names": ["db-pass"]})] == [secret.id]
    assert client.secrets.list(filters={"names": ["db"]}) == []
    assert [s.id for s in client.secrets.list(filters={"name": "db"})] == [secret.id]
    assert [s.id for s in client.secrets.list(filters={"label": "app=db"})] == [secret.id]
    assert [c.id for c in client.configs.list(filters={"name": "web"})] == [config.id]
    assert error_of(sd, "GET", "/configs?filters=" + quote_filters({"names": ["x"]})) == (400, "invalid filter 'names'")
    status, message = error_of(sd, "POST", "/secrets/create", {"Name": "db-pass", "Data": "eA=="})
    assert (status, message) == (409, "rpc error: code = AlreadyExists desc = secret db-pass already exists")
    assert error_of(sd, "POST", "/secrets/create", {"Name": "-bad", "Data": "eA=="})[0] == 400
    assert error_of(sd, "POST", "/configs/create", {"Name": "empty"}) == (
        400, "rpc error: code = InvalidArgument desc = config data must be larger than 0 and less than 1000 KB")
    version = attrs["Version"]["Index"]
    sd.api("POST", f"/secrets/{secret.id}/update?version={version}", {"Name": "db-pass", "Labels": {"v": "2"}})
    assert client.secrets.get(secret.id).attrs["Spec"]["Labels"] == {"v": "2"}
    assert error_of(sd, "POST", f"/secrets/{secret.id}/update?version={version}",
                    {"Name": "db-pass", "Labels": {}})[1].endswith("update out of sequence")
    newer = client.secrets.get(secret.id).attrs["Version"]["Index"]
    assert error_of(sd, "POST", f"/secrets/{secret.id}/update?version={newer}", {"Name": "renamed"}) == (
        400, "rpc error: code = InvalidArgument desc = only updates to Labels are allowed")
    stored = b"".join(p.read_bytes() for p in (sd.data_root / "swarm").rglob("*") if p.is_file())
    assert plaintext.encode() not in stored and base64.b64encode(plaintext.encode()) not in stored
    assert b"db-pass" in stored  # the store was searched: its names are there, its secret values are not
    secret.remove()
    assert error_of(sd, "GET", f"/secrets/{secret.id}") == (404, f"secret {secret.id} not found")
    with pytest.raises(docker.errors.NotFound):
        client.configs.get("nosuch")
    config.remove()
    assert client.secrets.create(name="db-pass", data="again").id  # the name is free again
    seen = [(e["Type"], e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"], e["scope"])
            for e in client.events(since=started, until=int(time.time()) + 1, decode=True,
                                   filters={"scope": "swarm", "type": ["secret", "config"]})]
    assert seen[:4] == [("secret", "create", secret.id, {"name": "db-pass"}, "swarm"),
                        ("config", "create", config.id, {"name": "web.conf"}, "swarm"),
                        ("secret", "update", secret.id, {"name": "db-pass"}, "swarm"),
                        ("secret", "remove", secret.id, {"name": "db-pass"}, "swarm")]


def test_autolock_keeps_a_restarted_manager_locked_until_unlock(sd: Daemon, client) -> None:
    client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377", autolock_managers=True)
    key = client.swarm.get_unlock_key()["UnlockKey"]
    assert re.fullmatch(r"SWMKEY-1-[A-Za-z0-9+/]{43}", key)
    secret = client.secrets.create(name="kept", data="value")
    assert error_of(sd, "POST", "/swarm/unlock", {"UnlockKey": key}) == (409, "swarm is not locked")
    pid = etcd_pid(sd)
    assert pid is not None
    sd.stop(signal.SIGKILL)
    assert alive(pid)
    sd.start()
    assert etcd_pid(sd) == pid  # re-adopted, not restarted
    assert sd.api("GET", "/info")["Swarm"]["LocalNodeState"] == "locked"
    assert error_of(sd, "GET", "/secrets") == (503, LOCKED)
    assert error_of(sd, "POST", "/swarm/unlock", {"UnlockKey": "SWMKEY-1-" + "A" * 43}) == (
        401, "swarm could not be unlocked: invalid key provided")
    assert error_of(sd, "POST", "/swarm/unlock", {"UnlockKey": "nope"}) == (400, "invalid key string")
    assert error_of(sd, "POST", "/swarm/leave") == (
        503, "Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message.")
    client.swarm.unlock(key)
    assert sd.api("GET", "/info")["Swarm"]["LocalNodeState"] == "active"
    assert client.secrets.get("kept").id == secret.id
    sd.stop()  # a clean stop locks it as well; both CLIs read the key from stdin
    sd.start()
    assert sd.docker("swarm", "unlock", input=b"SWMKEY-1-" + b"B" * 43 + b"\n").stderr == \
        b"Error response from daemon: swarm could not be unlocked: invalid key provided\n"
    result = sd.cli("swarm", "unlock", input=key.encode() + b"\n")
    assert result.returncode == 0, result.stderr
    assert sd.cli("swarm", "unlock", input=key.encode()).stderr == b"error: swarm is not locked\n"
    client.swarm.reload()
    assert client.swarm.update(rotate_manager_unlock_key=True, autolock_managers=True)  # the SDK sends no
    # EncryptionConfig unless asked, and dockerd reads its absence as autolock off
    assert client.swarm.get_unlock_key()["UnlockKey"] not in ("", key)
    client.swarm.reload()
    client.swarm.update(autolock_managers=False)
    assert client.swarm.get_unlock_key() == {"UnlockKey": ""}


def test_sigkilled_daemon_readopts_etcd_and_forced_leave_leaves_nothing(sd: Daemon) -> None:
    sd.docker_ok("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    node_id = sd.docker_ok("info", "--format", "{{.Swarm.NodeID}}")
    pid = etcd_pid(sd)
    assert pid is not None and alive(pid)
    assert os.getsid(pid) == pid  # its own session: not the daemon's
    sd.stop(signal.SIGKILL)
    sd.start()
    assert etcd_pid(sd) == pid and alive(pid)
    assert sd.docker_ok("node", "ls", "--format", "{{.ID}} {{.ManagerStatus}}") == f"{node_id} Leader"
    sd.stop()  # a clean daemon stop keeps the member running too
    assert alive(pid)
    sd.start()
    os.kill(pid, signal.SIGKILL)  # a member that dies under a running daemon is started again on its data
    wait_for(lambda: etcd_pid(sd) not in (None, pid) and sd.docker("node", "ls").returncode == 0, timeout=30,
             what="a new etcd member answering")
    pid = etcd_pid(sd)
    assert pid is not None and alive(pid) and node_id in sd.docker_ok("node", "ls", "-q")
    assert sd.docker_ok("swarm", "leave", "--force") == "Node left the swarm."
    assert not alive(pid)
    assert not (sd.data_root / "swarm").exists() and not (sd.exec_root / "swarm").exists()
    for _ in range(3):  # init/leave repeat cleanly
        sd.docker_ok("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:4577")
        sd.docker_ok("swarm", "leave", "--force")
    assert not (sd.data_root / "swarm").exists()


def test_docker_cli_swarm_node_secret_config(sd: Daemon) -> None:
    out = sd.docker_ok("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    assert "Swarm initialized: current node (" in out and "docker swarm join --token SWMTKN-1-" in out
    assert "127.0.0.1:2377" in out
    assert TOKEN.match(sd.docker_ok("swarm", "join-token", "-q", "worker"))
    node_id = sd.docker_ok("info", "--format", "{{.Swarm.NodeID}}")
    assert sd.docker_ok("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}") == \
        "active true"
    rows = sd.docker_ok("node", "ls").splitlines()
    assert rows[0].split() == ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER", "STATUS", "ENGINE", "VERSION"]
    assert rows[1].split()[:2] == [node_id, "*"] and rows[1].split()[3:6] == ["Ready", "Active", "Leader"]
    sd.docker_ok("node", "update", "--label-add", "zone=a", "--availability", "pause", node_id)
    assert sd.docker_ok("node", "inspect", "--format", "{{json .Spec}}", "self") == \
        '{"Labels":{"zone":"a"},"Role":"manager","Availability":"pause"}'
    result = sd.docker("node", "demote", node_id)
    assert result.returncode == 1 and b"attempting to demote the last manager" in result.stderr
    result = sd.docker("node", "rm", node_id)
    assert result.returncode == 1 and b"must be demoted to worker before removal" in result.stderr
    sd.docker_ok("swarm", "update", "--task-history-limit", "3")
    assert sd.docker_ok("info", "--format", "{{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}") == "3"
    secret_id = subprocess.run(["docker", "secret", "create", "--label", "a=b", "pw", "-"], input=b"hunter2",
                               env=sd.env(), capture_output=True, check=True).stdout.decode().strip()
    assert sd.docker_ok("secret", "ls", "--format", "{{.ID}} {{.Name}}") == f"{secret_id} pw"
    assert "Data" not in json.loads(sd.docker_ok("secret", "inspect", "pw"))[0]["Spec"]
    result = sd.docker("secret", "create", "pw", "-", input=b"x")
    assert result.returncode == 1 and b"secret pw already exists" in result.stderr
    assert sd.docker("config", "create", "cfg", "-", input=b"data").returncode == 0
    assert sd.docker_ok("config", "inspect", "--format", "{{printf \"%s\" .Spec.Data}}", "cfg") == "data"
    assert sd.docker_ok("secret", "rm", "pw") == "pw" and sd.docker_ok("config", "rm", "cfg") == "cfg"
    result = sd.docker("secret", "inspect", "pw")
    assert result.returncode == 1 and b"secret pw not found" in result.stderr
    result = sd.docker("swarm", "unlock-key")
    assert result.returncode == 1 and b"no unlock key is set" in result.stderr
    result = sd.docker("swarm", "leave")
    assert result.returncode == 1 and b"Removing the last manager erases all current state" in result.stderr
    assert sd.docker_ok("swarm", "leave", "--force") == "Node left the swarm."


def test_dockyard_cli_matches_docker_cli(sd: Daemon) -> None:
    def both(*args: str, input: bytes | None = None) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
        return sd.cli(*args, input=input), sd.docker(*args, input=input)

    init = sd.cli("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377", "--autolock", "--task-history-limit", "4")
    assert init.returncode == 0, init.stderr
    text = init.stdout.decode()
    assert text.startswith("Swarm initialized: current node (") and "docker swarm join --token SWMTKN-1-" in text
    assert "To unlock a swarm manager after it restarts, run the `docker swarm unlock`" in text
    assert "SWMKEY-1-" in text
    assert sd.docker_ok("info", "--format", "{{.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit}}") == "4"
    ours, theirs = both("info")
    swarm_section = re.compile(r"^ Swarm: .*?(?=^ Runtimes:)", re.S | re.M)
    our_section = swarm_section.search(ours.stdout.decode())
    their_section = swarm_section.search(theirs.stdout.decode())
    assert our_section and their_section and our_section.group() == their_section.group()
    assert "  Is Manager: true\n" in our_section.group() and "   Expiry Duration: 3 months\n" in our_section.group()
    for args in (("node", "ls"), ("node", "ls", "-q"), ("node", "ls", "--filter", "role=manager"),
                 ("swarm", "join-token", "worker"), ("swarm", "join-token", "-q", "manager"),
                 ("swarm", "unlock-key"), ("swarm", "unlock-key", "-q"),
                 ("node", "inspect", "--format", "{{.Spec.Role}} {{.Status.State}}", "self")):
        ours, theirs = both(*args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), args
    node_id = sd.docker_ok("info", "--format", "{{.Swarm.NodeID}}")
    assert sd.cli("node", "update", "--label-add", "zone=b", "--availability", "drain", "self").stdout == b"self\n"
    assert sd.docker_ok("node", "inspect", "--format", "{{json .Spec}}", node_id) == \
        '{"Labels":{"zone":"b"},"Role":"manager","Availability":"drain"}'
    assert sd.cli("node", "promote", node_id).stdout.decode() == f"Node {node_id} is already a manager.\n"
    ours, theirs = both("node", "demote", node_id)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) and ours.returncode == 1
    ours, theirs = both("node", "rm", node_id)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) and ours.returncode == 1
    created = sd.cli("secret", "create", "--label", "a=b", "pw", "-", input=b"hunter2")
    assert created.returncode == 0 and len(created.stdout.strip()) == 25
    assert sd.cli("config", "create", "cfg", "-", input=b"data").returncode == 0
    for args in (("secret", "ls"), ("secret", "ls", "--filter", "label=a=b", "-q"), ("config", "ls"),
                 ("secret", "inspect", "pw"), ("config", "inspect", "--format", "{{.Spec.Name}}", "cfg"),
                 ("secret", "inspect", "nosuch"), ("secret", "create", "pw", "-")):
        ours, theirs = both(*args, input=b"x")
        assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr), args
    assert sd.cli("secret", "rm", "pw", "nosuch").returncode == 1
    assert sd.cli("config", "rm", "cfg").stdout == b"cfg\n"
    assert sd.cli("swarm", "update", "--autolock=false").stdout == b"Swarm updated.\n"
    ours, theirs = both("swarm", "unlock-key")
    assert ours.returncode == theirs.returncode == 1 and ours.stderr == theirs.stderr
    ours, theirs = both("swarm", "leave")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) and ours.returncode == 1
    assert sd.cli("swarm", "leave", "--force").stdout == b"Node left the swarm.\n"
    ours, theirs = both("node", "ls")
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (1, (
        f"Error response from daemon: {NOT_MANAGER}\n").encode())


class OwnNetnsDaemon(Daemon):
    """A daemon in a network namespace of its own holding loopback and the veth pair `setup` makes."""

    setup = ""

    def command(self) -> list[str]:
        script = f'ip link set lo up && {self.setup} && exec "$@"'
        return ["unshare", "--net", "--", "sh", "-c", script, "sh", *super().command()]


@pytest.mark.parametrize("addresses, expected", [
    (["192.168.77.1/24"], "192.168.77.1"),
    (["192.168.77.1/24", "192.168.78.1/24"], None),
])
def test_init_without_advertise_address_picks_the_one_system_address(addresses: list[str], expected: str | None) \
        -> None:
    d = OwnNetnsDaemon(Path(tempfile.mkdtemp(prefix="dy-swarm-netns-")))
    ends = [("eth7", "peer7"), ("eth8", "peer8")][:len(addresses)]
    d.setup = " && ".join(f"ip link add {a} type veth peer name {b} && ip addr add {addr} dev {a} && "
                          f"ip link set {a} up" for (a, b), addr in zip(ends, addresses))
    d.start()
    try:
        status, raw = d.request("POST", "/swarm/init", {"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": ""})
        if expected is None:
            assert (status, json.loads(raw)["message"]) == (
                400, "could not choose an IP address to advertise since this system has multiple addresses on "
                     "different interfaces (192.168.77.1 on eth7 and 192.168.78.1 on eth8)")
            result = d.docker("swarm", "init")
            assert result.returncode == 1 and result.stderr.decode().endswith(" - specify one with --advertise-addr\n")
        else:
            assert status == 200, raw
            assert d.api("GET", "/info")["Swarm"]["NodeAddr"] == expected
            assert d.api("GET", f"/nodes/{json.loads(raw)}")["ManagerStatus"]["Addr"] == f"{expected}:2377"
    finally:
        d.request("POST", "/swarm/leave?force=1")
        destroy(d)


def test_swarm_ca_shows_the_root_and_rotates_it(sd: Daemon) -> None:
    sd.docker_ok("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    root = sd.api("GET", "/swarm")["TLSInfo"]["TrustRoot"].strip()
    assert root.startswith("-----BEGIN CERTIFICATE-----")
    assert sd.docker_ok("swarm", "ca") == root
    ours = sd.cli("swarm", "ca")
    assert ours.returncode == 0 and ours.stdout.decode() == root + "\n"
    for run in (sd.docker, sd.cli):
        result = run("swarm", "ca", "--cert-expiry", "48h")
        assert result.returncode == 1
        assert "`--cert-expiry` flag requires the `--rotate` flag to update the CA" in result.stderr.decode()
        result = run("swarm", "update", "--cert-expiry", "30m")
        assert result.returncode == 1
        assert result.stderr.decode().strip() == ("Error response from daemon: rpc error: code = InvalidArgument desc "
                                                  "= minimum certificate expiry time is: 1h0m0s")
    for run in (sd.docker, sd.cli):  # detached: the command returns at once, the one node then moves to the new root
        before = sd.api("GET", "/swarm")
        result = run("swarm", "ca", "--rotate", "-d")
        assert result.returncode == 0 and result.stdout == b"", result.stderr

        def rotated() -> bool:
            now = sd.api("GET", "/swarm")
            return (not now["RootRotationInProgress"] and now["TLSInfo"]["TrustRoot"] != before["TLSInfo"]["TrustRoot"]
                    and sd.api("GET", "/nodes")[0]["Description"]["TLSInfo"] == now["TLSInfo"])
        wait_for(rotated, timeout=30, what="the rotation")
        after = sd.api("GET", "/swarm")
        assert after["Spec"]["CAConfig"]["ForceRotate"] == before["Spec"]["CAConfig"].get("ForceRotate", 0) + 1
        for role in ("Worker", "Manager"):
            assert after["JoinTokens"][role].split("-")[2] != before["JoinTokens"][role].split("-")[2]
        assert sd.docker_ok("swarm", "ca") == after["TLSInfo"]["TrustRoot"].strip()
    sd.docker_ok("swarm", "leave", "--force")
