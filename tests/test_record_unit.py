"""The typed container record: it reads back what the store keeps, renders docker's inspect JSON, and a
misspelt field is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.containers.record import ContainerRecord, clear_network, mark_exited, mark_running, new_record
from dockyard.containers.views import inspect_view, status_text, summary
from dockyard.metadata.db import dumps, loads


def _record(tmp_path: Path) -> ContainerRecord:
    return new_record("c" * 64, "/web", {"Image": "busybox", "Hostname": "h", "Labels": {"a": "b"}},
                      {"NetworkMode": "bridge", "AutoRemove": False}, "sha256:" + "1" * 64, "sh", ["-c", "true"],
                      tmp_path)


def test_inspect_keys_in_dockers_order(tmp_path: Path) -> None:
    out = inspect_view(_record(tmp_path), (1, 2))
    assert list(out) == ["Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath",
                         "HostsPath", "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel",
                         "ProcessLabel", "AppArmorProfile", "ExecIDs", "HostConfig", "GraphDriver", "Mounts",
                         "Config", "NetworkSettings", "SizeRw", "SizeRootFs"]
    assert list(out["State"]) == ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                                  "ExitCode", "Error", "StartedAt", "FinishedAt"]
    assert out["NetworkSettings"]["SecondaryIPAddresses"] is None and out["ExecIDs"] is None
    assert out["LogPath"] == str(tmp_path / f"{'c' * 64}-json.log")


def test_stored_json_round_trips(tmp_path: Path) -> None:
    doc = _record(tmp_path)
    mark_running(doc, 42)
    doc.manually_stopped = False
    doc.state.health = {"Status": "starting", "FailingStreak": 0, "Log": []}
    stored = loads(dumps(doc.to_json()))  # what the store writes: keys sorted
    again = ContainerRecord.from_json(stored)
    assert again == doc and again.to_json() == stored
    assert list(again.to_json())[-1] == "HasBeenManuallyStopped" and list(again.to_json()["State"])[-1] == "Health"


def test_optional_fields_stay_out_until_set(tmp_path: Path) -> None:
    out = _record(tmp_path).to_json()
    assert "HasBeenManuallyStopped" not in out and "Health" not in out["State"]


def test_misspelt_names_are_errors(tmp_path: Path) -> None:
    doc = _record(tmp_path)
    with pytest.raises(AttributeError):
        getattr(doc.state, "runing")
    with pytest.raises(KeyError):
        doc.network_settings.apply({"IPAdress": "10.0.0.2"})
    with pytest.raises(KeyError):
        ContainerRecord.from_json({k: v for k, v in doc.to_json().items() if k != "State"})


def test_to_json_is_a_copy(tmp_path: Path) -> None:
    doc = _record(tmp_path)
    doc.to_json()["Config"]["Labels"]["a"] = "changed"
    assert doc.config["Labels"] == {"a": "b"} and doc.copy() == doc and doc.copy().config is not doc.config


def test_state_changes_and_summary(tmp_path: Path) -> None:
    doc = _record(tmp_path)
    doc.network_settings.apply({"SandboxKey": "/run/netns/x", "IPAddress": "172.17.0.2",
                                "Ports": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                                "Networks": {"bridge": {"IPAddress": "172.17.0.2", "EndpointID": "e"}}})
    mark_running(doc, 7)
    entry = summary(doc)
    assert entry["State"] == "running" and entry["Status"].startswith("Up ") and entry["Names"] == ["/web"]
    assert entry["Ports"] == [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
    mark_exited(doc, 3, "2026-01-01T00:00:00Z", False)
    clear_network(doc)
    assert doc.state.pid == 0 and status_text(doc.state).startswith("Exited (3) ")
    assert doc.network_settings.ip_address == "" and doc.network_settings.ports == {}
    assert doc.network_settings.networks == {"bridge": {"IPAddress": "", "EndpointID": "", "Gateway": "",
                                                        "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                                                        "GlobalIPv6PrefixLen": 0, "DNSNames": None}}


def test_mount_points_keep_dockers_shapes(tmp_path: Path) -> None:
    volume = {"Type": "volume", "Name": "v", "Source": "/var/lib/v/_data", "Destination": "/data", "Driver": "local",
              "Mode": "z", "RW": True, "Propagation": ""}
    bind = {"Type": "bind", "Source": "/h", "Destination": "/b", "Mode": "", "RW": False, "Propagation": "rprivate"}
    stored = dict(_record(tmp_path).to_json(), Mounts=[volume, bind])
    doc = ContainerRecord.from_json(stored)
    assert [m.volume for m in doc.mounts] == ["v", None]
    assert [list(m) for m in doc.to_json()["Mounts"]] == [list(volume), list(bind)]
    assert summary(doc)["Mounts"] == [volume, bind]
