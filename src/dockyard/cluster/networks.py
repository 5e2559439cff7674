"""Swarm overlay networks as cluster objects (swarmkit's controlapi `network.go`, dockerd's `cluster/networks.go` and
`convert/network.go`): created on a manager with dockerd's checks and texts, subnet and VNI allocated at once
(`netalloc`), stored as swarm.Network; recorded on this node too so containers can join them; removal refused while a
service or task uses one. `SwarmNetworks` is the network routes' backend: the node's networks merged with the
swarm's, as dockerd's router merges them. `Attachments` gives the network service overlay addresses from the
allocator: a task's own, or a plain container's on an attachable network (an attachment the leader allocates)."""

from __future__ import annotations

import asyncio
import builtins
import ipaddress
import time
from typing import Any, Protocol

from dockyard.cluster import netalloc, tasks as T
from dockyard.cluster.filters import lookup
from dockyard.cluster.ingress import SANDBOX
from dockyard.cluster.service import ClusterService, new_id
from dockyard.cluster.store.backend import ClusterStore, NameTaken, Record
from dockyard.errors import Conflict, Forbidden, InvalidParameter, NotFound, NotImplementedYet, SystemError_
from dockyard.network.overlay import OverlaySpec
from dockyard.network.overlaynets import OVERLAY, VXLAN_OPT
from dockyard.network.views import BUILTIN, matches, network_view
from dockyard.util.filters import Filters
from dockyard.util.timeutil import now_rfc3339

NETWORKS, ATTACHMENTS, SERVICES, TASKS = "networks", "attachments", "services", "tasks"
RPC = "rpc error: code = {} desc = "
ENCRYPTED_OPT = "encrypted"
ERR_ENCRYPTED = "encrypted overlay networks need IPsec ESP in the kernel (CONFIG_INET_ESP), which this host lacks"
PREDEFINED_LABEL = "com.docker.swarm.predefined"
ATTACH_TIMEOUT = 10.0
ATTACH_POLL = 0.02


class OverlayRecords(Protocol):
    """The network service, as swarm networks are recorded on this node."""

    def get(self, ref: str) -> dict[str, Any]:
        """A network's record (NotFound when there is none)."""

    def list(self, filters: Filters) -> builtins.list[dict[str, Any]]:
        """The node's networks matching docker's filters."""

    async def add_overlay(self, spec: OverlaySpec, name: str, attachable: bool = False, ingress: bool = False,
                          labels: dict[str, str] | None = None, reserved: dict[str, str] | None = None,
                          internal: bool = False, options: dict[str, str] | None = None) -> None:
        """Record an overlay network the cluster allocated (idempotent)."""

    async def retire_overlay(self, ref: str) -> None:
        """The cluster removed an overlay: its record goes now, or with its last local endpoint."""


class NodeNetworks(OverlayRecords, Protocol):
    """The node's network service, as the network routes and the swarm's networks use it."""

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /networks/{id} of the node."""

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /networks/create of a local network."""

    async def remove(self, ref: str) -> None:
        """DELETE /networks/{id} of a local network."""

    async def prune(self, filters: Filters) -> dict[str, Any]:
        """POST /networks/prune of local networks."""


def overlay_spec(network: dict[str, Any]) -> OverlaySpec:
    """What the data plane needs of a stored network (`{"ID", ...value}`)."""
    config = network["IPAMOptions"]["Configs"][0]
    return OverlaySpec(network["ID"], netalloc.vni_of(network), config["Subnet"], config["Gateway"])


async def record_locally(networks: OverlayRecords, network: dict[str, Any]) -> None:
    """Record a swarm network on this node (idempotent), so containers can join it."""
    spec = network["Spec"]
    options = {k: v for k, v in network["DriverState"].get("Options", {}).items() if k != VXLAN_OPT}
    await networks.add_overlay(overlay_spec(network), spec["Name"], attachable=bool(spec.get("Attachable")),
                               ingress=netalloc.is_ingress(network), labels=spec.get("Labels") or {},
                               internal=bool(spec.get("Internal")), options=options)


