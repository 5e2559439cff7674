"""Legacy links as dockerd v28 keeps them: `--link name:alias` on the default bridge (ALIAS_* environment, /etc/hosts,
HostConfig.Links), on user networks (an alias the embedded DNS answers for that container only), `rm --link`,
links to missing containers refused, and rename."""

from __future__ import annotations

import pytest

from daemon_harness import Daemon
from helpers import ok, unique


def _env(daemon: Daemon, container: str) -> dict[str, str]:
    lines = ok(daemon.docker("exec", container, "env")).splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_link_on_the_default_bridge(clean: Daemon, need_docker_cli: None) -> None:
    child, parent = unique("db"), unique("app")
    ok(clean.docker("run", "-d", "--name", child, "--expose", "80", "--expose", "5432/tcp", "--expose", "5433",
                    "-e", "SECRET=s3", "busybox", "sleep", "300"))
    ok(clean.docker("run", "-d", "--name", parent, "--link", f"{child}:my-db", "busybox", "sleep", "300"))
    ip = clean.inspect(child)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    hostname = clean.inspect(child)["Config"]["Hostname"]
    env = _env(clean, parent)
    assert env["MY_DB_PORT"] == f"tcp://{ip}:80"
    assert env["MY_DB_PORT_80_TCP"] == f"tcp://{ip}:80"
    assert (env["MY_DB_PORT_80_TCP_ADDR"], env["MY_DB_PORT_80_TCP_PORT"], env["MY_DB_PORT_80_TCP_PROTO"]) == \
        (ip, "80", "tcp")
    assert env["MY_DB_PORT_5432_TCP"] == f"tcp://{ip}:5432"
    assert env["MY_DB_PORT_5432_TCP_START"] == f"tcp://{ip}:5432"  # 5432-5433 is a range
    assert (env["MY_DB_PORT_5432_TCP_PORT_START"], env["MY_DB_PORT_5432_TCP_PORT_END"]) == ("5432", "5433")
    assert env["MY_DB_NAME"] == f"/{parent}/my-db"
    assert env["MY_DB_ENV_SECRET"] == "s3"
    assert "MY_DB_ENV_PATH" not in env
    hosts = ok(clean.docker("exec", parent, "cat", "/etc/hosts")).splitlines()
    assert f"{ip}\tmy-db {hostname} {child}" in hosts
    ok(clean.docker("exec", parent, "ping", "-c", "1", "-W", "5", "my-db"))
    assert clean.inspect(parent)["HostConfig"]["Links"] == [f"/{child}:/{parent}/my-db"]
    assert clean.inspect(child)["HostConfig"]["Links"] is None
    names = ok(clean.docker("ps", "--no-trunc", "--filter", f"name={child}", "--format", "{{.Names}}"))
    assert f"{parent}/my-db" in names.split(",")


def test_link_without_alias_and_rename(clean: Daemon, need_docker_cli: None) -> None:
    child, parent = unique("kid"), unique("parent")
    ok(clean.docker("run", "-d", "--name", child, "busybox", "sleep", "300"))
    ok(clean.docker("create", "--name", parent, "--link", child, "busybox", "sleep", "300"))
    assert clean.inspect(parent)["HostConfig"]["Links"] == [f"/{child}:/{parent}/{child}"]
    renamed_parent, renamed_child = unique("parent2"), unique("kid2")
    ok(clean.docker("rename", parent, renamed_parent))
    assert clean.inspect(renamed_parent)["HostConfig"]["Links"] == [f"/{child}:/{renamed_parent}/{child}"]
    ok(clean.docker("rename", child, renamed_child))
    assert clean.inspect(renamed_parent)["HostConfig"]["Links"] == [f"/{renamed_child}:/{renamed_parent}/{child}"]
    ok(clean.docker("start", renamed_parent))
    alias = child.upper().replace("-", "_")
    assert _env(clean, renamed_parent)[f"{alias}_NAME"] == f"/{renamed_parent}/{child}"
    hosts = ok(clean.docker("exec", renamed_parent, "cat", "/etc/hosts"))
    hostname = clean.inspect(renamed_child)["Config"]["Hostname"]
    ip = clean.inspect(renamed_child)["NetworkSettings"]["IPAddress"]
    assert f"{ip}\t{child} {hostname} {renamed_child}\n" in hosts


