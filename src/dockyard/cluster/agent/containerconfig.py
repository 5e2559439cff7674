"""A task's container as dockerd's swarm executor makes it (moby `daemon/cluster/executor/container`): the Engine
API create body from the task's ContainerSpec, named `<service>.<slot>.<task id>`, labelled `com.docker.swarm.*`."""

from __future__ import annotations

from typing import Any

from dockyard.cluster.ingress import INGRESS
from dockyard.cluster.tasks import Task, task_name

NANO = 1_000_000_000
DEFAULT_GRACE = 10 * NANO
SWARM_LABEL = "com.docker.swarm."


def swarm_labels(task: Task, service_name: str) -> dict[str, str]:
    """The labels dockerd puts on every task container."""
    return {SWARM_LABEL + "node.id": task.get("NodeID", ""), SWARM_LABEL + "service.id": task["ServiceID"],
            SWARM_LABEL + "service.name": service_name, SWARM_LABEL + "task": "",
            SWARM_LABEL + "task.id": task["ID"], SWARM_LABEL + "task.name": task_name(task, service_name)}


def extra_hosts(hosts: list[str]) -> list[str]:
    """ContainerSpec.Hosts ("IP name [alias...]") as HostConfig.ExtraHosts ("name:IP")."""
    out = []
    for line in hosts:
        parts = line.split()
        out += [f"{name}:{parts[0]}" for name in parts[1:]]
    return out


def grace_seconds(spec: dict[str, Any]) -> int:
    """StopGracePeriod in whole seconds (10 by default)."""
    return int(spec.get("StopGracePeriod", DEFAULT_GRACE) // NANO)


def task_networks(task: Task, published: bool) -> list[tuple[str, str | None]]:
    """(network name, address) of each network a task's container joins, with the addresses the allocator gave it:
    the ingress overlay first when its service publishes ports, then its swarm networks."""
    attached: list[tuple[str, str | None]] = [(a["Network"]["Spec"]["Name"], a["Addresses"][0].partition("/")[0])
                                              for a in task.get("NetworksAttachments") or []]
    if published and INGRESS not in (name for name, _ in attached):
        return [(INGRESS, None), *attached]  # made before the swarm had its ingress object: allocated here
    return attached


def create_body(task: Task, service_name: str, networks: list[tuple[str, str | None]]) -> dict[str, Any]:
    """The container create body for a task: on `networks` (the first is its NetworkMode, each with its address)
    when it has some, else on the default bridge."""
    spec = task["Spec"]["ContainerSpec"]
    limits = (task["Spec"].get("Resources") or {}).get("Limits") or {}
    dns = spec.get("DNSConfig") or {}
    log_driver = task["Spec"].get("LogDriver")
    host: dict[str, Any] = {
        "Init": spec.get("Init"), "ReadonlyRootfs": spec.get("ReadOnly", False), "CapAdd": spec.get("CapabilityAdd"),
        "CapDrop": spec.get("CapabilityDrop"), "Sysctls": spec.get("Sysctls"), "Mounts": spec.get("Mounts"),
        "ExtraHosts": extra_hosts(spec.get("Hosts") or []), "Dns": dns.get("Nameservers"),
        "DnsSearch": dns.get("Search"), "DnsOptions": dns.get("Options"), "GroupAdd": spec.get("Groups"),
        "NanoCpus": limits.get("NanoCPUs", 0), "Memory": limits.get("MemoryBytes", 0),
        "PidsLimit": limits.get("Pids") or None, "Ulimits": spec.get("Ulimits"),
        "OomScoreAdj": spec.get("OomScoreAdj", 0),
        "LogConfig": {"Type": log_driver["Name"], "Config": log_driver.get("Options") or {}} if log_driver else None,
        "NetworkMode": networks[0][0] if networks else None,
    }
    body: dict[str, Any] = {
        "Image": spec["Image"], "Labels": {**(spec.get("Labels") or {}), **swarm_labels(task, service_name)},
        "Hostname": spec.get("Hostname", ""), "User": spec.get("User", ""), "WorkingDir": spec.get("Dir", ""),
        "Env": spec.get("Env"), "Tty": spec.get("TTY", False), "OpenStdin": spec.get("OpenStdin", False),
        "StopSignal": spec.get("StopSignal") or None, "StopTimeout": grace_seconds(spec),
        "Healthcheck": spec.get("Healthcheck"),
        "HostConfig": {k: v for k, v in host.items() if v is not None},
    }
    if networks:
        body["NetworkingConfig"] = {"EndpointsConfig": {
            name: {"IPAMConfig": {"IPv4Address": address}} if address else {} for name, address in networks}}
    if spec.get("Command"):
        body["Entrypoint"] = spec["Command"]
    if spec.get("Args"):
        body["Cmd"] = spec["Args"]
    bindings = port_bindings(task)
    if bindings:  # host-mode ports, published as `-p` is
        body["ExposedPorts"] = {key: {} for key in bindings}
        body["HostConfig"]["PortBindings"] = bindings
    return {k: v for k, v in body.items() if v is not None}


def port_bindings(task: Task) -> dict[str, list[dict[str, str]]]:
    """The host-mode ports of the task's Endpoint as its container's PortBindings (dockerd's executor: an empty
    HostPort when none is published, the node picks one)."""
    return {f"{p['TargetPort']}/{p.get('Protocol', 'tcp')}": [{"HostIp": "", "HostPort": str(p.get("PublishedPort")
                                                                                             or "")}]
            for p in (task.get("Endpoint") or {}).get("Ports") or [] if p.get("PublishMode") == "host"}


def port_status(ports: dict[str, list[dict[str, str]] | None]) -> dict[str, Any]:
    """Status.PortStatus from the container's NetworkSettings.Ports: one entry per binding, as dockerd reports."""
    found = [{"Protocol": key.partition("/")[2], "TargetPort": int(key.partition("/")[0]),
              "PublishedPort": int(binding["HostPort"]), "PublishMode": "host"}
             for key, bindings in ports.items() for binding in bindings or []]
    return {"Ports": found} if found else {}
