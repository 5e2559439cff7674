"""Managed plugins through the real docker CLI and the Docker SDK: create from a directory, list, inspect, set,
enable (the plugin runs from its own rootfs and listens on /run/docker/plugins/<socket>), disable, remove; a
volume plugin serving `docker volume create -d` and a container's mount; registry operations refused."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Iterator

import docker
import pytest

from daemon_harness import Daemon
from helpers import ok, tar_files, unique, wait_for
from host_probe import mounts_under
from plugin_helpers import CONFIG, SOCKET, build_plugin_dir


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_plugin_dir(tmp_path_factory.mktemp("plugin") / "dir")


@pytest.fixture
def plugin(clean: Daemon, plugin_dir: Path) -> Iterator[str]:
    """A plugin created from the test plugin's directory; removed (forced) afterwards, nothing of it left."""
    name = unique("dyplug")
    assert ok(clean.docker("plugin", "create", name, str(plugin_dir))) == name
    yield name
    clean.remove_all_containers()
    for volume in ok(clean.docker("volume", "ls", "-q", "--filter", f"driver={name}")).split():
        clean.docker("volume", "rm", "-f", volume)
    clean.docker("plugin", "rm", "-f", name)
    assert not mounts_under(clean.data_root / "plugins")
    assert not list((clean.exec_root / "plugins").iterdir())
    assert not list((clean.exec_root / "plugin-shims").iterdir())


def inspect_plugin(daemon: Daemon, name: str) -> dict:
    return json.loads(ok(daemon.docker("plugin", "inspect", name)))[0]


def shim_pid(daemon: Daemon, plugin_id: str) -> int:
    return int((daemon.exec_root / "plugin-shims" / plugin_id / "init.pid").read_text())


def test_create_gives_dockerds_plugin_object(clean: Daemon, plugin: str) -> None:
    found = inspect_plugin(clean, plugin)
    assert found["Name"] == f"{plugin}:latest" and found["PluginReference"] == f"{plugin}:latest"
    assert len(found["Id"]) == 64 and found["Enabled"] is False
    # env values without a value are left out of the settings, as dockerd's InitEmptySettings does
    assert found["Settings"] == {"Mounts": [], "Env": ["DEBUG=0"], "Args": [], "Devices": []}
    config = found["Config"]
    assert config["Interface"] == {"Socket": SOCKET, "Types": ["docker.volumedriver/1.0"]}
    assert config["PropagatedMount"] == "/data" and config["Linux"]["Capabilities"] == ["CAP_SYS_ADMIN"]
    # fields config.json left out come with Go's zero values
    assert config["WorkDir"] == "" and config["IpcHost"] is False and config["Mounts"] is None
    assert config["User"] == {} and config["Linux"]["AllowAllDevices"] is False
    assert config["rootfs"]["type"] == "layers" and config["rootfs"]["diff_ids"][0].startswith("sha256:")
    listed = clean.docker_ok("plugin", "ls", "--format", "{{.Name}} {{.Enabled}} {{.Description}}")
    assert f"{plugin}:latest false Dockyard test volume plugin" in listed.splitlines()
    assert inspect_plugin(clean, found["Id"][:12])["Id"] == found["Id"]
    by_capability = clean.docker_ok("plugin", "ls", "--filter", "capability=volumedriver", "--format", "{{.Name}}")
    assert f"{plugin}:latest" in by_capability.split()
    assert clean.docker_ok("plugin", "ls", "--filter", "capability=authz", "--format", "{{.Name}}") == ""
    bad = clean.docker("plugin", "ls", "--filter", "enabled=maybe")
    assert "invalid filter 'enabled=maybe'" in bad.stderr.decode()


def test_create_refuses_a_taken_name_and_lookups_fail_as_dockerd(clean: Daemon, plugin: str,
                                                                 plugin_dir: Path) -> None:
    again = clean.docker("plugin", "create", plugin, str(plugin_dir))
    assert again.returncode != 0 and f"plugin {plugin}:latest already exists" in again.stderr.decode()
    missing = clean.request("GET", "/v1.45/plugins/dy-no-such-plugin/json")
    assert missing[0] == 404 and json.loads(missing[1])["message"] == 'plugin "dy-no-such-plugin" not found'
    assert clean.docker("plugin", "inspect", "dy-no-such-plugin").returncode != 0


