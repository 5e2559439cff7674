"""Legacy links (`--link name:alias`) as dockerd keeps them: checked at create, recorded in the parent's
HostConfig.Links by the child's id, shown as `/child:/parent/alias`, and turned at start into the parent's
`ALIAS_*` environment and /etc/hosts entries (default bridge only); the pure parts live here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from dockyard.containers.record import ContainerRecord
from dockyard.errors import InvalidParameter, NotFound, SystemError_

HOST_AND_LINKS = ("conflicting options: host type networking can't be used with links. This would result in "
                  "undefined behavior")


@dataclass(frozen=True)
class Linked:
    """What a parent's links give it at start: environment variables and /etc/hosts entries (`names:address`)."""

    env: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


class Links:
    """Links between recorded containers, read from the records as last saved (from any thread)."""

    def __init__(self, get: Callable[[str], ContainerRecord], docs: Callable[[], Iterable[ContainerRecord]]) -> None:
        self._get = get  # a container by id, name or prefix; NotFound otherwise
        self._docs = docs  # every recorded container

    def register(self, host: dict[str, Any]) -> list[str] | None:
        """HostConfig.Links of a new container as recorded (`<child id>:<alias>`), checked as dockerd's
        registerLinks does; None on a user network, where links only give the resolver aliases."""
        mode = host.get("NetworkMode") or "default"
        if not host.get("Links") or is_user_defined(mode):
            return None
        if mode == "host":
            raise InvalidParameter(HOST_AND_LINKS)
        out = []
        for text in host["Links"]:
            name, alias = parse_link(str(text))
            child = self._child(name)
            while (child.host_config.get("NetworkMode") or "").startswith("container:"):
                child = self._child(child.host_config["NetworkMode"].partition(":")[2])
            if child.host_config.get("NetworkMode") == "host":
                raise InvalidParameter(HOST_AND_LINKS)
            out.append(f"{child.id}:{alias}")
        return out

    def _child(self, name: str) -> ContainerRecord:
        try:
            return self._get(name)
        except NotFound as missing:  # the request's fault: a 404 would make the CLI pull the image
            raise InvalidParameter(f"could not get container for {name}: {missing.message}") from None

    def at_start(self, parent: ContainerRecord) -> Linked:
        """The environment and hosts entries a parent on the default bridge gets from its running children
        (nothing off the bridge, as dockerd's setupLinkedContainers)."""
        if not bridge_ip(parent)[0]:
            return Linked()
        env: list[str] = []
        hosts: list[str] = []
        names = {doc.id: doc for doc in self._docs()}
        for child_id, alias in recorded(parent.host_config.get("Links")):
            child = names.get(child_id)
            if child is None:
                continue  # removed this moment: its removal takes the link away
            env += environment(f"{parent.name}/{alias}", check_child(child, parent.name, alias), child)
            hosts += hosts_entries(child, alias)
        return Linked(tuple(env), tuple(hosts))

    def parents_of(self, child_id: str) -> list[str]:
        """The ids of the containers that link to `child_id`."""
        return [doc.id for doc in self._docs() if any(cid == child_id for cid, _ in
                                                      recorded(doc.host_config.get("Links")))]

    def find(self, link_name: str) -> tuple[str, str]:
        """(parent id, alias) of a link name (`/parent/alias`) for `rm --link`, with dockerd's errors."""
        name = link_name if link_name.startswith("/") else "/" + link_name
        parent_name, _, alias = name.rpartition("/")
        if not parent_name:
            self._get(link_name)
            raise SystemError_("Conflict, cannot remove the default link name of the container")
        for doc in self._docs():
            if doc.name == parent_name and any(a == alias for _, a in recorded(doc.host_config.get("Links"))):
                return doc.id, alias
        raise NotFound(f"No such container: {link_name}")


def parse_link(text: str) -> tuple[str, str]:
    """(name, alias) of a link as dockerd's ParseLink reads it: `name`, `name:alias` or `/name:/parent/alias`."""
    if not text:
        raise InvalidParameter("empty string specified for links")
    parts = text.split(":", 2)
    if len(parts) > 2:
        raise InvalidParameter(f"bad format for links: {text}")
    if len(parts) == 1:
        return text, text
    if parts[0].startswith("/"):
        return parts[0][1:], parts[1].rsplit("/", 1)[-1]
    return parts[0], parts[1]


def is_user_defined(mode: str) -> bool:
    """Whether a NetworkMode names a user network (where links are the resolver's business, not ours)."""
    return mode not in ("", "default", "bridge", "host", "none") and not mode.startswith("container:")


def recorded(links: list[str] | None) -> Iterator[tuple[str, str]]:
    """(child id, alias) of each link a parent's record keeps."""
    for link in links or []:
        child_id, _, alias = link.partition(":")
        yield child_id, alias


