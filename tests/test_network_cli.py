"""`dockyard network ...` against the daemon: create, ls, inspect, connect, disconnect, rm, prune."""

from __future__ import annotations

import json

from daemon_harness import Daemon
from helpers import ok, unique


def test_network_commands(clean: Daemon) -> None:
    name, box = unique("cli"), unique("box")
    net_id = ok(clean.cli("network", "create", "--subnet", "10.213.0.0/24", "--label", "k=v", name))
    try:
        listed = ok(clean.cli("network", "ls", "--filter", f"name={name}", "--format", "{{.Name}} {{.Driver}}"))
        assert listed == f"{name} bridge"
        doc = json.loads(ok(clean.cli("network", "inspect", name)))[0]
        assert doc["Id"] == net_id and doc["IPAM"]["Config"][0] == {"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.1"}
        assert ok(clean.cli("network", "inspect", "-f", "{{.Labels.k}}", name)) == "v"
        ok(clean.docker("run", "-d", "--name", box, "busybox", "sleep", "60"))
        ok(clean.cli("network", "connect", "--ip", "10.213.0.50", "--alias", "boxy", name, box))
        doc = json.loads(ok(clean.cli("network", "inspect", name)))[0]
        assert [c["IPv4Address"] for c in doc["Containers"].values()] == ["10.213.0.50/24"]
        ok(clean.cli("network", "disconnect", name, box))
        assert json.loads(ok(clean.cli("network", "inspect", name)))[0]["Containers"] == {}
    finally:
        clean.docker("rm", "-f", box)
    assert name in ok(clean.cli("network", "prune", "-f"))
    assert clean.cli("network", "inspect", name).returncode != 0