def test_create_reads_config_json_as_gos_decoder(clean: Daemon) -> None:
    # the docker CLI checks config.json itself, so these bodies go to the API as other clients may send them
    name = unique("dybad")
    wrong_kind = tar_files({"config.json": json.dumps({**CONFIG, "Entrypoint": "/bin/sh"}).encode(),
                            "rootfs/etc/hostname": b"x\n"})
    status, body = clean.request("POST", f"/v1.45/plugins/create?name={name}", wrong_kind,
                                 {"Content-Type": "application/x-tar"})
    assert status == 400 and json.loads(body)["message"] == "failed to parse config: json: cannot unmarshal " \
        "string into Go struct field Config.Entrypoint of type []string"
    no_rootfs = tar_files({"config.json": json.dumps(CONFIG).encode()})
    status, body = clean.request("POST", f"/v1.45/plugins/create?name={name}", no_rootfs,
                                 {"Content-Type": "application/x-tar"})
    assert status == 400 and json.loads(body)["message"] == "no rootfs found: EOF"
    assert not list((clean.data_root / "plugins" / "tmp").iterdir())  # the staging went with the refusals
    assert clean.request("GET", f"/v1.45/plugins/{name}/json")[0] == 404


def test_set_changes_settings_of_a_disabled_plugin(clean: Daemon, plugin: str) -> None:
    clean.docker_ok("plugin", "set", plugin, "DEBUG=1", "args=-v -x")
    settings = inspect_plugin(clean, plugin)["Settings"]
    assert settings["Env"] == ["DEBUG=1"] and settings["Args"] == ["-v", "-x"]
    clean.docker_ok("plugin", "set", plugin, "TMPFS=1")
    assert inspect_plugin(clean, plugin)["Settings"]["Env"] == ["DEBUG=1", "TMPFS=1"]
    refused = clean.docker("plugin", "set", plugin, "NOPE=1")
    assert 'setting "NOPE" not found in the plugin configuration' in refused.stderr.decode()


def test_enable_runs_the_plugin_in_its_rootfs_and_disable_stops_it(clean: Daemon, plugin: str) -> None:
    plugin_id = inspect_plugin(clean, plugin)["Id"]
    since = int(time.time()) - 60  # the fixture created it just before
    clean.docker_ok("plugin", "enable", plugin)
    assert inspect_plugin(clean, plugin)["Enabled"] is True
    assert (clean.exec_root / "plugins" / plugin_id / SOCKET).is_socket()
    pid = shim_pid(clean, plugin_id)
    # the plugin's process runs the rootfs' own programs, with its config's environment, in its own namespaces
    program = clean.data_root / "plugins" / plugin_id / "rootfs" / "usr" / "bin" / "unixserve"
    assert os.stat(f"/proc/{pid}/exe").st_ino == program.stat().st_ino
    assert os.readlink(f"/proc/{pid}/exe") == "/usr/bin/unixserve"
    assert b"DEBUG=0" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert clean.docker_ok("plugin", "ls", "--filter", "enabled=true", "--format", "{{.Name}}") == f"{plugin}:latest"
    assert clean.docker_ok("plugin", "ls", "--filter", "enabled=false", "--format", "{{.Name}}") == ""
    again = clean.docker("plugin", "enable", plugin)
    assert f"plugin {plugin}:latest is enabled" in again.stderr.decode()
    busy = clean.docker("plugin", "rm", plugin)
    assert busy.returncode != 0 and f"plugin {plugin}:latest is enabled" in busy.stderr.decode()
    refused = clean.docker("plugin", "set", plugin, "DEBUG=2")
    assert "cannot set on an active plugin, disable plugin before setting" in refused.stderr.decode()
    clean.docker_ok("plugin", "disable", plugin)
    assert not Path(f"/proc/{pid}").exists()
    assert not (clean.exec_root / "plugins" / plugin_id).exists()
    assert inspect_plugin(clean, plugin)["Enabled"] is False
    twice = clean.docker("plugin", "disable", plugin)
    assert f"plugin {plugin}:latest found but disabled" in twice.stderr.decode()
    clean.docker_ok("plugin", "rm", plugin)
    assert clean.docker_ok("plugin", "ls", "--format", "{{.Name}}").count(plugin) == 0
    events = clean.docker_ok("events", "--since", str(since), "--until", str(int(time.time()) + 1), "--filter",
                             "type=plugin", "--filter", f"plugin={plugin_id}", "--format", "{{.Action}}")
    assert events.split() == ["create", "enable", "disable", "remove"]


