"""run/create network flags of our CLI: parsed as docker's CLI parses them (same create body, same inspect),
and `dockyard port` printing what `docker port` prints for the same container."""

from __future__ import annotations

import json

import pytest

from daemon_harness import Daemon
from dockyard.cli.context import CommandError
from dockyard.cli.netflags import parse_expose, parse_publish
from helpers import free_port, ok, unique

FLAGS = ["-p", "127.0.0.1::8080", "-p", "9000-9001:80-81/udp", "-p", "8000-8010:90", "--expose", "7000-7001",
         "-P", "--add-host", "gw:host-gateway", "--add-host", "db:10.1.2.3", "--dns", "9.9.9.9",
         "--dns-search", "example.com", "--dns-option", "ndots:2", "--domainname", "dom.example"]
ENDPOINT_FLAGS = ["--ip", "10.214.0.50", "--mac-address", "92:d0:c6:0a:29:33", "--network-alias", "api"]


def test_publish_specs_as_docker_parses_them() -> None:
    assert parse_publish("127.0.0.1:8080:80/udp") == [("80/udp", {"HostIp": "127.0.0.1", "HostPort": "8080"})]
    assert parse_publish("[::1]::80") == [("80/tcp", {"HostIp": "::1", "HostPort": ""})]
    assert parse_publish("8000-8001:80-81") == [("80/tcp", {"HostIp": "", "HostPort": "8000"}),
                                                ("81/tcp", {"HostIp": "", "HostPort": "8001"})]
    assert parse_publish("8000-8010:80") == [("80/tcp", {"HostIp": "", "HostPort": "8000-8010"})]
    assert parse_publish("published=8080,target=80,protocol=udp") == \
        [("80/udp", {"HostIp": "", "HostPort": "8080"})]
    assert parse_expose("53/udp") == ["53/udp"]
    for bad in ("8000-8002:80-81", "80/xdp", "abc", "1.2.3:80:80", "0"):
        with pytest.raises(CommandError):
            parse_publish(bad)


def _created(daemon: Daemon, cli: str, name: str, extra: list[str]) -> dict:
    run = daemon.cli if cli == "dockyard" else daemon.docker
    ok(run("create", "--name", name, *extra, "busybox", "sleep", "60"))
    return json.loads(ok(daemon.docker("inspect", name)))[0]


def test_create_body_matches_docker_cli(clean: Daemon, need_docker_cli: None) -> None:
    net = unique("flags")
    ok(clean.docker("network", "create", "--subnet", "10.214.0.0/24", net))
    mine, theirs = unique("mine"), unique("theirs")
    try:
        docs = [_created(clean, cli, name, FLAGS) for cli, name in (("dockyard", mine), ("docker", theirs))]
        for key in ("PortBindings", "PublishAllPorts", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts"):
            assert docs[0]["HostConfig"][key] == docs[1]["HostConfig"][key], key
        for key in ("ExposedPorts", "Domainname"):
            assert docs[0]["Config"][key] == docs[1]["Config"][key], key
        clean.docker("rm", "-f", mine, theirs)
        docs = [_created(clean, cli, name, ["--network", net, *ENDPOINT_FLAGS])
                for cli, name in (("dockyard", mine), ("docker", theirs + "x"))]
        first, second = (d["NetworkSettings"]["Networks"][net] for d in docs)
        for key in ("IPAMConfig", "Aliases", "MacAddress"):
            assert first[key] == second[key], key
        assert first["IPAMConfig"] == {"IPv4Address": "10.214.0.50"} and first["Aliases"] == ["api"]
    finally:
        clean.docker("rm", "-f", mine, theirs, theirs + "x")
        clean.docker("network", "rm", net)


def test_port_output_matches_docker_port(clean: Daemon, need_docker_cli: None) -> None:
    name = unique("ports")
    try:
        udp = free_port()
        ok(clean.cli("run", "-d", "--name", name, "-p", "127.0.0.1::8080", "-p", f"{udp}:80/udp", "--expose", "7001",
                     "-P", "busybox", "sleep", "60"))
        for query in ([], ["8080"], ["80/udp"], ["7001/tcp"]):
            ours = ok(clean.cli("port", name, *query))
            assert ours and ours == ok(clean.docker("port", name, *query)), query
        ours, theirs = clean.cli("port", name, "1234"), clean.docker("port", name, "1234")
        assert ours.returncode == theirs.returncode == 1
        assert ours.stderr.replace(b"dockyard", b"docker") == theirs.stderr
    finally:
        clean.docker("rm", "-f", name)
