"""Our own `dockyard` CLI for volumes: volume commands, run/create mount flags, system df and system prune."""

from __future__ import annotations

import json
import tempfile

from dockyard.cli.mountflags import parse_mount_flag
from helpers import out
from volume_helpers import PREFIX, volumes



def test_parse_mount_flag():
    assert parse_mount_flag("type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave,bind-nonrecursive") == {
        "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
        "BindOptions": {"Propagation": "rslave", "NonRecursive": True}}
    assert parse_mount_flag("source=v,target=/v,volume-nocopy,volume-opt=type=tmpfs,volume-label=a=b") == {
        "Type": "volume", "Source": "v", "Target": "/v",
        "VolumeOptions": {"NoCopy": True, "DriverConfig": {"Options": {"type": "tmpfs"}}, "Labels": {"a": "b"}}}
    assert parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770")["TmpfsOptions"] == {
        "SizeBytes": 1 << 20, "Mode": 0o1770}


def test_volume_commands(vd):
    assert out(vd.cli("volume", "create", "--label", "k=v", PREFIX + "c1")) == PREFIX + "c1\n"
    generated = out(vd.cli("volume", "create")).strip()
    assert len(generated) == 64
    table = out(vd.cli("volume", "ls", "--filter", "name=" + PREFIX))
    assert table.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert f"local     {PREFIX}c1" in table
    assert out(vd.cli("volume", "ls", "-q", "--filter", "label=k=v")) == PREFIX + "c1\n"
    info = json.loads(out(vd.cli("volume", "inspect", PREFIX + "c1")))
    assert info[0]["Labels"] == {"k": "v"}
    assert out(vd.cli("volume", "inspect", "-f", "{{.Driver}} {{.Scope}}", PREFIX + "c1")) == "local local\n"
    missing = vd.cli("volume", "inspect", PREFIX + "none")
    assert missing.returncode == 1 and b"no such volume" in missing.stderr
    out(vd.cli("run", "--name", PREFIX + "user", "-v", PREFIX + "c1:/d", "busybox", "true"))
    busy = vd.cli("volume", "rm", PREFIX + "c1")
    assert busy.returncode == 1 and b"volume is in use" in busy.stderr
    out(vd.cli("rm", PREFIX + "user"))
    assert out(vd.cli("volume", "rm", PREFIX + "c1", generated)) == f"{PREFIX}c1\n{generated}\n"
    assert out(vd.cli("volume", "rm", "-f", PREFIX + "none")) == f"{PREFIX}none\n"


def test_run_flags(vd):
    with tempfile.TemporaryDirectory(prefix="dyt-cli-") as host:
        script = "echo x > /v/f; echo y > /h/f; grep -c ' /t tmpfs' /proc/mounts; cat /m/f 2>&1; touch /ro/x"
        result = vd.cli("run", "--name", PREFIX + "flags", "-v", PREFIX + "fv:/v", "-v", f"{host}:/h",
                        "--tmpfs", "/t:size=1m", "--mount", f"type=volume,src={PREFIX}fv,dst=/m",
                        "--mount", f"type=bind,src={host},dst=/ro,readonly", "busybox", "sh", "-c", script)
        assert result.stdout == b"1\nx\n" and b"Read-only file system" in result.stderr
        with open(f"{host}/f") as handle:
            assert handle.read() == "y\n"
        shared = vd.cli("run", "--rm", "--volumes-from", PREFIX + "flags:ro", "busybox", "cat", "/v/f")
        assert out(shared) == "x\n"
    out(vd.cli("run", "--rm", "-v", "/anon-cli", "busybox", "true"))
    assert not [n for n, v in volumes(vd).items() if len(n) == 64 and "com.docker.volume.anonymous" in v["Labels"]]


def test_system_df_and_prune(vd):
    out(vd.cli("run", "--name", PREFIX + "dfp", "-v", "/anon", "-v", PREFIX + "named:/n", "busybox", "sh", "-c",
               "dd if=/dev/zero of=/n/f bs=1k count=100 2>/dev/null"))
    table = out(vd.cli("system", "df")).splitlines()
    assert table[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in table[1:]] == ["Images", "Containers", "Local", "Build"]
    verbose = out(vd.cli("system", "df", "-v"))
    assert "Local Volumes space usage:" in verbose and PREFIX + "named" in verbose and "102.4kB" in verbose
    refused = vd.cli("system", "prune", "-f", "--volumes", "--filter", "until=1h")
    assert refused.returncode == 1 and b'"until" filter is not supported with "--volumes"' in refused.stderr
    anon = [m["Name"] for m in vd.api("GET", f"/containers/{PREFIX}dfp/json")["Mounts"] if m["Destination"] == "/anon"]
    pruned = out(vd.cli("system", "prune", "-f", "--volumes"))
    assert "Deleted Containers:" in pruned and anon[0] in pruned and "Total reclaimed space:" in pruned
    assert PREFIX + "named" in volumes(vd) and anon[0] not in volumes(vd)