def shown(parent: ContainerRecord, names: dict[str, str]) -> list[str] | None:
    """HostConfig.Links as dockerd's inspect shows them (`/child:/parent/alias`); `names` maps ids to names."""
    out = [f"{names[cid]}:{parent.name}/{alias}" for cid, alias in recorded(parent.host_config.get("Links"))
           if cid in names]
    return out or None


def link_names(parents: Iterable[ContainerRecord]) -> dict[str, list[str]]:
    """child id -> the names links give it (`/parent/alias`), which `ps` lists after its own."""
    out: dict[str, list[str]] = {}
    for parent in parents:
        for cid, alias in recorded(parent.host_config.get("Links")):
            out.setdefault(cid, []).append(f"{parent.name}/{alias}")
    return out


def without(links: list[str] | None, child_id: str | None = None, alias: str | None = None) -> list[str] | None:
    """A parent's recorded links but those to `child_id` (a child removed) or named `alias` (`rm --link`)."""
    kept = [link for link in links or [] if link.partition(":")[0] != child_id and link.partition(":")[2] != alias]
    return kept or None


def drop_hosts_entries(hosts: Path, alias: str) -> None:
    """Take a removed link's lines (those naming `alias` first) out of a running parent's /etc/hosts."""
    with open(hosts, "r+") as f:  # in place: the container has this very inode bind-mounted
        kept = [line for line in f if line.partition("\t")[2].split(" ", 1)[0].strip() != alias]
        f.seek(0)
        f.write("".join(kept))
        f.truncate()


def bridge_ip(doc: ContainerRecord) -> tuple[str, str]:
    """(IPv4, IPv6) address of a container on the default bridge ("" when it has none)."""
    entry = doc.network_settings.networks.get("bridge") or {}
    return entry.get("IPAddress") or "", entry.get("GlobalIPv6Address") or ""


def check_child(child: ContainerRecord, parent_name: str, alias: str) -> str:
    """The child's bridge address, or dockerd's start error for a child that is not running or not there."""
    if not child.state.running:
        raise SystemError_(f"Cannot link to a non running container: {child.name} AS {parent_name}/{alias}")
    ip, _ = bridge_ip(child)
    if not ip:
        raise SystemError_(f"container {child.id} not attached to default bridge network")
    return ip


def hosts_entries(child: ContainerRecord, alias: str) -> list[str]:
    """The parent's /etc/hosts lines for a link (`names:address`, as --add-host entries are kept): the alias, the
    child's hostname and, unless it is the alias, its name."""
    names = f"{alias} {child.config.get('Hostname', '')}"
    if alias != child.name[1:]:
        names += f" {child.name[1:]}"
    return [f"{names}:{ip}" for ip in bridge_ip(child) if ip]


def environment(link_name: str, child_ip: str, child: ContainerRecord) -> list[str]:
    """dockerd's link variables for one child (links.Link.ToEnv): `ALIAS_PORT*` for each exposed port and port
    range, `ALIAS_NAME`, and `ALIAS_ENV_*` for the child's environment but HOME and PATH."""
    alias = link_name.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = sorted(_ports(child.config.get("ExposedPorts")), key=_tcp_first)
    env: list[str] = []
    start = end = ports[0] if ports else (0, "")
    for i, (port, proto) in enumerate(ports):
        if i == 0:
            env.append(f"{alias}_PORT={proto}://{child_ip}:{port}")
        prefix = f"{alias}_PORT_{port}_{proto.upper()}"
        env += [f"{prefix}={proto}://{child_ip}:{port}", f"{prefix}_ADDR={child_ip}", f"{prefix}_PORT={port}",
                f"{prefix}_PROTO={proto}"]
        if port == end[0] + 1 and proto.lower() == start[1].lower():
            end = (port, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            prefix = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            env += [f"{prefix}_START={start[1]}://{child_ip}:{start[0]}", f"{prefix}_PORT_START={start[0]}",
                    f"{prefix}_END={end[1]}://{child_ip}:{end[0]}", f"{prefix}_PORT_END={end[0]}"]
        start = end = (port, proto)
    env.append(f"{alias}_NAME={link_name}")
    for item in child.config.get("Env") or []:
        name, sep, value = item.partition("=")
        if sep and name not in ("HOME", "PATH"):
            env.append(f"{alias}_ENV_{name}={value}")
    return env


def _ports(exposed: dict[str, Any] | None) -> Iterator[tuple[int, str]]:
    for key in exposed or {}:
        port, _, proto = key.partition("/")
        yield int(port), proto or "tcp"


def _tcp_first(port: tuple[int, str]) -> tuple[bool, str, int]:
    """nat.Sort with dockerd's withTCPPriority: tcp ports first, then by protocol, each by number."""
    return port[1].lower() != "tcp", port[1].lower(), port[0]
