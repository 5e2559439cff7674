"""The network service: networks (bridge, host, none), container endpoints, embedded DNS and published ports."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import ipaddress
import logging
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dockyard.errors import Conflict, DockyardError, Forbidden, InvalidParameter, NotFound
from dockyard.network import bridge, firewall, ipam, netns, portnat
from dockyard.network.dns import ADDRESS, DnsServer, host_resolvers
from dockyard.network.portmap import Binding, PortProxy, bindings_of
from dockyard.network.store import NetworkStore
from dockyard.network.views import BUILTIN, LIST_FILTERS, endpoint_settings, matches, network_view, ports_view
from dockyard.util.aio import run_blocking
from dockyard.util.filters import check_keys
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)
logging.getLogger("pyroute2").setLevel(logging.WARNING)  # its debug output would flood the daemon log

HOST_LOCK = Path("/run/lock/dockyard-network.lock")  # shared by every daemon on the host: subnets, bridge names
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
MTU_OPT = "com.docker.network.driver.mtu"
DRIVERS = {"bridge": "bridge", "host": "host", "null": "null", "none": "null"}


@dataclass
class Live:
    """What a running sandbox holds in the daemon: its resolver and its port proxies."""

    dns: DnsServer | None = None
    proxy: PortProxy = field(default_factory=PortProxy)


@contextmanager
def host_lock() -> Iterator[None]:
    """Serialize subnet and bridge-name choices with every other daemon on this host."""
    HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(HOST_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _tag(record: dict[str, Any]) -> str:
    """The alias our bridges carry: which network (of which daemon) owns them."""
    return f"dockyard:{record['Id'][:24]}"


def _new_record(name: str, driver: str, **extra: Any) -> dict[str, Any]:
    record = {"Name": name, "Id": secrets.token_hex(32), "Created": now_rfc3339(), "Scope": "local",
              "Driver": driver, "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": []},
              "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
              "ConfigOnly": False, "Options": {}, "Labels": {}}
    record.update(extra)
    return record


class NetworkService:
    """Owns network records and every container's namespace, veths, resolver and published ports."""

    def __init__(self, store: NetworkStore, exec_root: Path, events: Any) -> None:
        self._store = store
        self._netns_dir = exec_root / "netns"
        self._events = events
        self._networks: dict[str, dict[str, Any]] = {}
        self._sandboxes: dict[str, dict[str, Any]] = {}
        self._live: dict[str, Live] = {}
        self._lock = asyncio.Lock()
        self._containers: Any = None
        self._up: set[str] = set()  # networks whose bridge and chains this daemon has set up and not taken down

    def bind_containers(self, containers: Any) -> None:
        """The container service, for connect/disconnect (`network_doc`, `save_network`)."""
        self._containers = containers

    # ----- lookups ------------------------------------------------------------------------------

    def get(self, ref: str) -> dict[str, Any]:
        """A network by full id, name, or unique id prefix."""
        if ref in self._networks:
            return self._networks[ref]
        for record in self._networks.values():
            if record["Name"] == ref:
                return record
        found = [r for r in self._networks.values() if ref and r["Id"].startswith(ref)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise NotFound(f"network {ref} is ambiguous ({len(found)} matches found on name)")
        raise NotFound(f"network {ref} not found")

    def _endpoints_of(self, network_id: str) -> dict[str, dict[str, Any]]:
        """container id -> endpoint, for every running container on the network."""
        return {cid: sb["Endpoints"][network_id] for cid, sb in self._sandboxes.items()
                if network_id in sb["Endpoints"]}

    def _containers_view(self, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        prefix = ipaddress.IPv4Network(record["IPAM"]["Config"][0]["Subnet"]).prefixlen \
            if record["IPAM"]["Config"] else 0
        return {cid: {"Name": self._sandboxes[cid]["Name"], "EndpointID": ep["EndpointID"], "MacAddress": ep["Mac"],
                      "IPv4Address": f"{ep['IP']}/{prefix}", "IPv6Address": ""}
                for cid, ep in self._endpoints_of(record["Id"]).items()}

    def inspect(self, ref: str) -> dict[str, Any]:
        record = self.get(ref)
        return network_view(record, self._containers_view(record))

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        """GET /networks with docker's filters."""
        check_keys(filters, LIST_FILTERS)
        return [network_view(r, self._containers_view(r)) for r in self._networks.values()
                if matches(r, filters, bool(self._endpoints_of(r["Id"])))]

    # ----- start-up and shutdown ----------------------------------------------------------------

    async def restore(self) -> None:
        """Load networks and sandboxes, bring bridges back, re-open resolvers and proxies, drop stale pins."""
        for record in await run_blocking(lambda: list(self._store.networks())):
            self._networks[record["Id"]] = record
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            if not any(r["Name"] == name for r in self._networks.values()):
                await self._create_record(_new_record(name, driver), default=name == "bridge")
        for sandbox in await run_blocking(lambda: list(self._store.sandboxes())):
            self._sandboxes[sandbox["Id"]] = sandbox
        await run_blocking(self._sweep_pins)
        for record in self._networks.values():
            if record["Driver"] == "bridge" and (record["Name"] != "bridge" or self._endpoints_of(record["Id"])):
                try:
                    await run_blocking(self._ensure_up, record)
                except DockyardError as failed:  # the daemon still starts; this network's containers cannot
                    log.error("network %s cannot be brought up: %s", record["Name"], failed.message)
        for cid, sandbox in self._sandboxes.items():
            if netns.is_pinned(Path(sandbox["Key"])):
                await self._open_live(cid, sandbox, restoring=True)

    def _sweep_pins(self) -> None:
        """Unpin namespaces no sandbox record owns (a crash between pinning and recording)."""
        if not self._netns_dir.is_dir():
            return
        owned = {Path(sb["Key"]).name for sb in self._sandboxes.values()}
        for pin in self._netns_dir.iterdir():
            if pin.name not in owned:
                netns.destroy(pin)
                self._unforward(pin.name)

    async def shutdown(self) -> None:
        """Close resolvers and proxies; take down bridges no running container uses (they come back at start)."""
        for live in self._live.values():
            await self._close_live(live)
        self._live.clear()
        for record in self._networks.values():
            if record["Driver"] == "bridge" and not self._endpoints_of(record["Id"]):
                await run_blocking(self._take_down, record)

    # ----- bridges ------------------------------------------------------------------------------

    def _ensure_up(self, record: dict[str, Any]) -> None:
        """Create the network's bridge and firewall chains unless they exist; re-pick an automatic subnet
        or default bridge name that another daemon has taken meanwhile."""
        if record["Id"] in self._up and bridge.owner(record["Bridge"]) == _tag(record):
            return  # set up by this daemon and still ours: no netlink or nft work on the start path
        with host_lock():
            name = record["Bridge"]
            mine = {r["Bridge"] for r in self._networks.values() if r.get("Bridge")}
            config = record["IPAM"]["Config"][0]
            found = bridge.owner(name)
            if found is not None and found != _tag(record):
                if record["Name"] != "bridge" or self._endpoints_of(record["Id"]):
                    raise Conflict(f"bridge {name} already exists on the host and is not this network's")
                record["Bridge"] = name = self._free_default_name(mine)
                record["Options"][BRIDGE_NAME_OPT] = name
            if found != _tag(record):
                subnet = ipaddress.IPv4Network(config["Subnet"])
                routes = bridge.host_routes(exclude={name})
                if any(subnet.overlaps(r) for r in routes):
                    if not record.get("AutoSubnet"):
                        raise Forbidden(f"Pool overlaps with other one on this address space: {subnet}")
                    subnet = ipam.pick_subnet(routes + self._subnets(except_id=record["Id"]))
                    record["IPAM"]["Config"] = [{"Subnet": str(subnet), "Gateway": str(ipam.default_gateway(subnet))}]
                self._store.save_network(record)
            config = record["IPAM"]["Config"][0]
            prefix = ipaddress.IPv4Network(config["Subnet"]).prefixlen
            bridge.ensure_bridge(name, f"{config['Gateway']}/{prefix}", int(record["Options"].get(MTU_OPT, 1500)),
                                 _tag(record))
            firewall.install(name, config["Subnet"], bool(record.get("Internal")))
            self._up.add(record["Id"])

    @staticmethod
    def _free_default_name(mine: set[str]) -> str:
        for n in range(1, 100):
            name = f"dockyard{n}"
            if name not in mine and bridge.owner(name) is None:
                return name
        raise Conflict("no free name for the default bridge")

    def _take_down(self, record: dict[str, Any]) -> None:
        """Remove the network's bridge and chains, if they are ours (another daemon may use the name now)."""
        self._up.discard(record["Id"])
        with host_lock():
            if bridge.owner(record["Bridge"]) == _tag(record):
                firewall.remove(record["Bridge"])
                bridge.delete_link(record["Bridge"])

    def _subnets(self, except_id: str = "") -> list[ipaddress.IPv4Network]:
        return [ipaddress.IPv4Network(c["Subnet"]) for r in self._networks.values() if r["Id"] != except_id
                for c in r["IPAM"]["Config"]]

    # ----- create / remove / prune --------------------------------------------------------------

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /networks/create."""
        if not isinstance(body, dict) or not isinstance(body.get("Name"), str) or not body["Name"]:
            raise InvalidParameter("network name is required" if isinstance(body, dict) else "invalid JSON body")
        name = body["Name"]
        if not name.strip():  # libnetwork's IsValidName
            raise InvalidParameter(f"invalid name: {name}")
        driver = body.get("Driver") or "bridge"
        if driver in ("host", "null", "none"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if name in BUILTIN:
            raise Forbidden(f"{name} is a pre-defined network and cannot be created")
        options = {k: str(v) for k, v in (body.get("Options") or {}).items()}
        record = _new_record(name, "bridge", Internal=bool(body.get("Internal")),
                             Attachable=bool(body.get("Attachable")), Labels=dict(body.get("Labels") or {}),
                             Options=options)
        record["IPAM"]["Options"] = (body.get("IPAM") or {}).get("Options")
        record["IPAM"]["Config"] = self._ipam_config(body.get("IPAM") or {})
        async with self._lock:
            await self._create_record(record, default=False)
        self._events.publish("network", "create", record["Id"], {"name": name, "type": "bridge"})
        return {"Id": record["Id"], "Warning": ""}

    @staticmethod
    def _ipam_config(ipam_body: dict[str, Any]) -> list[dict[str, str]]:
        """Validate user IPAM settings (one IPv4 pool at most); [] means pick one."""
        configs = ipam_body.get("Config") or []
        if len(configs) > 1:
            raise InvalidParameter("only one IPv4 address pool per network is supported")
        out = []
        for config in configs:
            subnet = ipam.parse_subnet(config.get("Subnet") or "")
            gateway = ipam.parse_address(config["Gateway"], "gateway") if config.get("Gateway") \
                else ipam.default_gateway(subnet)
            if gateway not in subnet:
                raise InvalidParameter(f"gateway {gateway} is not in subnet {subnet}")
            entry = {"Subnet": str(subnet), "Gateway": str(gateway)}
            if config.get("IPRange"):
                ip_range = ipam.parse_subnet(config["IPRange"])
                if not ip_range.subnet_of(subnet):
                    raise InvalidParameter(f"ip-range {ip_range} is not in subnet {subnet}")
                entry["IPRange"] = str(ip_range)
            out.append(entry)
        return out

    async def _create_record(self, record: dict[str, Any], default: bool) -> None:
        """Pick the subnet and bridge name, record the network and (except the default bridge) bring it up."""
        if record["Driver"] == "bridge":
            if not record["IPAM"]["Config"]:
                routes = await run_blocking(bridge.host_routes)
                subnet = ipam.pick_subnet(routes + self._subnets())
                record["IPAM"]["Config"] = [{"Subnet": str(subnet), "Gateway": str(ipam.default_gateway(subnet))}]
                record["AutoSubnet"] = True
            else:
                subnet = ipaddress.IPv4Network(record["IPAM"]["Config"][0]["Subnet"])
                if any(subnet.overlaps(s) for s in self._subnets()):
                    raise Forbidden(f"Pool overlaps with other one on this address space: {subnet}")
            mtu = await run_blocking(bridge.host_mtu)
            record["Options"].setdefault(MTU_OPT, str(mtu))
            if default:
                record["Options"].update({"com.docker.network.bridge.default_bridge": "true",
                                          "com.docker.network.bridge.enable_icc": "true",
                                          "com.docker.network.bridge.enable_ip_masquerade": "true",
                                          BRIDGE_NAME_OPT: "dockyard0"})
            record["Bridge"] = record["Options"].get(BRIDGE_NAME_OPT) or f"dy-{record['Id'][:12]}"
            if len(record["Bridge"]) > 15:
                raise InvalidParameter(f"bridge name {record['Bridge']} is longer than 15 characters")
        await run_blocking(self._store.insert_network, record)
        self._networks[record["Id"]] = record
        if record["Driver"] == "bridge" and not default:
            try:
                await run_blocking(self._ensure_up, record)
            except BaseException:
                self._networks.pop(record["Id"], None)
                await run_blocking(self._store.delete_network, record["Id"])
                raise

    async def remove(self, ref: str) -> None:
        """DELETE /networks/{id}: refused for the predefined ones and while containers are attached."""
        async with self._lock:
            record = self.get(ref)
            if record["Name"] in BUILTIN:
                raise Forbidden(f"{record['Name']} is a pre-defined network and cannot be removed")
            if self._endpoints_of(record["Id"]):
                raise Conflict(f"error while removing network: network {record['Name']} id {record['Id']} "
                               "has active endpoints")
            await run_blocking(self._take_down, record)
            await run_blocking(self._store.delete_network, record["Id"])
            del self._networks[record["Id"]]
        self._events.publish("network", "destroy", record["Id"], {"name": record["Name"], "type": "bridge"})

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """POST /networks/prune: every user network without endpoints."""
        check_keys(filters, ("until", "label", "label!"))
        deleted = []
        for record in list(self._networks.values()):
            if record["Name"] in BUILTIN or self._endpoints_of(record["Id"]):
                continue
            if not matches(record, {"label": filters.get("label", [])}, False):
                continue
            if any(record.get("Labels", {}).get(k.partition("=")[0]) is not None for k in filters.get("label!", [])):
                continue
            await self.remove(record["Id"])
            deleted.append(record["Name"])
        self._events.publish("network", "prune", "", {})
        return {"NetworksDeleted": deleted or None}

    # ----- container create: which networks ------------------------------------------------------

    def plan(self, host_config: dict[str, Any], networking: Any, config: dict[str, Any]) -> dict[str, Any]:
        """Validate NetworkMode and NetworkingConfig; NetworkSettings.Networks of a new container."""
        mode = host_config.get("NetworkMode") or "default"
        if mode.startswith("container:"):
            raise InvalidParameter("network mode container:<id> is not supported")
        wanted = (networking or {}).get("EndpointsConfig") or {} if isinstance(networking, dict) else {}
        if not isinstance(wanted, dict):
            raise InvalidParameter("NetworkingConfig.EndpointsConfig must be an object")
        wanted = {("bridge" if name == "default" else name): settings for name, settings in wanted.items()}
        primary = self._known("bridge" if mode == "default" else mode)
        networks: dict[str, Any] = {}
        order = [primary["Name"]] + [n for n in wanted if self._known(n)["Id"] != primary["Id"]]
        for name in order:
            record = self._known(name)
            settings = wanted.get(name) or wanted.get(record["Id"]) or wanted.get(mode) or {}
            if not isinstance(settings, dict):
                raise InvalidParameter("EndpointSettings must be an object")
            if record["Driver"] != "bridge" and len(order) > 1:
                raise InvalidParameter("container sharing network namespace with another container or host "
                                       "cannot be connected to any other network")
            ipam_config = settings.get("IPAMConfig") or None
            if ipam_config and ipam_config.get("IPv4Address") and record["Name"] == "bridge":
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            if settings.get("Aliases") and record["Name"] in BUILTIN:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined "
                                       "networks")
            mac = settings.get("MacAddress") or (config.get("MacAddress") if name == order[0] else "") or ""
            networks[record["Name"]] = endpoint_settings(record["Id"], list(settings.get("Aliases") or []),
                                                         ipam_config, mac)
        return networks

    def _known(self, ref: str) -> dict[str, Any]:
        """A network a container asks for; a bad one is the request's fault (a 404 would make the CLI pull)."""
        try:
            return self.get(ref)
        except NotFound as missing:
            raise InvalidParameter(missing.message) from None

    # ----- container start / exit ---------------------------------------------------------------

    async def attach(self, doc: dict[str, Any]) -> None:
        """Before the container starts: its namespace, an endpoint per network, resolver and published ports."""
        networks = doc["NetworkSettings"]["Networks"] or self.plan(doc["HostConfig"], None, doc["Config"])
        doc["NetworkSettings"]["Networks"] = networks
        records = [self.get(settings.get("NetworkID") or name) for name, settings in networks.items()]
        if not records or records[0]["Driver"] != "bridge":
            doc["NetworkSettings"]["Ports"] = ports_view(doc["Config"].get("ExposedPorts"), {})
            return
        container_id = doc["Id"]
        pin = self._netns_dir / container_id[:12]
        sandbox = {"Id": container_id, "Key": str(pin), "Name": doc["Name"].lstrip("/"),
                   "Dns": list(doc["HostConfig"].get("Dns") or []), "Endpoints": {}, "Ports": {}}
        async with self._lock:
            self._sandboxes[container_id] = sandbox
            try:
                await run_blocking(netns.create, pin)
                for record in records:
                    await self._add_endpoint(sandbox, record, networks[record["Name"]])
                await self._open_live(container_id, sandbox, restoring=False)
                await self._publish(doc, sandbox)
            except BaseException:
                await self._teardown(container_id)
                raise
        self._fill_settings(doc, sandbox)

    async def _add_endpoint(self, sandbox: dict[str, Any], record: dict[str, Any], settings: dict[str, Any]) -> None:
        """Allocate an address on the network and plumb a veth for it into the sandbox."""
        if record["Driver"] != "bridge":
            raise InvalidParameter(f"cannot connect a container to network {record['Name']} as well")
        await run_blocking(self._ensure_up, record)
        config = record["IPAM"]["Config"][0]
        subnet = ipaddress.IPv4Network(config["Subnet"])
        reserved = {ipaddress.IPv4Address(config["Gateway"])}
        reserved |= {ipaddress.IPv4Address(ep["IP"]) for ep in self._endpoints_of(record["Id"]).values()}
        wanted = (settings.get("IPAMConfig") or {}).get("IPv4Address")
        address = ipam.allocate(subnet, ipaddress.IPv4Network(config["IPRange"]) if config.get("IPRange") else None,
                                reserved, ipam.parse_address(wanted) if wanted else None)
        routed = not record.get("Internal") and not any(
            ep.get("Gateway") for ep in sandbox["Endpoints"].values())
        tag = hashlib.sha256(f"{sandbox['Id']}/{record['Id']}".encode()).hexdigest()[:10]
        ifname = f"eth{self._next_ifindex(sandbox)}"
        endpoint = {"IP": str(address), "Prefix": subnet.prefixlen, "Mac": settings.get("MacAddress")
                    or ipam.mac_of(address), "Ifname": ifname, "HostIfname": f"dyv{tag}",
                    "Gateway": config["Gateway"] if routed else "", "NetworkGateway": config["Gateway"],
                    "Aliases": list(settings.get("Aliases") or []), "EndpointID": secrets.token_hex(32),
                    "User": record["Name"] not in BUILTIN}
        sandbox["Endpoints"][record["Id"]] = endpoint
        try:
            await run_blocking(bridge.add_endpoint, record["Bridge"], self._endpoint(sandbox, endpoint, record))
        except BaseException:
            del sandbox["Endpoints"][record["Id"]]
            raise
        await run_blocking(self._store.save_sandbox, sandbox)

    @staticmethod
    def _next_ifindex(sandbox: dict[str, Any]) -> int:
        used = {int(ep["Ifname"][3:]) for ep in sandbox["Endpoints"].values()}
        return next(n for n in range(len(used) + 1) if n not in used)

    @staticmethod
    def _endpoint(sandbox: dict[str, Any], ep: dict[str, Any], record: dict[str, Any]) -> bridge.Endpoint:
        return bridge.Endpoint(netns=Path(sandbox["Key"]), host_ifname=ep["HostIfname"], ifname=ep["Ifname"],
                               address=f"{ep['IP']}/{ep['Prefix']}", mac=ep["Mac"], gateway=ep["Gateway"] or None,
                               mtu=int(record["Options"].get(MTU_OPT, 1500)))

    async def _open_live(self, container_id: str, sandbox: dict[str, Any], restoring: bool) -> None:
        """Start the resolver (user networks only) and the port proxies of a sandbox."""
        live = self._live.setdefault(container_id, Live())
        if live.dns is None and any(ep["User"] for ep in sandbox["Endpoints"].values()):
            live.dns = await DnsServer.start(Path(sandbox["Key"]), lambda name: self._resolve(container_id, name),
                                             lambda: sandbox["Dns"] or host_resolvers())
        if restoring:
            for key, entries in sandbox["Ports"].items():
                port, _, proto = key.partition("/")
                for entry in entries:
                    binding = Binding(int(port), proto, entry["HostIp"], entry["HostPort"])
                    await live.proxy.publish(binding, self._primary_ip(sandbox), int(entry["HostPort"]))
            await run_blocking(self._forward_in_kernel, sandbox)

    async def _publish(self, doc: dict[str, Any], sandbox: dict[str, Any]) -> None:
        """Open the container's published ports and record them in the sandbox and NetworkSettings.Ports."""
        live = self._live[doc["Id"]]
        published: dict[str, list[dict[str, str]]] = {}
        for binding in bindings_of(doc["HostConfig"], doc["Config"].get("ExposedPorts")):
            host_ip, host_port = await live.proxy.publish(binding, self._primary_ip(sandbox))
            published.setdefault(binding.key, []).append({"HostIp": host_ip, "HostPort": str(host_port)})
        sandbox["Ports"] = published
        await run_blocking(self._store.save_sandbox, sandbox)
        if published:  # a fresh sandbox has no chains to replace: no nft run for port-less containers
            await run_blocking(self._forward_in_kernel, sandbox)
        doc["NetworkSettings"]["Ports"] = ports_view(doc["Config"].get("ExposedPorts"), published)

    @staticmethod
    def _primary(sandbox: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(network id, endpoint) of the sandbox's first interface: where published ports lead."""
        return min(sandbox["Endpoints"].items(), key=lambda item: int(item[1]["Ifname"][3:]))

    def _primary_ip(self, sandbox: dict[str, Any]) -> str:
        return self._primary(sandbox)[1]["IP"]

    def _forward_in_kernel(self, sandbox: dict[str, Any]) -> None:
        """DNAT the sandbox's published ports in the kernel (the userland proxy keeps each port reserved and
        carries only what no rule catches: sctp is refused, and every port when nft is missing)."""
        if not portnat.available():
            log.warning("nft is missing: published ports go through the userland proxy only")
            return
        network_id, ep = self._primary(sandbox)
        bridge_name = self._networks[network_id]["Bridge"]
        forwards = [portnat.Forward(key.partition("/")[2], entry["HostIp"], int(entry["HostPort"]), ep["IP"],
                                    int(key.partition("/")[0]), bridge_name)
                    for key, entries in sandbox["Ports"].items() for entry in entries]
        with host_lock():
            portnat.install(Path(sandbox["Key"]).name, forwards)

    def _resolve(self, container_id: str, name: str) -> list[str]:
        """Addresses of `name` (container name, alias or short id, optionally `.network`) on the asker's networks."""
        sandbox = self._sandboxes.get(container_id)
        if sandbox is None:
            return []
        found = []
        for network_id, mine in sandbox["Endpoints"].items():
            if not mine["User"]:
                continue
            suffix = "." + self._networks[network_id]["Name"].lower()
            short = name[: -len(suffix)] if name.endswith(suffix) else name
            for cid, ep in self._endpoints_of(network_id).items():
                names = {self._sandboxes[cid]["Name"].lower(), cid[:12], *(a.lower() for a in ep["Aliases"])}
                if short in names and ep["IP"] not in found:
                    found.append(ep["IP"])
        return found

    def _fill_settings(self, doc: dict[str, Any], sandbox: dict[str, Any]) -> None:
        """NetworkSettings as docker shows them for a running container."""
        settings = doc["NetworkSettings"]
        settings.update(SandboxID=hashlib.sha256(sandbox["Key"].encode()).hexdigest(), SandboxKey=sandbox["Key"])
        for record in (self._networks[nid] for nid in sandbox["Endpoints"]):
            ep = sandbox["Endpoints"][record["Id"]]
            entry = settings["Networks"].setdefault(record["Name"], endpoint_settings(record["Id"]))
            entry.update(NetworkID=record["Id"], EndpointID=ep["EndpointID"], Gateway=ep["NetworkGateway"],
                         IPAddress=ep["IP"], IPPrefixLen=ep["Prefix"], MacAddress=ep["Mac"],
                         DNSNames=[sandbox["Name"], doc["Id"][:12], *ep["Aliases"]] if ep["User"] else None)
            if record["Name"] == "bridge":
                settings.update(EndpointID=ep["EndpointID"], Gateway=ep["NetworkGateway"], IPAddress=ep["IP"],
                                IPPrefixLen=ep["Prefix"], MacAddress=ep["Mac"])

    def write_etc(self, doc: dict[str, Any], container_dir: Path) -> None:
        """Point resolv.conf at the embedded resolver (user networks) or --dns servers; the container's own
        address and `host-gateway` in /etc/hosts."""
        host = doc["HostConfig"]
        if host.get("NetworkMode") == "host":
            return
        sandbox = self._sandboxes.get(doc["Id"])
        embedded = sandbox is not None and any(ep["User"] for ep in sandbox["Endpoints"].values())
        resolv = container_dir / "resolv.conf"
        if embedded or host.get("Dns") or host.get("DnsSearch") or host.get("DnsOptions"):
            resolv.write_text(resolv_conf(resolv.read_text(), embedded, host))
        hosts = container_dir / "hosts"
        text = hosts.read_text().replace("host-gateway\t", f"{self._host_gateway()}\t")
        if sandbox is not None:
            text += f"{self._primary_ip(sandbox)}\t{doc['Config']['Hostname']}\n"
        hosts.write_text(text)

    def _host_gateway(self) -> str:
        record = self.get("bridge")
        return record["IPAM"]["Config"][0]["Gateway"]

    def sandbox_ids(self) -> list[str]:
        """The ids of the containers (and build steps) this daemon holds a network sandbox for."""
        return list(self._sandboxes)

    async def release(self, doc: dict[str, Any]) -> None:
        """After the container exits (or failed to start): free everything attach made; clear the live fields."""
        async with self._lock:
            await self._teardown(doc["Id"])
        settings = doc["NetworkSettings"]
        settings.update(SandboxID="", SandboxKey="", EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0,
                        MacAddress="", Ports={})
        for entry in (settings.get("Networks") or {}).values():
            entry.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, DNSNames=None)

    async def _teardown(self, container_id: str) -> None:
        live = self._live.pop(container_id, None)
        if live is not None:
            await self._close_live(live)
        sandbox = self._sandboxes.pop(container_id, None)
        if sandbox is None:
            return
        if sandbox["Ports"]:
            await run_blocking(self._unforward, Path(sandbox["Key"]).name)
        for ep in sandbox["Endpoints"].values():
            await run_blocking(bridge.delete_link, ep["HostIfname"])
        await run_blocking(netns.destroy, Path(sandbox["Key"]))
        await run_blocking(self._store.delete_sandbox, container_id)

    @staticmethod
    def _unforward(short_id: str) -> None:
        with host_lock():
            portnat.remove(short_id)

    @staticmethod
    async def _close_live(live: Live) -> None:
        if live.dns is not None:
            await live.dns.close()
        await live.proxy.close()

    # ----- connect / disconnect -----------------------------------------------------------------

    async def connect(self, ref: str, body: Any) -> None:
        """POST /networks/{id}/connect: join a running container now, a stopped one at its next start."""
        if not isinstance(body, dict) or not body.get("Container"):
            raise InvalidParameter("Container is required")
        record = self.get(ref)
        doc = self._containers.network_doc(body["Container"])
        if doc["HostConfig"].get("NetworkMode") in ("host", "none"):
            raise InvalidParameter("container sharing network namespace with another container or host cannot "
                                   "be connected to any other network")
        networks = doc["NetworkSettings"]["Networks"]
        if record["Name"] in networks and (not doc["State"]["Running"] or doc["Id"] in self._sandboxes and
                                            record["Id"] in self._sandboxes[doc["Id"]]["Endpoints"]):
            raise Forbidden(f"endpoint with name {doc['Name'].lstrip('/')} already exists in network "
                            f"{record['Name']}")
        config = body.get("EndpointConfig") or {}
        settings = self.plan({"NetworkMode": record["Name"]}, {"EndpointsConfig": {record["Name"]: config}},
                             {})[record["Name"]]
        networks[record["Name"]] = settings
        sandbox = self._sandboxes.get(doc["Id"])
        if doc["State"]["Running"] and sandbox is not None:
            async with self._lock:
                try:
                    await self._add_endpoint(sandbox, record, settings)
                except BaseException:
                    del networks[record["Name"]]
                    raise
                await self._open_live(doc["Id"], sandbox, restoring=False)
            self._fill_settings(doc, sandbox)
        await self._containers.save_network(doc["Id"])
        self._events.publish("network", "connect", record["Id"],
                             {"container": doc["Id"], "name": record["Name"], "type": record["Driver"]})

    async def disconnect(self, ref: str, body: Any) -> None:
        """POST /networks/{id}/disconnect."""
        if not isinstance(body, dict) or not body.get("Container"):
            raise InvalidParameter("Container is required")
        record = self.get(ref)
        doc = self._containers.network_doc(body["Container"])
        networks = doc["NetworkSettings"]["Networks"]
        if record["Name"] not in networks:
            raise Forbidden(f"container {doc['Id']} is not connected to network {record['Name']}")
        if record["Driver"] != "bridge":
            raise Forbidden(f"container cannot be disconnected from {record['Name']} network")
        sandbox = self._sandboxes.get(doc["Id"])
        if sandbox is not None and record["Id"] in sandbox["Endpoints"]:
            async with self._lock:
                ep = sandbox["Endpoints"].pop(record["Id"])
                await run_blocking(bridge.remove_endpoint, self._endpoint(sandbox, ep, record))
                await run_blocking(self._store.save_sandbox, sandbox)
        del networks[record["Name"]]
        if record["Name"] == "bridge":
            doc["NetworkSettings"].update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, MacAddress="")
        await self._containers.save_network(doc["Id"])
        self._events.publish("network", "disconnect", record["Id"],
                             {"container": doc["Id"], "name": record["Name"], "type": record["Driver"]})


def resolv_conf(current: str, embedded: bool, host: dict[str, Any]) -> str:
    """resolv.conf for a container: 127.0.0.11 on user networks, else --dns servers; search and options kept
    from the host's unless --dns-search / --dns-option are given."""
    lines = current.splitlines()
    search = [ln for ln in lines if ln.startswith(("search", "domain"))]
    options = [ln for ln in lines if ln.startswith("options")]
    if host.get("DnsSearch"):
        search = ["search " + " ".join(host["DnsSearch"])]
    if host.get("DnsOptions"):
        options = ["options " + " ".join(host["DnsOptions"])]
    if embedded:
        servers = [f"nameserver {ADDRESS}"]
        options = options or ["options ndots:0"]
    elif host.get("Dns"):
        servers = [f"nameserver {s}" for s in host["Dns"]]
    else:
        servers = [ln for ln in lines if ln.startswith("nameserver")]
    return "\n".join(servers + search + options) + "\n"