async def reconcile_local(store: ClusterStore, networks: OverlayRecords) -> None:
    """A manager has every swarm network recorded and none the swarm removed (a daemon stopped in between)."""
    for record in store.list(NETWORKS):
        await record_locally(networks, {"ID": record.id, **record.value})
    for local in networks.list({"driver": [OVERLAY], "scope": ["swarm"]}):
        if not local["Ingress"] and store.get(NETWORKS, local["Id"]) is None:
            await networks.retire_overlay(local["Id"])


def resource(record: Record) -> dict[str, Any]:
    """A swarm network as `/networks` shows it (dockerd's BasicNetworkFromGRPC, in the node's record order)."""
    value = record.value
    spec = value["Spec"]
    return {"Name": spec["Name"], "Id": record.id, "Created": value["CreatedAt"], "Scope": "swarm",
            "Driver": value["DriverState"]["Name"], "EnableIPv6": False,
            "IPAM": {"Driver": value["IPAMOptions"]["Driver"]["Name"], "Options": None,
                     "Config": [_config_view(c) for c in value["IPAMOptions"]["Configs"]]},
            "Internal": bool(spec.get("Internal")), "Attachable": bool(spec.get("Attachable")),
            "Ingress": bool(spec.get("Ingress")),
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
            "Options": dict(value["DriverState"].get("Options") or {}), "Labels": dict(spec.get("Labels") or {})}


def _config_view(config: dict[str, str]) -> dict[str, str]:
    """An IPAM config of a stored network in `/networks`' names."""
    view = {"Subnet": config["Subnet"], "Gateway": config["Gateway"]}
    if config.get("Range"):
        view["IPRange"] = config["Range"]
    return view


def _rpc(code: str, message: str) -> str:
    """A swarmkit gRPC error as dockerd passes its text on."""
    return RPC.format(code) + message


