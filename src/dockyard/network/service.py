"""The network service: networks (bridge, host, none), container endpoints, embedded DNS and published ports."""

from __future__ import annotations

import asyncio
import builtins
import copy
import hashlib
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from dockyard.errors import Conflict, DockyardError, Forbidden, InvalidParameter, NotFound
from dockyard.events.publisher import EventPublisher
from dockyard.network import bridge, firewall, ipam, lb, netns, overlay, portnat
from dockyard.network.dns import DnsServer, ServiceRecords, host_resolvers
from dockyard.network.endpoints import ContainerEndpoints
from dockyard.network.etc import EtcPlan
from dockyard.network.hostlock import host_lock
from dockyard.network.lb import RoutingMesh, Vip
from dockyard.network.overlaynets import GATEWAY_NETWORK, GATEWAY_OPTIONS, OVERLAY, ROUTED, overlay_fields, spec_of
from dockyard.network.portmap import Binding, PortProxy, bindings_of
from dockyard.network.store import NetworkStore
from dockyard.network.views import BUILTIN, LIST_FILTERS, endpoint_settings, matches, network_view, ports_view
from dockyard.util.aio import run_blocking
from dockyard.util.filters import check_keys
from dockyard.util.gostrconv import GO_FALSE
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)
logging.getLogger("pyroute2").setLevel(logging.WARNING)  # its debug output would flood the daemon log

BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
ICC_OPT = "com.docker.network.bridge.enable_icc"
MTU_OPT = "com.docker.network.driver.mtu"
DRIVERS = {"bridge": "bridge", "host": "host", "null": "null", "none": "null"}
ERR_NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
                   'node to swarm and try again.')


class OverlayAddresses(Protocol):
    """Where a container's address on a swarm overlay comes from (the cluster's allocator), handed in by `daemon/`."""

    async def attach(self, network_id: str, container_id: str, name: str, wanted: str | None) -> str:
        """The container's address on a swarm overlay (a task's allocated one, or a new attachment's); the
        cluster's refusal as an error."""

    async def detach(self, network_id: str, container_id: str) -> None:
        """The container left the network: free what attach took."""


@dataclass(frozen=True)
class _Neighbours:
    """What bringing a bridge up needs to know of this daemon's other networks (a copy taken on the loop)."""

    up: bool  # this daemon set the bridge up already
    in_use: bool  # the network has endpoints
    bridges: set[str]  # bridge names of this daemon's networks
    subnets: list[ipam.Net]  # subnets of the other networks


@dataclass(frozen=True)
class _Peers:
    """An overlay's endpoints on other nodes, as the cluster last gave them, and this node's VTEP and port."""

    vtep: str
    port: int
    peers: tuple[overlay.Peer, ...]


