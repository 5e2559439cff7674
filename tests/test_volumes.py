"""Issue 7's acceptance through the real docker CLI: named, anonymous and bind mounts, prune, df."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from daemon_harness import destroy, new_daemon
from helpers import out
from host_probe import mounts_under
from volume_helpers import ANONYMOUS_LABEL, PREFIX, volumes

pytestmark = pytest.mark.usefixtures("need_docker_cli")



@pytest.fixture
def host_dir():
    with tempfile.TemporaryDirectory(prefix="dyt-bind-") as path:
        yield Path(path)


def test_named_volume_outlives_its_container(vd):
    name = PREFIX + "data"
    assert out(vd.docker("volume", "create", name)).strip() == name
    out(vd.docker("run", "--name", PREFIX + "w", "-v", f"{name}:/data", "busybox", "sh", "-c", "echo keep > /data/f"))
    cid = vd.inspect(PREFIX + "w")["Id"]
    busy = vd.docker("volume", "rm", name)
    assert busy.returncode == 1
    assert busy.stderr.decode().strip() == (f"Error response from daemon: remove {name}: volume is in use - [{cid}]")
    out(vd.docker("rm", "-f", PREFIX + "w"))
    assert out(vd.docker("run", "--rm", "-v", f"{name}:/data", "busybox", "cat", "/data/f")) == "keep\n"
    out(vd.docker("volume", "rm", name))
    assert name not in out(vd.docker("volume", "ls", "-q")).split()
    missing = vd.docker("volume", "inspect", name)
    assert missing.returncode == 1 and b"no such volume" in missing.stderr


def test_running_container_blocks_removal_too(vd):
    name = PREFIX + "run"
    out(vd.docker("run", "-d", "--name", PREFIX + "r", "-v", f"{name}:/d", "busybox", "sleep", "60"))
    assert b"volume is in use" in vd.docker("volume", "rm", "-f", name).stderr
    out(vd.docker("rm", "-f", PREFIX + "r"))
    out(vd.docker("volume", "rm", name))


def test_new_volume_is_filled_from_the_image(vd):
    listing = out(vd.docker("run", "--rm", "-v", PREFIX + "etc:/etc", "busybox", "ls", "/etc")).split()
    assert {"passwd", "group"} <= set(listing)
    mountpoint = Path(volumes(vd)[PREFIX + "etc"]["Mountpoint"])
    image_stat = out(vd.docker("run", "--rm", "busybox", "stat", "-c", "%a %u %g %s", "/etc", "/etc/passwd"))
    volume_stat = out(vd.docker("run", "--rm", "-v", PREFIX + "etc:/etc", "busybox", "stat", "-c", "%a %u %g %s",
                                "/etc", "/etc/passwd"))
    assert volume_stat == image_stat
    assert (mountpoint / "passwd").read_text() == out(vd.docker("run", "--rm", "busybox", "cat", "/etc/passwd"))
    # nocopy: the new volume stays empty (only the daemon's own mount points appear)
    bare = out(vd.docker("run", "--rm", "-v", PREFIX + "bare:/etc:nocopy", "busybox", "ls", "/etc")).split()
    assert "passwd" not in bare


def test_bind_mounts(vd, host_dir):
    (host_dir / "in").write_text("from host\n")
    ro = vd.docker("run", "--rm", "-v", f"{host_dir}:/x:ro", "busybox", "sh", "-c", "cat /x/in; echo no > /x/new")
    assert ro.returncode != 0 and ro.stdout == b"from host\n"
    assert b"Read-only file system" in ro.stderr
    assert not (host_dir / "new").exists()
    out(vd.docker("run", "--rm", "-v", f"{host_dir}:/x", "busybox", "sh", "-c", "echo yes > /x/new"))
    assert (host_dir / "new").read_text() == "yes\n"
    created = host_dir / "made" / "by-v"
    out(vd.docker("run", "--rm", "-v", f"{created}:/m", "busybox", "true"))
    assert created.is_dir()
    refused = vd.docker("run", "--rm", "--mount", f"type=bind,src={host_dir}/nope,dst=/m", "busybox", "true")
    assert refused.returncode == 125
    assert f"bind source path does not exist: {host_dir}/nope".encode() in refused.stderr
    assert not (host_dir / "nope").exists()


def test_anonymous_volumes_go_with_rm_v_and_auto_remove(vd):
    before = set(volumes(vd))
    out(vd.docker("run", "--rm", "-v", "/anon", "busybox", "sh", "-c", "echo x > /anon/f"))
    assert set(volumes(vd)) == before
    out(vd.docker("run", "--name", PREFIX + "a", "-v", "/anon", "-v", PREFIX + "named:/named", "busybox", "true"))
    info = vd.inspect(PREFIX + "a")
    anon = [m for m in info["Mounts"] if m["Destination"] == "/anon"][0]
    assert anon["Type"] == "volume" and len(anon["Name"]) == 64 and anon["RW"] is True and anon["Driver"] == "local"
    assert ANONYMOUS_LABEL in volumes(vd)[anon["Name"]]["Labels"]
    out(vd.docker("rm", "-v", PREFIX + "a"))
    after = set(volumes(vd))
    assert anon["Name"] not in after and PREFIX + "named" in after


def test_prune_spares_named_volumes_unless_all(vd):
    out(vd.docker("volume", "create", "--label", "keep=no", PREFIX + "p1"))
    out(vd.docker("run", "--name", PREFIX + "anon", "-v", "/a", "busybox", "true"))
    anon = vd.inspect(PREFIX + "anon")["Mounts"][0]["Name"]
    in_use = vd.docker("volume", "prune", "-f")
    assert anon not in out(in_use)
    out(vd.docker("rm", PREFIX + "anon"))
    pruned = out(vd.docker("volume", "prune", "-f"))
    assert anon in pruned and PREFIX + "p1" not in pruned
    assert PREFIX + "p1" in volumes(vd)
    assert PREFIX + "p1" not in out(vd.docker("volume", "prune", "-af", "--filter", "label=keep=yes"))
    assert PREFIX + "p1" in out(vd.docker("volume", "prune", "-af", "--filter", "label=keep=no"))
    assert PREFIX + "p1" not in volumes(vd)


def test_mount_flag_tmpfs_and_inspect_shapes(vd, host_dir):
    out(vd.docker("create", "--name", PREFIX + "m",
                  "--mount", f"type=volume,src={PREFIX}mv,dst=/mv,readonly",
                  "--mount", f"type=bind,src={host_dir},dst=/mb,bind-propagation=rslave",
                  "--mount", "type=tmpfs,dst=/mt,tmpfs-size=1048576,tmpfs-mode=1770",
                  "--tmpfs", "/run2:size=2m",
                  "-v", f"{host_dir}:/hb:ro", "busybox",
                  "sh", "-c", "grep -E ' /(mt|run2|mv|mb|hb) ' /proc/mounts; stat -c %a /mt; touch /mv/x"))
    mounts = {m["Destination"]: m for m in vd.inspect(PREFIX + "m")["Mounts"]}
    assert set(mounts) == {"/mv", "/mb", "/mt", "/hb"}
    source = volumes(vd)[PREFIX + "mv"]["Mountpoint"]
    assert mounts["/mv"] == {"Type": "volume", "Name": PREFIX + "mv", "Source": source, "Destination": "/mv",
                             "Driver": "local", "Mode": "z", "RW": False, "Propagation": ""}
    assert mounts["/mb"] == {"Type": "bind", "Source": str(host_dir), "Destination": "/mb", "Mode": "", "RW": True,
                             "Propagation": "rslave"}
    assert mounts["/hb"]["Mode"] == "ro" and mounts["/hb"]["RW"] is False and mounts["/hb"]["Propagation"] == "rprivate"
    assert mounts["/mt"]["Type"] == "tmpfs"
    result = vd.docker("start", "-a", PREFIX + "m")
    lines = result.stdout.decode()
    assert "tmpfs /mt tmpfs" in lines and "size=1024k" in lines and "size=2048k" in lines
    assert "1770" in lines
    assert b"Read-only file system" in result.stderr


def test_volumes_from(vd):
    out(vd.docker("run", "--name", PREFIX + "src", "-v", PREFIX + "vf:/data", "-v", "/anon", "busybox", "sh", "-c",
                  "echo shared > /data/f; echo a > /anon/f"))
    got = vd.docker("run", "--rm", "--volumes-from", PREFIX + "src:ro", "busybox", "sh", "-c",
                    "cat /data/f /anon/f; touch /data/nope")
    assert got.stdout == b"shared\na\n" and b"Read-only file system" in got.stderr
    rw = vd.docker("run", "--name", PREFIX + "dst", "--volumes-from", PREFIX + "src", "busybox", "touch", "/data/ok")
    out(rw)
    anon = [m["Name"] for m in vd.inspect(PREFIX + "src")["Mounts"] if m["Destination"] == "/anon"][0]
    out(vd.docker("rm", "-v", PREFIX + "dst"))
    assert anon in volumes(vd), "an anonymous volume another container uses must survive rm -v"
    out(vd.docker("rm", "-v", PREFIX + "src"))
    assert anon not in volumes(vd)


def test_image_volume_makes_an_anonymous_volume(vd, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN mkdir /vol && echo img > /vol/f && chown 7:9 /vol\n"
                                         "VOLUME /vol\n")
    tag = PREFIX + "img:latest"
    out(vd.docker("build", "-q", "-t", tag, str(tmp_path)))
    try:
        listing = out(vd.docker("run", "--name", PREFIX + "iv", tag, "sh", "-c", "cat /vol/f; stat -c '%u %g' /vol"))
        assert listing == "img\n7 9\n"
        mount = vd.inspect(PREFIX + "iv")["Mounts"][0]
        assert mount["Destination"] == "/vol" and mount["Type"] == "volume" and mount["Mode"] == ""
        out(vd.docker("rm", "-v", PREFIX + "iv"))
        assert mount["Name"] not in volumes(vd)
    finally:
        vd.docker("rmi", "-f", tag)


def test_hostile_symlinks_stay_inside_the_container(vd, host_dir):
    name = PREFIX + "evil"
    target = f"dyt-escape-{os.getpid()}"
    out(vd.docker("run", "--rm", "-v", f"{name}:/v", "busybox", "sh", "-c",
                  "ln -s / /v/root; ln -s ../../../../../../tmp /v/up; ln -s /proc /v/p"))
    (host_dir / "in").write_text("bound\n")
    script = f"cat /tmp/{target}/in; ls /v/up/{target}/in"
    got = vd.docker("run", "--rm", "-v", f"{name}:/v", "-v", f"{host_dir}:/v/up/{target}", "busybox",
                    "sh", "-c", script)
    assert out(got) == f"bound\n/v/up/{target}/in\n"
    assert not Path("/tmp", target).exists(), "the mount escaped to the host's /tmp"
    onto_root = vd.docker("run", "--rm", "-v", f"{name}:/v", "-v", f"{host_dir}:/v/root", "busybox", "true")
    assert onto_root.returncode != 0 and b"resolves to the container's root" in onto_root.stderr
    onto_proc = vd.docker("run", "--rm", "-v", f"{name}:/v", "-v", f"{host_dir}:/v/p/sys", "busybox", "true")
    assert onto_proc.returncode != 0 and b"is redirected into /proc" in onto_proc.stderr


def test_validation_messages(vd):
    cases = {
        ("-v", "bad name!:/d"): "includes invalid characters for a local volume name",
        ("-v", PREFIX + "ok:/a/../b"): "mount path must not contain '..'",
        ("-v", PREFIX + "ok:/proc/x"): "is reserved",
        ("-v", PREFIX + "ok:/x:bogus"): "invalid mode: bogus",
        ("--mount", "type=tmpfs,src=x,dst=/t"): 'invalid mount config for type "tmpfs": field Source must not be',
    }
    for flags, message in cases.items():
        result = vd.docker("create", *flags, "busybox")
        assert result.returncode != 0 and message.encode() in result.stderr, (flags, result.stderr)
    assert PREFIX + "ok" not in volumes(vd)
    status, body = vd.request("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Binds": ["x:/d"]}})
    assert status == 400 and b"volume name is too short" in body
    dup = vd.docker("create", "-v", PREFIX + "ok:/d", "-v", PREFIX + "ok2:/d/", "busybox")
    assert b"Duplicate mount point: /d" in dup.stderr
    assert vd.api("GET", "/containers/json?all=1") == [] or all(
        not c["Names"][0].startswith("/" + PREFIX) for c in vd.api("GET", "/containers/json?all=1"))


def test_volume_cli_ls_inspect_filters(vd):
    out(vd.docker("volume", "create", "--label", "team=a", PREFIX + "l1"))
    out(vd.docker("volume", "create", PREFIX + "l2"))
    out(vd.docker("run", "--name", PREFIX + "u", "-v", PREFIX + "l2:/d", "busybox", "true"))
    names = out(vd.docker("volume", "ls", "-q", "--filter", "label=team=a")).split()
    assert names == [PREFIX + "l1"]
    dangling = out(vd.docker("volume", "ls", "-q", "--filter", "dangling=true", "--filter", "name=" + PREFIX)).split()
    assert PREFIX + "l1" in dangling and PREFIX + "l2" not in dangling
    info = json.loads(out(vd.docker("volume", "inspect", PREFIX + "l1")))[0]
    assert info["Labels"] == {"team": "a"} and info["Scope"] == "local" and info["Driver"] == "local"
    assert info["Mountpoint"] == str(vd.data_root / "volumes" / (PREFIX + "l1") / "_data")
    assert info["CreatedAt"].endswith("Z")
    fmt = out(vd.docker("volume", "ls", "--format", "{{.Name}} {{.Driver}}", "--filter", "name=" + PREFIX + "l1"))
    assert fmt == f"{PREFIX}l1 local\n"
    assert vd.docker("volume", "ls", "--filter", "dangling=maybe").returncode != 0


def test_tmpfs_volume_is_mounted_only_while_used(vd):
    name = PREFIX + "tmp"
    out(vd.docker("volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m",
                  name))
    mountpoint = volumes(vd)[name]["Mountpoint"]
    got = out(vd.docker("run", "--rm", "-v", f"{name}:/t", "busybox", "sh", "-c", "df -k /t | tail -1; echo a > /t/f"))
    assert got.split()[1] == "2048"
    assert mounts_under(mountpoint) == []
    bad = vd.docker("volume", "create", "-o", "colour=red", PREFIX + "bad")
    assert bad.returncode == 1 and b'invalid option: "colour"' in bad.stderr


def test_bind_volume_with_options(vd, host_dir):
    name = PREFIX + "bindvol"
    out(vd.docker("volume", "create", "-o", "type=none", "-o", f"device={host_dir}", "-o", "o=bind", name))
    out(vd.docker("run", "--rm", "-v", f"{name}:/b", "busybox", "sh", "-c", "echo via > /b/f"))
    assert (host_dir / "f").read_text() == "via\n"
    assert mounts_under(volumes(vd)[name]["Mountpoint"]) == []


def du_content(path: str) -> int:
    """`du -sb` minus the directories' own sizes (docker's sizes count what directories hold, not their inodes)."""
    total = int(subprocess.run(["du", "-sb", path], capture_output=True, check=True).stdout.split()[0])
    dirs = subprocess.run(["find", path, "-type", "d", "-printf", "%s\\n"], capture_output=True, check=True).stdout
    return total - sum(int(n) for n in dirs.split())


def test_system_df_agrees_with_du(vd):
    name = PREFIX + "df"
    out(vd.docker("run", "--name", PREFIX + "dfc", "-v", f"{name}:/d", "busybox", "sh", "-c",
                  "dd if=/dev/zero of=/d/blob bs=1k count=3000 2>/dev/null; dd if=/dev/zero of=/rw bs=1k count=4000"))
    df = vd.api("GET", "/system/df")
    assert set(df) >= {"LayersSize", "Images", "Containers", "Volumes", "BuildCache"}
    volume = [v for v in df["Volumes"] if v["Name"] == name][0]
    assert volume["UsageData"]["RefCount"] == 1
    du = du_content(volume["Mountpoint"])
    assert abs(volume["UsageData"]["Size"] - du) <= du * 0.01
    container = [c for c in df["Containers"] if c["Names"] == ["/" + PREFIX + "dfc"]][0]
    upper = vd.inspect(PREFIX + "dfc")["GraphDriver"]["Data"]["UpperDir"]
    du = du_content(upper)
    assert abs(container["SizeRw"] - du) <= du * 0.01
    image = [i for i in df["Images"] if "busybox:latest" in (i["RepoTags"] or [])][0]
    assert image["Containers"] >= 1
    graph = json.loads(out(vd.docker("image", "inspect", "busybox")))[0]["GraphDriver"]["Data"]
    layers = [graph["UpperDir"]] + [d for d in graph.get("LowerDir", "").split(":") if d]
    du = sum(du_content(d) for d in layers)
    assert abs(image["Size"] - du) <= du * 0.01
    table = out(vd.docker("system", "df"))
    assert "Local Volumes" in table and "Images" in table
    verbose = out(vd.docker("system", "df", "-v"))
    assert name in verbose


def test_concurrent_create_and_remove_are_safe(vd):
    name = PREFIX + "race"
    statuses: list[int] = []

    def worker() -> None:
        for _ in range(10):
            statuses.append(vd.request("POST", "/volumes/create", {"Name": name})[0])
            statuses.append(vd.request("DELETE", f"/volumes/{name}")[0])
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {201, 204, 404}, statuses
    exists = name in volumes(vd)
    assert (vd.data_root / "volumes" / name / "_data").is_dir() == exists
    assert not [p for p in (vd.data_root / "volumes").iterdir() if p.name.startswith(".trash")]


def test_system_prune_with_the_docker_cli(vd):
    out(vd.docker("run", "--name", PREFIX + "sp", "-v", "/anon", "-v", PREFIX + "spn:/n", "busybox", "true"))
    anon = vd.inspect(PREFIX + "sp")["Mounts"]
    anon_name = [m["Name"] for m in anon if m["Destination"] == "/anon"][0]
    pruned = out(vd.docker("system", "prune", "-f", "--volumes"))
    assert "Deleted Containers:" in pruned and anon_name in pruned
    assert anon_name not in volumes(vd) and PREFIX + "spn" in volumes(vd)


def test_volumes_and_references_survive_a_daemon_kill():
    d = new_daemon()
    d.start()
    try:
        d.load_busybox()
        out(d.docker("run", "--name", "keeper", "-v", "kept:/k", "-v", "/anon", "busybox", "sh", "-c",
                     "echo safe > /k/f"))
        anon = [m["Name"] for m in d.inspect("keeper")["Mounts"] if m["Destination"] == "/anon"][0]
        d.stop(signal.SIGKILL)
        (d.data_root / "volumes" / ".trash-interrupted" / "_data").mkdir(parents=True)
        d.start()
        assert not (d.data_root / "volumes" / ".trash-interrupted").exists()
        assert {"kept", anon} <= set(volumes(d))
        assert b"volume is in use" in d.docker("volume", "rm", "kept").stderr
        assert out(d.docker("run", "--rm", "-v", "kept:/k", "busybox", "cat", "/k/f")) == "safe\n"
        out(d.docker("rm", "-v", "keeper"))
        assert set(volumes(d)) == {"kept"}
        out(d.docker("volume", "rm", "kept"))
    finally:
        destroy(d)