class NetworkObjects:
    """The swarm's networks, through a manager's store."""

    def __init__(self, cluster: ClusterService, local: NodeNetworks) -> None:
        self.cluster = cluster
        self.local = local
        self._lock = asyncio.Lock()  # one allocation of subnet and VNI at a time

    def is_manager(self) -> bool:
        """This node serves the swarm's objects."""
        return self.cluster.store is not None

    def find(self, ref: str) -> Record:
        """A swarm network by id, name or id prefix."""
        return lookup(self.cluster.manager(), NETWORKS, "network", ref)

    def records(self) -> builtins.list[Record]:
        """Every swarm network (none outside a swarm)."""
        store = self.cluster.store
        return store.list(NETWORKS) if store is not None else []

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /networks/create with Driver overlay on a manager."""
        store = self.cluster.manager()
        name = body["Name"]
        options = {k: str(v) for k, v in (body.get("Options") or {}).items()}
        labels = dict(body.get("Labels") or {})
        if ENCRYPTED_OPT in options:
            raise InvalidParameter(ERR_ENCRYPTED)
        if body.get("Ingress"):
            raise NotImplementedYet("custom ingress networks are not supported yet: the swarm's ingress network is "
                                    "made by each node")
        if body.get("EnableIPv6"):
            raise NotImplementedYet("IPv6 on overlay networks is not supported yet")
        if body.get("ConfigOnly") or (body.get("ConfigFrom") or {}).get("Network"):
            raise NotImplementedYet("config-only networks are not supported for the overlay driver yet")
        if PREDEFINED_LABEL in labels:
            raise Forbidden(_rpc("PermissionDenied", f"label {PREDEFINED_LABEL} is for internally created "
                                                     "predefined networks and cannot be applied by users"))
        ipam = body.get("IPAM")
        driver = (ipam or {}).get("Driver") or "default"
        if driver != "default":
            raise NotFound(f'plugin "{driver}" not found')
        given = [_ipam_config(c) for c in (ipam or {}).get("Config") or []]
        given = [c for c in given if ipaddress.ip_network(c["Subnet"]).version == 4]
        if len(given) > 1:
            raise InvalidParameter("only one IPv4 address pool per network is supported")
        async with self._lock:
            others = [{"ID": r.id, **r.value} for r in store.list(NETWORKS)]
            if any(n["Name"] == name for n in self.local.list({})):
                raise Conflict(f"network with name {name} already exists")
            if given:
                netalloc.check_subnet(ipaddress.IPv4Network(given[0]["Subnet"]), others)
                config = dict(given[0])
            else:
                cluster = store.find("cluster", "default")
                pool = cluster.value["DefaultAddrPool"] if cluster else ["10.0.0.0/8"]
                size = cluster.value["SubnetSize"] if cluster else 24
                subnet = netalloc.pick_subnet(pool, size, others)
                config = {"Subnet": str(subnet)}
            config.setdefault("Gateway", str(next(ipaddress.IPv4Network(config["Subnet"]).hosts())))
            now = now_rfc3339()
            spec: dict[str, Any] = {"Name": name, "Labels": labels,
                                    "DriverConfiguration": {"Name": OVERLAY, **({"Options": options} if options else {})}}
            for key in ("Internal", "Attachable"):
                if body.get(key):
                    spec[key] = True
            if ipam is not None:
                spec["IPAMOptions"] = {"Driver": {"Name": driver}, **({"Configs": given} if given else {})}
            spec["Scope"] = "swarm"
            value = {"CreatedAt": now, "UpdatedAt": now, "Spec": spec,
                     "DriverState": {"Name": OVERLAY, "Options": {**options, VXLAN_OPT: str(netalloc.next_vni(others))}},
                     "IPAMOptions": {"Driver": {"Name": driver}, "Configs": [config]}}
            network_id = new_id()
            try:
                await store.create(NETWORKS, network_id, value, name=name)
            except NameTaken:
                raise Conflict(f"network with name {name} already exists") from None
        await record_locally(self.local, {"ID": network_id, **value})
        return {"Id": network_id, "Warning": ""}

    def service_network(self, ref: str) -> str:
        """The id of the swarm network a service spec names (dockerd's populateNetworkID and swarmkit's texts for
        the node's own networks)."""
        try:
            found = self.find(ref)
        except NotFound:
            try:
                local = self.local.get(ref)
            except NotFound:
                raise NotFound(f"network {ref} not found") from None
        else:
            if not netalloc.is_ingress(found.value):
                return found.id
            local = {"Ingress": True, "Name": found.name}
        if local["Ingress"]:
            raise InvalidParameter(_rpc("InvalidArgument", "Service cannot be explicitly attached to the ingress "
                                                           f'network "{local["Name"]}"'))
        if local["Name"] in BUILTIN:
            raise NotImplementedYet(f"services on the predefined network {local['Name']} are not supported yet")
        raise Forbidden(f"The network {local['Name']} cannot be used with services. Only networks scoped to the "
                        "swarm can be used, such as those created with the overlay driver.")

    async def remove(self, record: Record) -> None:
        """Remove a swarm network nothing uses (swarmkit's texts), and its record on this node."""
        store = self.cluster.manager()
        if netalloc.is_ingress(record.value):
            raise NotImplementedYet("removing the ingress network is not supported yet")
        for service in store.list(SERVICES):
            if record.id in netalloc.service_networks({"ID": service.id, **service.value}):
                raise InvalidParameter(_rpc("FailedPrecondition",
                                            f"network {record.id} is in use by service {service.id}"))
        services = {service.id for service in store.list(SERVICES)}
        for task in store.list(TASKS):
            value = {"ID": task.id, **task.value}
            # a task of a removed service is on its way out (swarmkit's orchestrator marks it REMOVE at once)
            if (record.id in netalloc.task_networks(value) and T.is_active(value)
                    and value["ServiceID"] in services):
                raise InvalidParameter(_rpc("FailedPrecondition", f"network {record.id} is in use by task {task.id}"))
        for attachment in store.list(ATTACHMENTS):
            if attachment.value["NetworkID"] == record.id:
                raise InvalidParameter(_rpc("FailedPrecondition",
                                            f"network {record.id} is in use by task {attachment.id}"))
        await store.delete(NETWORKS, record.id)
        try:
            await self.local.retire_overlay(record.id)
        except NotFound:
            pass  # never recorded here


def _ipam_config(config: dict[str, Any]) -> dict[str, str]:
    """A sent IPAM config checked as swarmkit's validateIPAMConfiguration (its texts), in swarm.IPAMConfig names."""
    subnet_text = str(config.get("Subnet") or "")
    try:
        subnet = ipaddress.ip_network(subnet_text, strict=False)
    except ValueError:
        raise InvalidParameter(_rpc("InvalidArgument", f"ipam configuration: invalid subnet {subnet_text}")) from None
    out = {"Subnet": str(subnet)}
    for key, name in (("IPRange", "Range"), ("Gateway", "Gateway")):
        text = str(config.get(key) or "")
        if not text:
            continue
        try:
            inside = ipaddress.ip_network(text, strict=False).network_address if key == "IPRange" \
                else ipaddress.ip_address(text)
        except ValueError:
            raise InvalidParameter(_rpc("InvalidArgument", f"ipam configuration: invalid {name.lower()} {text}")) \
                from None
        if inside not in subnet:
            raise InvalidParameter(_rpc("InvalidArgument", f"ipam configuration: subnet {subnet} does not contain "
                                                           f"{name.lower()} {text}"))
        out[name] = text
    return out


class SwarmNetworks:
    """`/networks`: the node's networks and, on a manager, the swarm's (dockerd's network router)."""

    def __init__(self, local: NodeNetworks, swarm: NetworkObjects) -> None:
        self.local = local
        self.swarm = swarm

    def _known_here(self, network_id: str) -> bool:
        try:
            self.local.get(network_id)
            return True
        except NotFound:
            return False

    def list(self, filters: Filters) -> builtins.list[dict[str, Any]]:
        """GET /networks: the node's, then the swarm's it does not have."""
        found = self.local.list(filters)
        for record in self.swarm.records():
            view = resource(record)
            if not self._known_here(record.id) and matches(view, filters, False):
                found.append(network_view(view, {}))
        return found

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /networks/{id}: the node's record (with its containers), else the swarm's."""
        try:
            return self.local.inspect(ref)
        except NotFound:
            if not self.swarm.is_manager():
                raise
        return network_view(resource(self.swarm.find(ref)), {})

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /networks/create: overlays become swarm networks on a manager."""
        if isinstance(body, dict) and isinstance(body.get("Name"), str) and body["Name"].strip():
            if self.swarm.is_manager():
                if any(r.name == body["Name"] for r in self.swarm.records()):
                    raise Conflict(f"network with name {body['Name']} already exists")
                if body.get("Driver") == OVERLAY:
                    return await self.swarm.create(body)
        return await self.local.create(body)

    async def remove(self, ref: str) -> None:
        """DELETE /networks/{id}: a swarm network through the swarm."""
        if self.swarm.is_manager():
            try:
                record = self.swarm.find(ref)
            except NotFound:
                record = None
            if record is not None:
                await self.swarm.remove(record)
                return
        await self.local.remove(ref)

    async def prune(self, filters: Filters) -> dict[str, Any]:
        """POST /networks/prune: unused local networks, then (manager) unused swarm networks."""
        pruned = await self.local.prune(filters)
        deleted = list(pruned.get("NetworksDeleted") or [])
        for record in self.swarm.records():
            view = resource(record)
            if netalloc.is_ingress(record.value) or not matches(view, {"label": filters.get("label", [])}, False):
                continue
            try:
                await self.swarm.remove(record)
            except (InvalidParameter, NotFound):
                continue  # in use, or gone meanwhile
            deleted.append(view["Name"])
        return {"NetworksDeleted": deleted or None}


class Attachments:
    """Overlay addresses for the node's network service, from the swarm's allocator."""

    def __init__(self, cluster: ClusterService) -> None:
        self.cluster = cluster

    async def attach(self, network_id: str, container_id: str, name: str, wanted: str | None) -> str:
        """A task container's allocated address; a plain container's from a new attachment (attachable networks
        only, dockerd's texts); refused while this node is no active manager or the swarm removed the network. On
        a worker a task container's address is the allocation its assignment carried (`wanted`)."""
        if self.cluster.store is None and self.cluster.local is not None and self.cluster.local.role == "worker":
            if wanted and _is_task_container(name):
                return wanted
            raise NotImplementedYet("containers on a worker join swarm networks only as tasks: plain containers "
                                    "attach to overlay networks on a manager")
        store = self.cluster.manager()
        network = store.get(NETWORKS, network_id)
        if network is None:
            raise NotFound(f"network {network_id} not found")
        allocated = _task_address(store, network_id, name, self.cluster.node_id)
        if allocated is not None:
            return allocated
        if not network.value["Spec"].get("Attachable"):
            raise SystemError_(f"Could not attach to network {network.name}: "  # dockerd's plain error: a 500
                            + _rpc("PermissionDenied", f"network {network.name} not manually attachable"))
        attachment_id = new_id()
        await store.create(ATTACHMENTS, attachment_id, {"NetworkID": network_id, "ContainerID": container_id,
                                                        "NodeID": self.cluster.node_id, "Requested": wanted or "",
                                                        "CreatedAt": now_rfc3339()})
        deadline = time.monotonic() + ATTACH_TIMEOUT
        while True:
            record = store.get(ATTACHMENTS, attachment_id)
            if record is not None and (record.value.get("Addresses") or record.value.get("Err")):
                break
            if time.monotonic() > deadline:
                await self._delete(store, attachment_id)
                raise SystemError_("attaching to network failed, make sure your network options are correct and "
                                   "check manager logs: context deadline exceeded")
            await asyncio.sleep(ATTACH_POLL)
        if record.value.get("Err"):
            await self._delete(store, attachment_id)
            raise SystemError_(f"Could not attach to network {network.name}: {record.value['Err']}")
        return str(record.value["Addresses"][0]).partition("/")[0]

    async def detach(self, network_id: str, container_id: str) -> None:
        """Remove the container's attachments to the network."""
        store = self.cluster.store
        if store is None:
            return
        for record in store.list(ATTACHMENTS):
            if record.value["NetworkID"] == network_id and record.value["ContainerID"] == container_id:
                await self._delete(store, record.id)

    @staticmethod
    async def _delete(store: ClusterStore, attachment_id: str) -> None:
        await delete_attachment(store, attachment_id)


async def delete_attachment(store: ClusterStore, attachment_id: str) -> None:
    """Remove an attachment (gone already is fine)."""
    try:
        await store.delete(ATTACHMENTS, attachment_id)
    except NotFound:
        pass  # gone meanwhile


async def prune_attachments(store: ClusterStore, node_id: str, running: set[str]) -> None:
    """Remove the node's attachments of containers that no longer run (they ended while the daemon was down)."""
    for record in store.list(ATTACHMENTS):
        if record.value["NodeID"] == node_id and record.value["ContainerID"] not in (*running, SANDBOX):
            await delete_attachment(store, record.id)


def _is_task_container(name: str) -> bool:
    """The name has a task container's shape, `<service>.<slot>.<task id>` (a 25-character swarmkit id)."""
    parts = name.lstrip("/").split(".")
    return len(parts) >= 3 and len(parts[-1]) == 25 and parts[-1].isalnum()


def _task_address(store: ClusterStore, network_id: str, container_name: str, node_id: str) -> str | None:
    """The allocated address on the network of the task whose container this is (`<service>.<slot>.<task id>`)."""
    task = store.get(TASKS, container_name.rpartition(".")[2])
    if task is None or task.value.get("NodeID") != node_id:
        return None
    for attached in task.value.get("NetworksAttachments") or []:
        if attached["Network"]["ID"] == network_id:
            return str(attached["Addresses"][0]).partition("/")[0]
    return None