def test_volume_plugin_serves_volumes_and_container_mounts(clean: Daemon, plugin: str) -> None:
    plugin_id = inspect_plugin(clean, plugin)["Id"]
    store = clean.data_root / "plugins" / plugin_id / "propagated-mount"
    refused = clean.docker("volume", "create", "-d", plugin, "dytv-refused")
    assert f"plugin {plugin}:latest found but disabled" in refused.stderr.decode()
    clean.docker_ok("plugin", "enable", plugin)
    volume = unique("dytv-plug")
    clean.docker_ok("volume", "create", "-d", plugin, volume)
    assert (store / volume).is_dir()
    assert f"{plugin} {volume}" in clean.docker_ok("volume", "ls", "--format", "{{.Driver}} {{.Name}}").splitlines()
    shown = json.loads(clean.docker_ok("volume", "inspect", volume))[0]
    assert shown["Driver"] == plugin and shown["Mountpoint"] == str(store / volume)
    assert shown["Status"] == {"served-by": "busybox sh"} and shown["Scope"] == "local"
    cid = clean.docker_ok("run", "-d", "-v", f"{volume}:/data", "busybox", "sh", "-c", "echo hi > /data/f")
    assert clean.docker_ok("wait", cid) == "0"
    assert (store / volume / "f").read_text() == "hi\n"
    calls = (store / ".calls").read_text().splitlines()
    assert f"/VolumeDriver.Mount {volume} {cid}" in calls and f"/VolumeDriver.Unmount {volume} {cid}" in calls
    in_use = clean.docker("plugin", "disable", plugin)
    assert f"plugin {plugin}:latest is in use" in in_use.stderr.decode()
    clean.docker_ok("rm", cid)
    clean.docker_ok("volume", "rm", volume)
    assert not (store / volume).exists()
    assert clean.docker("volume", "inspect", volume).returncode != 0
    clean.docker_ok("plugin", "disable", plugin)