def test_rm_link(clean: Daemon, need_docker_cli: None) -> None:
    child, parent = unique("kid"), unique("parent")
    ok(clean.docker("run", "-d", "--name", child, "busybox", "sleep", "300"))
    ok(clean.docker("run", "-d", "--name", parent, "--link", f"{child}:peer", "busybox", "sleep", "300"))
    refused = clean.docker("rm", "--link", child)
    assert refused.returncode != 0
    assert b"Conflict, cannot remove the default link name of the container" in refused.stderr
    missing = clean.docker("rm", "--link", f"/{parent}/nosuch")
    assert missing.returncode != 0  # the CLI trims the leading "/" of what it is given
    assert f"No such container: {parent}/nosuch".encode() in missing.stderr
    ok(clean.docker("rm", "--link", f"/{parent}/peer"))
    assert clean.inspect(parent)["HostConfig"]["Links"] is None
    assert "\tpeer " not in ok(clean.docker("exec", parent, "cat", "/etc/hosts"))
    assert clean.inspect(child)["State"]["Running"] is True  # the child itself stays


def test_link_to_a_missing_or_stopped_container(clean: Daemon, need_docker_cli: None) -> None:
    refused = clean.docker("run", "--rm", "--link", "nosuch-container:x", "busybox", "true")
    assert refused.returncode == 125
    assert (b"could not get container for nosuch-container: No such container: nosuch-container"
            in refused.stderr)
    stopped, parent = unique("stopped"), unique("parent")
    ok(clean.docker("create", "--name", stopped, "busybox", "true"))
    ok(clean.docker("create", "--name", parent, "--link", f"{stopped}:s", "busybox", "true"))
    failed = clean.docker("start", parent)
    assert failed.returncode != 0
    assert f"Cannot link to a non running container: /{stopped} AS /{parent}/s".encode() in failed.stderr
    ok(clean.docker("rm", stopped))
    assert clean.inspect(parent)["HostConfig"]["Links"] is None  # a removed child's links go with it
    conflict = clean.docker("run", "--rm", "--network", "host", "--link", f"{parent}:p", "busybox", "true")
    assert b"host type networking can't be used with links" in conflict.stderr


def test_links_on_a_user_network_are_resolver_aliases(clean: Daemon, need_docker_cli: None) -> None:
    net, target, linker, other = unique("lnet"), unique("target"), unique("linker"), unique("other")
    ok(clean.docker("network", "create", net))
    try:
        ok(clean.docker("run", "-d", "--name", target, "--network", net, "busybox", "sleep", "300"))
        ok(clean.docker("run", "-d", "--name", linker, "--network", net, "--link", f"{target}:dbalias",
                        "busybox", "sleep", "300"))
        ok(clean.docker("run", "-d", "--name", other, "--network", net, "busybox", "sleep", "300"))
        ip = clean.inspect(target)["NetworkSettings"]["Networks"][net]["IPAddress"]
        assert ip in ok(clean.docker("exec", linker, "nslookup", "dbalias"))
        assert clean.docker("exec", other, "nslookup", "dbalias").returncode != 0  # that container's alias only
        doc = clean.inspect(linker)
        assert doc["NetworkSettings"]["Networks"][net]["Links"] == [f"{target}:dbalias"]
        assert doc["HostConfig"]["Links"] is None
        assert "DBALIAS_NAME" not in _env(clean, linker)
    finally:
        clean.docker("rm", "-f", target, linker, other)
        clean.docker("network", "rm", net)


def test_links_through_the_sdk(sdk, clean: Daemon) -> None:
    import docker

    child = sdk.containers.run("busybox", ["sleep", "300"], detach=True, name=unique("sdkchild"),
                               environment={"COLOR": "blue"})
    parent = sdk.containers.run("busybox", ["sleep", "300"], detach=True, name=unique("sdkparent"),
                                links={child.name: "c"})
    code, out = parent.exec_run(["sh", "-c", "echo $C_ENV_COLOR $C_NAME"])
    assert (code, out.decode().strip()) == (0, f"blue /{parent.name}/c")
    parent.reload()
    assert parent.attrs["HostConfig"]["Links"] == [f"/{child.name}:/{parent.name}/c"]
    sdk.api.remove_container(f"/{parent.name}/c", link=True)
    parent.reload()
    assert parent.attrs["HostConfig"]["Links"] is None
    with pytest.raises(docker.errors.NotFound):
        sdk.api.remove_container(f"/{parent.name}/c", link=True)