@dataclass
class Live:
    """What a running sandbox holds in the daemon: its resolver and its port proxies."""

    dns: DnsServer | None = None
    proxy: PortProxy = field(default_factory=PortProxy)


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

    def __init__(self, store: NetworkStore, exec_root: Path, events: EventPublisher,
                 service_records: ServiceRecords | None = None, overlay_prefix: str = overlay.PREFIX,
                 host_id: str = "") -> None:
        self._store = store
        self._host_id = host_id  # the engine id: dockerd derives its default IPv6 pool from it
        self._overlays = overlay.OverlayPlane(exec_root / "overlay", overlay_prefix)  # swarm overlays on this node
        self._gateway_bridge = f"{overlay_prefix}gw"  # the egress bridge of overlay endpoints
        self._service_records = service_records  # what the embedded DNS answers for swarm services
        self._netns_dir = exec_root / "netns"
        self._events = events
        self._networks: dict[str, dict[str, Any]] = {}
        self._sandboxes: dict[str, dict[str, Any]] = {}
        self._live: dict[str, Live] = {}
        self._lock = asyncio.Lock()
        self._up: set[str] = set()  # networks whose bridge and chains this daemon has set up and not taken down
        self._default_mtu = 1500  # the host uplink's, read at restore: a network's MTU unless its options set one
        self._vips: dict[str, builtins.list[Vip]] = {}  # overlay id -> its service VIPs and their backends
        self._meshes: dict[str, RoutingMesh] = {}  # ingress overlay id -> this node's routing mesh
        self._peers: dict[str, _Peers] = {}  # overlay id -> its endpoints on other nodes
        self._addresses: OverlayAddresses | None = None

    def set_overlay_addresses(self, addresses: OverlayAddresses) -> None:
        """Take overlay addresses from the cluster (set once by the daemon)."""
        self._addresses = addresses

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
        view = {cid: {"Name": self._sandboxes[cid]["Name"], "EndpointID": ep["EndpointID"], "MacAddress": ep["Mac"],
                      "IPv4Address": f"{ep['IP']}/{ep['Prefix']}",
                      "IPv6Address": f"{ep['IP6']}/{ep['Prefix6']}" if ep.get("IP6") else ""}
                for cid, ep in self._endpoints_of(record["Id"]).items()}
        mesh = self._meshes.get(record["Id"])
        if mesh is not None and mesh.sandbox_ip and netns.is_pinned(mesh.sandbox):
            view[lb.SANDBOX_KEY] = lb.sandbox_endpoint(record["Id"], mesh.sandbox_ip, spec_of(record).prefixlen)
        return view

    def inspect(self, ref: str) -> dict[str, Any]:
        record = self.get(ref)
        return network_view(record, self._containers_view(record))

    def list(self, filters: dict[str, builtins.list[str]]) -> builtins.list[dict[str, Any]]:
        """GET /networks with docker's filters."""
        check_keys(filters, LIST_FILTERS)
        return [network_view(r, self._containers_view(r)) for r in self._networks.values()
                if matches(r, filters, bool(self._endpoints_of(r["Id"])))]

    # ----- start-up and shutdown ----------------------------------------------------------------

    async def restore(self) -> None:
        """Load networks and sandboxes, bring bridges back, re-open resolvers and proxies, drop stale pins."""
        self._default_mtu = await run_blocking(bridge.host_mtu)
        for record in await run_blocking(lambda: list(self._store.networks())):
            self._networks[record["Id"]] = record
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            if not any(r["Name"] == name for r in self._networks.values()):
                await self._create_record(_new_record(name, driver), default=name == "bridge")
        for sandbox in await run_blocking(lambda: list(self._store.sandboxes())):
            self._sandboxes[sandbox["Id"]] = sandbox
        await run_blocking(self._sweep_pins, {Path(sb["Key"]).name for sb in self._sandboxes.values()})
        for record in self._networks.values():
            if record["Driver"] == "bridge" and (record["Name"] != "bridge" or self._endpoints_of(record["Id"])):
                try:
                    await self._ensure_up(record)
                except DockyardError as failed:  # the daemon still starts; this network's containers cannot
                    log.error("network %s cannot be brought up: %s", record["Name"], failed.message)
        for cid, sandbox in self._sandboxes.items():
            if netns.is_pinned(Path(sandbox["Key"])):
                await self._open_live(cid, sandbox, restoring=True)

    def _sweep_pins(self, owned: set[str]) -> None:
        """Unpin namespaces no sandbox record owns (a crash between pinning and recording)."""
        if not self._netns_dir.is_dir():
            return
        for pin in self._netns_dir.iterdir():
            if pin.name not in owned:
                netns.destroy(pin)
                _unforward(pin.name)

    async def shutdown(self) -> None:
        """Close resolvers and proxies; take down bridges no running container uses (they come back at start)."""
        for live in self._live.values():
            await self._close_live(live)
        self._live.clear()
        for record in self._networks.values():
            if record["Driver"] == "bridge" and not self._endpoints_of(record["Id"]):
                await self._take_down(record)

    # ----- bridges ------------------------------------------------------------------------------

    async def _ensure_up(self, record: dict[str, Any]) -> None:
        """Create the network's bridge and firewall chains unless they exist (in a thread, on a copy of the record
        and of what the other networks hold); keep the subnet or bridge name it had to re-pick."""
        work = copy.deepcopy(record)
        others = _Neighbours(up=record["Id"] in self._up, in_use=bool(self._endpoints_of(record["Id"])),
                             bridges={r["Bridge"] for r in self._networks.values() if r.get("Bridge")},
                             subnets=self._subnets(except_id=record["Id"]))
        try:
            await run_blocking(self._bring_up, work, others)
        finally:
            record.update(work)
        self._up.add(record["Id"])

    def _bring_up(self, record: dict[str, Any], others: _Neighbours) -> None:
        """The blocking part of `_ensure_up`: re-pick an automatic subnet or default bridge name another daemon
        has taken meanwhile (changing `record`, a copy), then make the bridge and chains."""
        if others.up and bridge.owner(record["Bridge"]) == _tag(record):
            return  # set up by this daemon and still ours: no netlink or nft work on the start path
        with host_lock():
            name = record["Bridge"]
            config = _v4(record)
            found = bridge.owner(name)
            if found is not None and found != _tag(record):
                if record["Name"] != "bridge" or others.in_use:
                    raise Conflict(f"bridge {name} already exists on the host and is not this network's")
                record["Bridge"] = name = _free_default_name(others.bridges)
                record["Options"][BRIDGE_NAME_OPT] = name
            if found != _tag(record):
                subnet: ipam.Net = ipaddress.IPv4Network(config["Subnet"])
                routes = bridge.host_routes(exclude={name})
                if any(subnet.overlaps(r) for r in routes):
                    if not record.get("AutoSubnet"):
                        raise Forbidden(f"Pool overlaps with other one on this address space: {subnet}")
                    subnet = ipam.pick_subnet([*routes, *others.subnets])
                    config.update(Subnet=str(subnet), Gateway=str(ipam.default_gateway(subnet)))
                self._store.save_network(record)
            v6 = _v6(record)
            bridge.ensure_bridge(name, _gateway_cidr(config), self._mtu(record), _tag(record),
                                 _gateway_cidr(v6) if v6 else None)
            firewall.install(name, config["Subnet"], bool(record.get("Internal")))
            if v6:
                firewall.install(name, v6["Subnet"], bool(record.get("Internal")), family="ip6")

    async def _take_down(self, record: dict[str, Any]) -> None:
        """Remove the network's bridge and chains, if they are ours (another daemon may use the name now); an
        overlay's namespace."""
        self._up.discard(record["Id"])
        if record["Driver"] == OVERLAY:
            await run_blocking(self._overlays.remove, spec_of(record))
            return
        await run_blocking(_take_down_bridge, record["Bridge"], _tag(record))

    def _subnets(self, except_id: str = "") -> builtins.list[ipam.Net]:
        return [ipaddress.ip_network(c["Subnet"]) for r in self._networks.values() if r["Id"] != except_id
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
        if driver == OVERLAY:
            raise Forbidden(ERR_NOT_MANAGER)  # a manager's overlays are cluster objects, created there
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if name in BUILTIN:
            raise Forbidden(f"{name} is a pre-defined network and cannot be created")
        options = {k: str(v) for k, v in (body.get("Options") or {}).items()}
        ipv6 = bool(body.get("EnableIPv6"))
        record = _new_record(name, "bridge", Internal=bool(body.get("Internal")),
                             Attachable=bool(body.get("Attachable")), Labels=dict(body.get("Labels") or {}),
                             Options=options, EnableIPv6=ipv6)
        record["IPAM"]["Options"] = (body.get("IPAM") or {}).get("Options")
        record["IPAM"]["Config"] = self._ipam_config(body.get("IPAM") or {}, ipv6)
        async with self._lock:
            await self._create_record(record, default=False)
        self._events.publish("network", "create", record["Id"], {"name": name, "type": "bridge"})
        return {"Id": record["Id"], "Warning": ""}

    async def add_overlay(self, spec: overlay.OverlaySpec, name: str, attachable: bool = False, ingress: bool = False,
                          labels: dict[str, str] | None = None, reserved: dict[str, str] | None = None,
                          internal: bool = False, options: dict[str, str] | None = None) -> None:
        """Record an overlay network the cluster allocated (idempotent: the agent adds its networks again after a
        restart, and a retired record wanted again stays); its namespace is made with the first local endpoint.
        `remove` takes it away again."""
        async with self._lock:
            known = self._networks.get(spec.network_id)
            if known is not None:
                if known.pop("Retired", None):  # wanted again before its last endpoint left
                    await run_blocking(self._store.save_network, copy.deepcopy(known))
                return
            record = _new_record(name, OVERLAY, Internal=internal,
                                 **overlay_fields(spec, attachable, ingress, labels or {}, reserved or {},
                                                  options or {}))
            await run_blocking(self._store.insert_network, record)
            self._networks[record["Id"]] = record
        self._events.publish("network", "create", record["Id"], {"name": name, "type": OVERLAY})

    def ingress_mesh(self, ref: str, sandbox_ip: str) -> RoutingMesh:
        """The routing mesh of the ingress overlay `ref` on this node's plane (its namespace is the network's); its
        sandbox shows in the network's containers while it exists, as docker's `ingress-sbox`."""
        record = self.get(ref)
        mesh = self._meshes[record["Id"]] = RoutingMesh(self._overlays, spec_of(record), sandbox_ip)
        return mesh

    async def set_vips(self, network_id: str, vips: builtins.list[Vip]) -> None:
        """Make every local sandbox on the overlay balance exactly these VIPs (with those of its other overlays);
        sandboxes joining later get them at once. An empty list forgets the network."""
        async with self._lock:
            if vips:
                self._vips[network_id] = vips
            else:
                self._vips.pop(network_id, None)
            for sandbox in [self._sandboxes[cid] for cid in self._endpoints_of(network_id)]:
                await self._program_vips(sandbox)

    async def set_peers(self, network_id: str, local_vtep: str, data_path_port: int,
                        peers: builtins.list[overlay.Peer]) -> None:
        """Make the overlay's VXLAN device reach exactly these endpoints of other nodes while its namespace is here
        (kept and applied when it is made; empty: no device)."""
        async with self._lock:
            if peers:
                self._peers[network_id] = _Peers(local_vtep, data_path_port, tuple(peers))
            else:
                self._peers.pop(network_id, None)
            record = self._networks.get(network_id)
            if record is not None and record["Driver"] == OVERLAY:
                await self._apply_peers(record)

    async def _apply_peers(self, record: dict[str, Any]) -> None:
        """The overlay's VXLAN peers in its namespace, if this node has it (under the lock)."""
        spec = spec_of(record)
        if not await run_blocking(self._overlays.exists, spec):
            return
        kept = self._peers.get(record["Id"])
        if kept is None:
            await run_blocking(self._overlays.set_peers, spec, "", [])
            return
        await run_blocking(self._overlays.set_peers, replace(spec, data_path_port=kept.port), kept.vtep,
                           list(kept.peers))

    async def _program_vips(self, sandbox: dict[str, Any]) -> None:
        """The VIP table of a sandbox: every VIP of every overlay it is on (one atomic replace)."""
        vips = [vip for network_id in sandbox["Endpoints"] for vip in self._vips.get(network_id, [])]
        await run_blocking(lb.program_vips, Path(sandbox["Key"]), vips)

    async def _gateway_network(self) -> dict[str, Any]:
        """The egress bridge network of overlay endpoints (docker's docker_gwbridge), made on first use and kept."""
        for record in self._networks.values():
            if record["Name"] == GATEWAY_NETWORK:
                return record
        record = _new_record(GATEWAY_NETWORK, "bridge", Options={**GATEWAY_OPTIONS,
                                                                  BRIDGE_NAME_OPT: self._gateway_bridge})
        await self._create_record(record, default=False)
        return record

    @staticmethod
    def _ipam_config(ipam_body: dict[str, Any], ipv6: bool) -> builtins.list[dict[str, Any]]:
        """Validate user IPAM settings (one pool per address family at most; an IPv6 one only on an IPv6 network:
        elsewhere dockerd neither allocates nor shows it); a family without one is picked at create."""
        configs = [(c, ipam.parse_subnet(c.get("Subnet") or "")) for c in ipam_body.get("Config") or []]
        configs = [(c, subnet) for c, subnet in configs if ipv6 or subnet.version == 4]
        for version in (4, 6):
            if sum(subnet.version == version for _, subnet in configs) > 1:
                raise InvalidParameter(f"only one IPv{version} address pool per network is supported")
        out = []
        for config, subnet in sorted(configs, key=lambda item: item[1].version):
            gateway = ipam.parse_address(config["Gateway"], "gateway") if config.get("Gateway") \
                else ipam.default_gateway(subnet)
            if gateway not in subnet:
                raise InvalidParameter(f"gateway {gateway} is not in subnet {subnet}")
            entry: dict[str, Any] = {"Subnet": str(subnet), "Gateway": str(gateway)}
            if config.get("IPRange"):
                ip_range = ipam.parse_subnet(config["IPRange"])
                if ip_range.version != subnet.version or not ip_range.subnet_of(subnet):  # type: ignore[arg-type]
                    raise InvalidParameter(f"ip-range {ip_range} is not in subnet {subnet}")
                entry["IPRange"] = str(ip_range)
            aux = ipam.aux_addresses(config.get("AuxiliaryAddresses"), subnet)
            if aux:
                entry["AuxiliaryAddresses"] = aux
            out.append(entry)
        return out

    async def _create_record(self, record: dict[str, Any], default: bool) -> None:
        """Pick the subnet and bridge name, record the network and (except the default bridge) bring it up."""
        if record["Driver"] == "bridge":
            configs = record["IPAM"]["Config"]
            for given in configs:
                subnet = ipaddress.ip_network(given["Subnet"])
                if any(subnet.overlaps(s) for s in self._subnets() if s.version == subnet.version):
                    raise Forbidden(f"Pool overlaps with other one on this address space: {subnet}")
            if ipam.family_config(configs, 4) is None:  # dockerd's order: the pools asked for, then those picked
                routes = await run_blocking(bridge.host_routes)
                subnet = ipam.pick_subnet([*routes, *self._subnets()])
                configs.append({"Subnet": str(subnet), "Gateway": str(ipam.default_gateway(subnet))})
                record["AutoSubnet"] = True
            if record["EnableIPv6"] and ipam.family_config(configs, 6) is None:
                subnet = ipam.pick_subnet(self._subnets(), [(str(ipam.ula_pool(self._host_id)), 64)], "IPv6")
                configs.append({"Subnet": str(subnet), "Gateway": str(ipam.default_gateway(subnet))})
                record["AutoSubnet6"] = True
            if default:  # dockerd's options of its default bridge (the MTU is the daemon's)
                record["Options"].update({"com.docker.network.bridge.default_bridge": "true",
                                          ICC_OPT: "true",
                                          "com.docker.network.bridge.enable_ip_masquerade": "true",
                                          "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                                          BRIDGE_NAME_OPT: "dockyard0", MTU_OPT: str(self._default_mtu)})
            record["Bridge"] = record["Options"].get(BRIDGE_NAME_OPT) or f"dy-{record['Id'][:12]}"
            if len(record["Bridge"]) > 15:
                raise InvalidParameter(f"bridge name {record['Bridge']} is longer than 15 characters")
        await run_blocking(self._store.insert_network, record)
        self._networks[record["Id"]] = record
        if record["Driver"] == "bridge" and not default:
            try:
                await self._ensure_up(record)
            except BaseException:
                self._networks.pop(record["Id"], None)
                await run_blocking(self._store.delete_network, record["Id"])
                await self._take_down(record)  # the bridge (and chains) made before the step that failed
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
            await self._drop(record)

    async def _drop(self, record: dict[str, Any]) -> None:
        """Take a network without endpoints down and forget it (under the lock)."""
        await self._take_down(record)
        await run_blocking(self._store.delete_network, record["Id"])
        del self._networks[record["Id"]]
        self._vips.pop(record["Id"], None)
        self._meshes.pop(record["Id"], None)
        self._peers.pop(record["Id"], None)
        self._events.publish("network", "destroy", record["Id"], {"name": record["Name"], "type": record["Driver"]})

    async def retire_overlay(self, ref: str) -> None:
        """The cluster removed an overlay: its record goes now, or with its last local endpoint."""
        async with self._lock:
            record = self.get(ref)
            if not self._endpoints_of(record["Id"]):
                await self._drop(record)
                return
            record["Retired"] = True
            await run_blocking(self._store.save_network, copy.deepcopy(record))

    async def prune(self, filters: dict[str, builtins.list[str]]) -> dict[str, Any]:
        """POST /networks/prune: every user network without endpoints."""
        check_keys(filters, ("until", "label", "label!"))
        deleted = []
        for record in list(self._networks.values()):
            if record["Name"] in BUILTIN or record["Scope"] != "local" or self._endpoints_of(record["Id"]):
                continue  # swarm-scoped networks belong to the cluster
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
            _check_joining(host_config, config)
            return {}  # it lives in the other container's namespace: no endpoints of its own
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
            if record["Driver"] not in ROUTED and len(order) > 1:
                raise InvalidParameter("container sharing network namespace with another container or host "
                                       "cannot be connected to any other network")
            ipam_config = settings.get("IPAMConfig") or None
            if ipam_config:
                _check_static_addresses(ipam_config, record)
            if settings.get("Aliases") and record["Name"] in BUILTIN:
                raise InvalidParameter("network-scoped alias is supported only for containers in user defined "
                                       "networks")
            mac = settings.get("MacAddress") or (config.get("MacAddress") if name == order[0] else "") or ""
            networks[record["Name"]] = endpoint_settings(record["Id"], list(settings.get("Aliases") or []),
                                                         ipam_config, mac, _driver_opts(settings.get("DriverOpts")),
                                                         list(settings.get("Links") or []))
        return networks

    def _known(self, ref: str) -> dict[str, Any]:
        """A network a container asks for; a bad one is the request's fault (a 404 would make the CLI pull)."""
        try:
            return self.get(ref)
        except NotFound as missing:
            raise InvalidParameter(missing.message) from None

    # ----- container start / exit ---------------------------------------------------------------

    async def attach(self, container_id: str, name: str, host_config: dict[str, Any], exposed: dict[str, Any] | None,
                     networks: dict[str, Any]) -> dict[str, Any]:
        """Before a container starts: its namespace, an endpoint per network (`networks`: a copy of its planned
        endpoint settings), resolver and published ports. Returns the NetworkSettings fields the container records."""
        settings: dict[str, Any] = {"Networks": networks}
        records = [self.get(entry.get("NetworkID") or net) for net, entry in networks.items()]
        if not records or records[0]["Driver"] not in ROUTED:
            settings["Ports"] = ports_view(exposed, {})
            return settings
        pin = self._netns_dir / container_id[:12]
        sandbox = {"Id": container_id, "Key": str(pin), "Name": name.lstrip("/"),
                   "Dns": list(host_config.get("Dns") or []), "Endpoints": {}, "Ports": {}}
        async with self._lock:
            self._sandboxes[container_id] = sandbox
            try:
                await run_blocking(netns.create, pin)
                for record in records:
                    await self._add_endpoint(sandbox, record, networks[record["Name"]])
                await self._open_live(container_id, sandbox, restoring=False)
                settings["Ports"] = await self._publish(container_id, host_config, exposed, sandbox)
            except BaseException:
                await self._teardown(container_id)
                raise
        self._fill_settings(settings, container_id, sandbox)
        return settings

    async def _add_endpoint(self, sandbox: dict[str, Any], record: dict[str, Any], settings: dict[str, Any]) -> None:
        """Allocate an address on the network and plumb a veth for it into the sandbox; an overlay endpoint brings
        a leg on the egress bridge for the default route when the sandbox has none."""
        if record["Driver"] not in ROUTED:
            raise InvalidParameter(f"cannot connect a container to network {record['Name']} as well")
        if record["Driver"] == OVERLAY:
            await run_blocking(self._overlays.ensure, spec_of(record))
            if record["Id"] in self._peers:
                await self._apply_peers(record)
        else:
            await self._ensure_up(record)
        wanted = dict(settings.get("IPAMConfig") or {})
        config, v6 = _v4(record), _v6(record)
        if self._from_cluster(record):
            assert self._addresses is not None
            wanted["IPv4Address"] = await self._addresses.attach(record["Id"], sandbox["Id"], sandbox["Name"],
                                                                 wanted.get("IPv4Address"))
        try:
            address = self._allocate(record, config, wanted.get("IPv4Address"))
        except BaseException:
            await self._detach_address(record, sandbox["Id"])
            raise
        routed = record["Driver"] == "bridge" and not record.get("Internal") and not any(
            ep.get("Gateway") for ep in sandbox["Endpoints"].values())
        routed6 = not record.get("Internal") and not any(
            ep.get("Gateway6") for ep in sandbox["Endpoints"].values())
        tag = hashlib.sha256(f"{sandbox['Id']}/{record['Id']}".encode()).hexdigest()[:10]
        ifname = f"eth{self._next_ifindex(sandbox)}"
        # an overlay MAC is derived from the address: peers on other nodes compute it for their FDB
        mac = settings.get("MacAddress") if record["Driver"] != OVERLAY else None
        endpoint = {"IP": str(address), "Prefix": ipaddress.ip_network(config["Subnet"]).prefixlen,
                    "Mac": mac or ipam.mac_of(ipaddress.IPv4Address(address)),
                    "Ifname": ifname, "HostIfname": f"dyv{tag}",
                    "Gateway": config["Gateway"] if routed else "", "NetworkGateway": config["Gateway"],
                    "Aliases": list(settings.get("Aliases") or []), "Links": _links(settings.get("Links")),
                    "EndpointID": secrets.token_hex(32),
                    "User": record["Name"] not in BUILTIN and record["Name"] != GATEWAY_NETWORK}
        if v6 is not None:
            endpoint.update(IP6=str(self._allocate(record, v6, wanted.get("IPv6Address"))),
                            Prefix6=ipaddress.ip_network(v6["Subnet"]).prefixlen, NetworkGateway6=v6["Gateway"],
                            Gateway6=v6["Gateway"] if routed6 else "")
        sandbox["Endpoints"][record["Id"]] = endpoint
        try:
            if record["Driver"] == OVERLAY:
                await run_blocking(self._overlays.attach, spec_of(record), Path(sandbox["Key"]), sandbox["Id"],
                                   str(address), ifname)
            else:
                await run_blocking(bridge.add_endpoint, record["Bridge"], self._endpoint(sandbox, endpoint, record))
        except BaseException:
            del sandbox["Endpoints"][record["Id"]]
            await self._detach_address(record, sandbox["Id"])
            raise
        await self._save_sandbox(sandbox)
        if record["Driver"] != OVERLAY:
            return
        if not record["Internal"] and not any(ep["Gateway"] for ep in sandbox["Endpoints"].values()):
            await self._add_endpoint(sandbox, await self._gateway_network(), {})
        if any(network_id in self._vips for network_id in sandbox["Endpoints"]):
            await self._program_vips(sandbox)

    def _from_cluster(self, record: dict[str, Any]) -> bool:
        """Addresses on this network come from the cluster's allocator."""
        return record["Driver"] == OVERLAY and self._addresses is not None

    async def _detach_address(self, record: dict[str, Any], container_id: str) -> None:
        """Give an overlay address back to the cluster."""
        if self._from_cluster(record):
            assert self._addresses is not None
            await self._addresses.detach(record["Id"], container_id)

    async def _leave_overlay(self, sandbox: dict[str, Any], record: dict[str, Any]) -> None:
        """Delete an overlay endpoint's veth; the network's namespace goes with its last endpoint on this node (the
        ingress network's stays: the routing mesh's sandbox is on it), a retired network's record too."""
        await run_blocking(self._overlays.detach, spec_of(record), sandbox["Id"])
        await self._detach_address(record, sandbox["Id"])
        if not self._endpoints_of(record["Id"]) and record.get("Retired"):
            await self._drop(record)
        elif not self._endpoints_of(record["Id"]) and not record["Ingress"]:
            await run_blocking(self._overlays.remove, spec_of(record))

    def _allocate(self, record: dict[str, Any], config: dict[str, Any], wanted: str | None) -> ipam.Addr:
        """A free address of one of the network's pools (`config`), or the one asked for."""
        subnet = ipaddress.ip_network(config["Subnet"])
        taken = [config["Gateway"], *(config.get("AuxiliaryAddresses") or {}).values()]
        taken += [ep.get("IP6" if subnet.version == 6 else "IP") for ep in self._endpoints_of(record["Id"]).values()]
        reserved = {ipaddress.ip_address(a) for a in taken if a}
        return ipam.allocate(subnet, ipaddress.ip_network(config["IPRange"]) if config.get("IPRange") else None,
                             reserved, ipam.parse_address(wanted) if wanted else None)

    @staticmethod
    def _next_ifindex(sandbox: dict[str, Any]) -> int:
        used = {int(ep["Ifname"][3:]) for ep in sandbox["Endpoints"].values()}
        return next(n for n in range(len(used) + 1) if n not in used)

    def _mtu(self, record: dict[str, Any]) -> int:
        """The MTU of the network's bridge and veths: its `com.docker.network.driver.mtu` option, else the host's."""
        return int(record["Options"].get(MTU_OPT) or self._default_mtu)

    def _endpoint(self, sandbox: dict[str, Any], ep: dict[str, Any], record: dict[str, Any]) -> bridge.Endpoint:
        return bridge.Endpoint(netns=Path(sandbox["Key"]), host_ifname=ep["HostIfname"], ifname=ep["Ifname"],
                               address=f"{ep['IP']}/{ep['Prefix']}", mac=ep["Mac"], gateway=ep["Gateway"] or None,
                               mtu=self._mtu(record), gateway6=ep.get("Gateway6") or None,
                               address6=f"{ep['IP6']}/{ep['Prefix6']}" if ep.get("IP6") else None,
                               isolated=record["Options"].get(ICC_OPT, "true") in GO_FALSE)

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
                    await live.proxy.publish(binding, self._port_target(sandbox)[1]["IP"], int(entry["HostPort"]))
            await run_blocking(_forward_in_kernel, Path(sandbox["Key"]).name, self._forwards(sandbox))

    async def _save_sandbox(self, sandbox: dict[str, Any]) -> None:
        """Persist a sandbox from a copy taken on the loop (the live one changes meanwhile)."""
        await run_blocking(self._store.save_sandbox, copy.deepcopy(sandbox))

    async def _publish(self, container_id: str, host_config: dict[str, Any], exposed: dict[str, Any] | None,
                       sandbox: dict[str, Any]) -> dict[str, Any]:
        """Open the container's published ports and record them in the sandbox; returns NetworkSettings.Ports."""
        live = self._live[container_id]
        published: dict[str, builtins.list[dict[str, str]]] = {}
        for binding in bindings_of(host_config, exposed):
            host_ip, host_port = await live.proxy.publish(binding, self._port_target(sandbox)[1]["IP"])
            published.setdefault(binding.key, []).append({"HostIp": host_ip, "HostPort": str(host_port)})
        sandbox["Ports"] = published
        await self._save_sandbox(sandbox)
        if published:  # a fresh sandbox has no chains to replace: no nft run for port-less containers
            await run_blocking(_forward_in_kernel, Path(sandbox["Key"]).name, self._forwards(sandbox))
        return ports_view(exposed, published)

    @staticmethod
    def _primary(sandbox: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(network id, endpoint) of the sandbox's first interface: where published ports lead."""
        return min(sandbox["Endpoints"].items(), key=lambda item: int(item[1]["Ifname"][3:]))

    def _primary_ip(self, sandbox: dict[str, Any]) -> str:
        return self._primary(sandbox)[1]["IP"]

    def _port_target(self, sandbox: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(network id, endpoint) where published ports lead: the first interface on a bridge (for a container on
        an overlay, its leg on the egress bridge, as docker publishes a task's host-mode ports)."""
        return min(((nid, ep) for nid, ep in sandbox["Endpoints"].items() if self._networks[nid]["Driver"] == "bridge"),
                   key=lambda item: int(item[1]["Ifname"][3:]))

    def _forwards(self, sandbox: dict[str, Any]) -> builtins.list[portnat.Forward]:
        """The kernel DNAT rules of the sandbox's published ports."""
        if not sandbox["Ports"]:
            return []
        network_id, ep = self._port_target(sandbox)
        bridge_name = self._networks[network_id]["Bridge"]
        return [portnat.Forward(key.partition("/")[2], entry["HostIp"], int(entry["HostPort"]), ep["IP"],
                                int(key.partition("/")[0]), bridge_name)
                for key, entries in sandbox["Ports"].items() for entry in entries]

    def _resolve(self, container_id: str, name: str) -> builtins.list[str]:
        """Addresses (IPv4 and IPv6) of `name` (container name, alias, short id, or an alias the asker's --link
        gave it; optionally `.network`) on the asker's networks."""
        sandbox = self._sandboxes.get(container_id)
        if sandbox is None:
            return []
        found = []
        for network_id, mine in sandbox["Endpoints"].items():
            if not mine["User"]:
                continue
            suffix = "." + self._networks[network_id]["Name"].lower()
            short = name[: -len(suffix)] if name.endswith(suffix) else name
            short = (mine.get("Links") or {}).get(short, short)
            for cid, ep in self._endpoints_of(network_id).items():
                names = {self._sandboxes[cid]["Name"].lower(), cid[:12], *(a.lower() for a in ep["Aliases"])}
                if short in names:
                    found += [ip for ip in (ep["IP"], ep.get("IP6")) if ip and ip not in found]
        if not found and self._service_records is not None:
            found = self._service_records.addresses(list(sandbox["Endpoints"]), name)
        return found

    def _fill_settings(self, settings: dict[str, Any], container_id: str, sandbox: dict[str, Any]) -> None:
        """NetworkSettings fields as docker shows them for a running container (`settings` has its Networks)."""
        settings.update(SandboxID=hashlib.sha256(sandbox["Key"].encode()).hexdigest(), SandboxKey=sandbox["Key"])
        for record in (self._networks[nid] for nid in sandbox["Endpoints"]):
            if record["Name"] == GATEWAY_NETWORK:
                continue  # docker shows no task on its docker_gwbridge
            ep = sandbox["Endpoints"][record["Id"]]
            entry = settings["Networks"].setdefault(record["Name"], endpoint_settings(record["Id"]))
            v6 = {"IPv6Gateway": ep.get("NetworkGateway6", ""), "GlobalIPv6Address": ep.get("IP6", ""),
                  "GlobalIPv6PrefixLen": ep.get("Prefix6", 0)}
            entry.update(NetworkID=record["Id"], EndpointID=ep["EndpointID"], Gateway=ep["NetworkGateway"],
                         IPAddress=ep["IP"], IPPrefixLen=ep["Prefix"], MacAddress=ep["Mac"], **v6,
                         DNSNames=[sandbox["Name"], container_id[:12], *ep["Aliases"]] if ep["User"] else None)
            if record["Name"] == "bridge":
                settings.update(EndpointID=ep["EndpointID"], Gateway=ep["NetworkGateway"], IPAddress=ep["IP"],
                                IPPrefixLen=ep["Prefix"], MacAddress=ep["Mac"], **v6)

    def etc_plan(self, container_id: str) -> EtcPlan:
        """What the container's resolv.conf and hosts take from its network (write them with `EtcPlan.write`)."""
        sandbox = self._sandboxes.get(container_id)
        embedded = sandbox is not None and any(ep["User"] for ep in sandbox["Endpoints"].values())
        primary = self._primary(sandbox)[1] if sandbox is not None else {}
        return EtcPlan(embedded, self._host_gateway(), primary.get("IP"), primary.get("IP6"))

    def _host_gateway(self) -> str:
        return _v4(self.get("bridge"))["Gateway"]

    def sandbox_ids(self) -> builtins.list[str]:
        """The ids of the containers (and build steps) this daemon holds a network sandbox for."""
        return list(self._sandboxes)

    async def release(self, container_id: str) -> None:
        """After the container exits (or failed to start): free everything attach made."""
        async with self._lock:
            await self._teardown(container_id)

    async def _teardown(self, container_id: str) -> None:
        live = self._live.pop(container_id, None)
        if live is not None:
            await self._close_live(live)
        sandbox = self._sandboxes.pop(container_id, None)
        if sandbox is None:
            return
        if sandbox["Ports"]:
            await run_blocking(_unforward, Path(sandbox["Key"]).name)
        for network_id, ep in sandbox["Endpoints"].items():
            if self._networks[network_id]["Driver"] == OVERLAY:
                await self._leave_overlay(sandbox, self._networks[network_id])
            else:
                await run_blocking(bridge.delete_link, ep["HostIfname"])
        await run_blocking(netns.destroy, Path(sandbox["Key"]))
        await run_blocking(self._store.delete_sandbox, container_id)

    @staticmethod
    async def _close_live(live: Live) -> None:
        if live.dns is not None:
            await live.dns.close()
        await live.proxy.close()

    # ----- connect / disconnect -----------------------------------------------------------------

    async def connect(self, network_id: str, container: ContainerEndpoints, config: dict[str, Any]) -> dict[str, Any]:
        """Join a container to a network: a running one now, a stopped one at its next start; returns the
        NetworkSettings fields the container records."""
        record = self.get(network_id)
        if container.mode in ("host", "none") or container.mode.startswith("container:"):
            raise InvalidParameter("container sharing network namespace with another container or host cannot "
                                   "be connected to any other network")
        sandbox = self._sandboxes.get(container.id)
        if record["Name"] in container.networks and (not container.running or sandbox is not None and
                                                     record["Id"] in sandbox["Endpoints"]):
            raise Forbidden(f"endpoint with name {container.name.lstrip('/')} already exists in network "
                            f"{record['Name']}")
        entry = self.plan({"NetworkMode": record["Name"]}, {"EndpointsConfig": {record["Name"]: config}},
                          {})[record["Name"]]
        settings: dict[str, Any] = {"Networks": {**container.networks, record["Name"]: entry}}
        if container.running and sandbox is not None:
            async with self._lock:
                await self._add_endpoint(sandbox, record, entry)
                await self._open_live(container.id, sandbox, restoring=False)
            self._fill_settings(settings, container.id, sandbox)
        self._events.publish("network", "connect", record["Id"],
                             {"container": container.id, "name": record["Name"], "type": record["Driver"]})
        return settings

    async def disconnect(self, network_id: str, container: ContainerEndpoints) -> dict[str, Any]:
        """Take a container off a network; returns the NetworkSettings fields the container records."""
        record = self.get(network_id)
        if record["Name"] not in container.networks:
            raise Forbidden(f"container {container.id} is not connected to network {record['Name']}")
        if record["Driver"] not in ROUTED:
            raise Forbidden(f"container cannot be disconnected from {record['Name']} network")
        sandbox = self._sandboxes.get(container.id)
        if sandbox is not None and record["Id"] in sandbox["Endpoints"]:
            async with self._lock:
                ep = sandbox["Endpoints"].pop(record["Id"])
                if record["Driver"] == OVERLAY:
                    await self._leave_overlay(sandbox, record)
                    await self._program_vips(sandbox)
                else:
                    await run_blocking(bridge.remove_endpoint, self._endpoint(sandbox, ep, record))
                await self._save_sandbox(sandbox)
        settings: dict[str, Any] = {"Networks": {name: entry for name, entry in container.networks.items()
                                                 if name != record["Name"]}}
        if record["Name"] == "bridge":
            settings.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, MacAddress="", IPv6Gateway="",
                            GlobalIPv6Address="", GlobalIPv6PrefixLen=0)
        self._events.publish("network", "disconnect", record["Id"],
                             {"container": container.id, "name": record["Name"], "type": record["Driver"]})
        return settings


def _check_static_addresses(ipam_config: dict[str, Any], record: dict[str, Any]) -> None:
    """dockerd's checks of an endpoint's IPv4Address and IPv6Address at create and connect: each of its family,
    on a network with a pool of that family the user configured, inside that pool."""
    given = {4: ipam_config.get("IPv4Address"), 6: ipam_config.get("IPv6Address")}
    if any(given.values()) and record["Name"] == "bridge":
        raise InvalidParameter("user specified IP address is supported on user defined networks only")
    for version, text in given.items():
        if not text:
            continue
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            address = None
        if address is None or address.version != version or address.is_unspecified:
            raise InvalidParameter(f"invalid endpoint settings:\ninvalid IPv{version} address: {text}")
        pool = _v4(record) if version == 4 else _v6(record)
        if pool is None or record.get("AutoSubnet" if version == 4 else "AutoSubnet6"):
            raise InvalidParameter("invalid endpoint settings:\nuser specified IP address is supported only when "
                                   "connecting to networks with user configured subnets")
        if address not in ipaddress.ip_network(pool.get("IPRange") or pool["Subnet"]):
            raise InvalidParameter(f"invalid endpoint settings:\nno configured subnet or ip-range contain the IP "
                                   f"address {text}")


def _v4(record: dict[str, Any]) -> dict[str, Any]:
    """The network's IPv4 pool (every bridge network has one)."""
    config = ipam.family_config(record["IPAM"]["Config"], 4)
    assert config is not None, record["Name"]
    return config


def _v6(record: dict[str, Any]) -> dict[str, Any] | None:
    """The network's IPv6 pool; None unless IPv6 is enabled on it."""
    return ipam.family_config(record["IPAM"]["Config"], 6) if record.get("EnableIPv6") else None


def _gateway_cidr(config: dict[str, Any]) -> str:
    """The bridge's address in a pool: `gateway/prefix`."""
    return f"{config['Gateway']}/{ipaddress.ip_network(config['Subnet']).prefixlen}"


def _links(given: Any) -> dict[str, str]:
    """An endpoint's --link list (`name:alias` or `name`) as alias -> name, both lower-case, for the resolver."""
    out = {}
    for link in given or []:
        name, _, alias = str(link).partition(":")
        out[(alias or name).lower()] = name.lstrip("/").lower()
    return out


def _check_joining(host_config: dict[str, Any], config: dict[str, Any]) -> None:
    """dockerd's refusals for NetworkMode container:<id>: what only the joined container's namespace decides."""
    if not host_config["NetworkMode"].partition(":")[2]:
        raise InvalidParameter("Invalid network mode: invalid container format container:<name|id>")
    conflicts = (
        (config.get("Hostname"), "conflicting options: hostname and the network mode"),
        (host_config.get("Links"), "conflicting options: container type network can't be used with links. This "
                                   "would result in undefined behavior"),
        (host_config.get("Dns"), "conflicting options: dns and the network mode"),
        (host_config.get("ExtraHosts"), "conflicting options: custom host-to-IP mapping and the network mode"),
        (config.get("MacAddress"), "conflicting options: mac-address and the network mode"),
        (host_config.get("PortBindings") or host_config.get("PublishAllPorts"),
         "conflicting options: port publishing and the container type network mode"),
        (config.get("ExposedPorts"), "conflicting options: port exposing and the container type network mode"),
    )
    for given, message in conflicts:
        if given:
            raise InvalidParameter(message)


def _driver_opts(opts: Any) -> dict[str, str] | None:
    """An endpoint's DriverOpts as given (a string map, as Go's decoder demands); None when empty."""
    if opts is None:
        return None
    if not isinstance(opts, dict) or not all(isinstance(v, str) for v in opts.values()):
        raise InvalidParameter("json: cannot unmarshal into Go struct field EndpointSettings.DriverOpts of type "
                               "map[string]string")
    return dict(opts) or None


def _forward_in_kernel(short_id: str, forwards: list[portnat.Forward]) -> None:
    """DNAT a sandbox's published ports in the kernel (the userland proxy keeps each port reserved and
    carries only what no rule catches: sctp is refused, and every port when nft is missing)."""
    if not portnat.available():
        log.warning("nft is missing: published ports go through the userland proxy only")
        return
    with host_lock():
        portnat.install(short_id, forwards)


def _unforward(short_id: str) -> None:
    with host_lock():
        portnat.remove(short_id)


def _take_down_bridge(name: str, tag: str) -> None:
    with host_lock():
        if bridge.owner(name) == tag:
            firewall.remove(name)
            bridge.delete_link(name)


def _free_default_name(mine: set[str]) -> str:
    for n in range(1, 100):
        name = f"dockyard{n}"
        if name not in mine and bridge.owner(name) is None:
            return name
    raise Conflict("no free name for the default bridge")