def test_mounts_a_plugin_makes_below_its_propagated_mount_reach_the_host(clean: Daemon, plugin: str) -> None:
    plugin_id = inspect_plugin(clean, plugin)["Id"]
    store = clean.data_root / "plugins" / plugin_id / "propagated-mount"
    clean.docker_ok("plugin", "set", plugin, "TMPFS=1")
    clean.docker_ok("plugin", "enable", plugin)
    volume = unique("dytv-tmpfs")
    clean.docker_ok("volume", "create", "-d", plugin, volume)
    assert mounts_under(store / volume) == [str(store / volume)]  # the plugin's tmpfs, seen on the host
    clean.docker_ok("run", "--rm", "-v", f"{volume}:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert (store / volume / "f").read_text() == "kept\n"
    assert os.statvfs(store / volume).f_fsid != os.statvfs(store).f_fsid
    clean.docker_ok("volume", "rm", volume)
    assert mounts_under(store) == [str(store)]  # the plugin's unmount reached the host too (store: a shared bind)
    clean.docker_ok("plugin", "disable", plugin)
    assert not mounts_under(clean.data_root / "plugins" / plugin_id)


def test_run_creates_plugin_volumes_with_volume_driver_and_mount_flags(clean: Daemon, plugin: str) -> None:
    plugin_id = inspect_plugin(clean, plugin)["Id"]
    store = clean.data_root / "plugins" / plugin_id / "propagated-mount"
    clean.docker_ok("plugin", "enable", plugin)
    by_flag, by_mount = unique("dytv-flag"), unique("dytv-mount")
    clean.docker_ok("run", "--rm", "--volume-driver", plugin, "-v", f"{by_flag}:/data", "busybox",
                    "sh", "-c", "echo one > /data/f")
    clean.docker_ok("run", "--rm", "--mount", f"type=volume,source={by_mount},target=/data,volume-driver={plugin}",
                    "busybox", "sh", "-c", "echo two > /data/f")
    assert (store / by_flag / "f").read_text() == "one\n" and (store / by_mount / "f").read_text() == "two\n"
    for name in (by_flag, by_mount):
        assert json.loads(clean.docker_ok("volume", "inspect", name))[0]["Driver"] == plugin
    # a 404, as dockerd's (the docker CLI would take it for a missing image and try to pull)
    status, body = clean.request("POST", "/v1.45/containers/create", {
        "Image": "busybox", "HostConfig": {"VolumeDriver": "dy-no-such-plugin", "Binds": ["dytv-none:/data"]}})
    assert status == 404 and json.loads(body)["message"] == \
        'error looking up volume plugin dy-no-such-plugin: plugin "dy-no-such-plugin" not found'


def test_a_plugin_that_dies_is_started_again(clean: Daemon, plugin: str) -> None:
    plugin_id = inspect_plugin(clean, plugin)["Id"]
    clean.docker_ok("plugin", "enable", plugin)
    first = shim_pid(clean, plugin_id)
    os.kill(first, signal.SIGKILL)

    def restarted() -> bool:
        try:
            return shim_pid(clean, plugin_id) != first and (clean.exec_root / "plugins" / plugin_id / SOCKET).is_socket()
        except (FileNotFoundError, ValueError):
            return False
    wait_for(restarted, timeout=30, what="the plugin to run again")
    assert inspect_plugin(clean, plugin)["Enabled"] is True
    volume = unique("dytv-again")
    clean.docker_ok("volume", "create", "-d", plugin, volume)  # served by the new process
    clean.docker_ok("volume", "rm", volume)
    clean.docker_ok("plugin", "disable", plugin)


def test_a_container_stops_cleanly_after_its_volume_plugin_was_force_disabled(clean: Daemon, plugin: str) -> None:
    clean.docker_ok("plugin", "enable", plugin)
    volume = unique("dytv-forced")
    cid = clean.docker_ok("run", "-d", "-v", f"{volume}:/data", "busybox", "sleep", "300")
    clean.docker_ok("plugin", "disable", "-f", plugin)
    clean.docker_ok("stop", "-t", "1", cid)
    assert clean.inspect(cid)["State"]["Status"] == "exited"
    clean.docker_ok("rm", cid)


def test_sdk_drives_plugins_and_registry_operations_are_refused(clean: Daemon, plugin_dir: Path) -> None:
    client = docker.DockerClient(base_url=clean.host, version="1.45")
    name = unique("dysdk")
    try:
        created = client.plugins.create(name, str(plugin_dir))
        assert created.name == f"{name}:latest" and created.enabled is False
        created.enable(timeout=10)
        assert client.plugins.get(name).enabled is True
        assert [p.name for p in client.plugins.list() if p.name == f"{name}:latest"]
        created.reload()
        created.disable()
        created.remove()
        with pytest.raises(docker.errors.NotFound):
            client.plugins.get(name)
        with pytest.raises(docker.errors.APIError) as refused:
            client.api.plugin_privileges("vieux/sshfs")
        assert refused.value.status_code == 501
        install = clean.docker("plugin", "install", "--grant-all-permissions", "vieux/sshfs")
        assert install.returncode != 0 and "needs a registry" in install.stderr.decode()
    finally:
        clean.request("DELETE", f"/v1.45/plugins/{name}?force=1")
        client.close()


def test_enabled_plugins_stop_with_the_daemon_and_run_again(own_daemon: Daemon, plugin_dir: Path) -> None:
    name = unique("dyrestart")
    own_daemon.docker_ok("plugin", "create", name, str(plugin_dir))
    own_daemon.docker_ok("plugin", "enable", name)
    plugin_id = inspect_plugin(own_daemon, name)["Id"]
    pid = shim_pid(own_daemon, plugin_id)
    own_daemon.stop()
    assert not Path(f"/proc/{pid}").exists()
    own_daemon.start()
    assert inspect_plugin(own_daemon, name)["Enabled"] is True
    assert (own_daemon.exec_root / "plugins" / plugin_id / SOCKET).is_socket()
    own_daemon.docker_ok("plugin", "rm", "-f", name)
    assert not (own_daemon.data_root / "plugins" / plugin_id).exists()
