"""The `/services` face of the swarm: create (spec normalised and validated as dockerd does), list with filters
and `status`, inspect with `insertDefaults`, update under `version` (or `rollback=previous`), remove. The leader's
loops turn what is stored here into tasks."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Callable

from dockyard.cluster import servicespec
from dockyard.cluster import tasks as T
from dockyard.cluster.filters import labels_match, lookup, prefix_match
from dockyard.cluster.manager import jobs
from dockyard.cluster.service import ClusterService, new_id
from dockyard.cluster.store.backend import NameTaken, Record, delete_whatever_changed
from dockyard.errors import Conflict, InvalidParameter, NotImplementedYet
from dockyard.util.filters import Filters, check_keys
from dockyard.util.timeutil import now_rfc3339

SERVICES = "services"
TASKS = "tasks"
NETWORKS = "networks"
SERVICE_FILTERS = ("id", "label", "mode", "name")
DYNAMIC_PORTS = (30000, 32768)  # swarmkit's dynamic range for ingress ports
MODES = ("replicated", "global", "replicated-job", "global-job")
MODE_KEYS = {"Replicated": "replicated", "Global": "global", "ReplicatedJob": "replicated-job",
             "GlobalJob": "global-job"}


def mode_of(spec: dict[str, Any]) -> str:
    """The service mode's filter name."""
    return next((name for key, name in MODE_KEYS.items() if key in (spec.get("Mode") or {})), "replicated")


def as_object(record: Record) -> dict[str, Any]:
    """A stored service or task with its ID and Version, as the control loops take it."""
    return {"ID": record.id, "Version": {"Index": record.version}, **record.value}


class ServiceObjects:
    """Services of the swarm, through a manager's store."""

    def __init__(self, cluster: ClusterService, network_id: Callable[[str], str] | None = None) -> None:
        self.cluster = cluster
        self._network_id = network_id  # the swarm networks' own lookup, with texts for the node's networks
        self._ports = asyncio.Lock()  # the port table is read and a service written in one step (one manager)

    def network_id(self, ref: str) -> str:
        """The swarm network a service attaches to, by id, name or id prefix."""
        if self._network_id is not None:
            return self._network_id(ref)
        return lookup(self.cluster.manager(), NETWORKS, "network", ref).id

    def render(self, record: Record, insert_defaults: bool = False) -> dict[str, Any]:
        """A service as dockerd shows it."""
        value = record.value
        shown = servicespec.with_defaults if insert_defaults else (lambda spec: spec)
        service: dict[str, Any] = {"ID": record.id, "Version": {"Index": record.version},
                                   "CreatedAt": value["CreatedAt"], "UpdatedAt": value["UpdatedAt"],
                                   "Spec": shown(value["Spec"])}
        if value.get("PreviousSpec"):
            service["PreviousSpec"] = shown(value["PreviousSpec"])
        service["Endpoint"] = {"Spec": value["Spec"].get("EndpointSpec") or {}, **value.get("Endpoint", {})}
        if value.get("UpdateStatus"):
            service["UpdateStatus"] = value["UpdateStatus"]
        if value.get("JobStatus"):
            service["JobStatus"] = value["JobStatus"]
        return service

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /services/create: {"ID", "Warnings"}."""
        store = self.cluster.manager()
        spec = servicespec.normalise(body, self.network_id)
        servicespec.validate(spec)
        self._check_references(spec)
        now = now_rfc3339()
        service_id = new_id()
        async with self._ports:  # no other create or update takes a port between the check and the write
            value = {"CreatedAt": now, "UpdatedAt": now, "Spec": spec, "SpecVersion": {"Index": 1},
                     **self._endpoint(service_id, spec, [])}
            if jobs.is_job(value):
                value["JobStatus"] = {"JobIteration": jobs.version(0), "LastExecution": now}
            try:
                await store.create(SERVICES, service_id, value, name=spec["Name"])
            except NameTaken as taken:
                raise Conflict(f"rpc error: code = AlreadyExists desc = service {spec['Name']} already exists") \
                    from taken
        return {"ID": service_id, "Warnings": None}

    def _endpoint(self, service_id: str, spec: dict[str, Any], before: list[dict[str, Any]]) -> dict[str, Any]:
        """{"Endpoint": {"Ports"}} as swarmkit's allocator records them (ingress ports without a PublishedPort get
        one of 30000-32767, kept across updates; host-mode ports as sent: the node publishes them), or nothing
        without ports; a port another service publishes is refused with swarmkit's text (several services may
        share a host-mode port: the scheduler keeps them apart)."""
        wanted = (spec.get("EndpointSpec") or {}).get("Ports") or []
        if not wanted:
            return {}
        taken: dict[tuple[int, str], tuple[Record, str]] = {}
        for other in self.cluster.manager().list(SERVICES):
            if other.id != service_id:
                for port in (other.value.get("Endpoint") or {}).get("Ports") or []:
                    if port.get("PublishedPort"):
                        taken.setdefault((port["PublishedPort"], port["Protocol"]), (other, port["PublishMode"]))
        kept = {(p["TargetPort"], p["Protocol"]): p["PublishedPort"] for p in before if p["PublishMode"] == "ingress"}
        ports: list[dict[str, Any]] = []
        for port in wanted:
            key = (port.get("TargetPort", 0), port["Protocol"])
            host = port["PublishMode"] == "host"
            published = port.get("PublishedPort") or (0 if host else kept.get(key) or next(
                (n for n in range(*DYNAMIC_PORTS) if (n, port["Protocol"]) not in taken
                 and all(p.get("PublishedPort") != n for p in ports)), 0))
            if not published and not host:
                raise InvalidParameter("rpc error: code = ResourceExhausted desc = no dynamic ingress port left")
            owner, mode = taken.get((published, port["Protocol"]), (None, ""))
            if owner is not None and (mode == "ingress" or not host):
                raise InvalidParameter(f"rpc error: code = InvalidArgument desc = port '{published}' is already in "
                                       f"use by service '{owner.value['Spec']['Name']}' ({owner.id}) as "
                                       f"{'an ingress' if mode == 'ingress' else 'a host-published'} port")
            ports.append({**({"Name": port["Name"]} if port.get("Name") else {}), "Protocol": port["Protocol"],
                          "TargetPort": key[0], **({"PublishedPort": published} if published else {}),
                          "PublishMode": port["PublishMode"]})
        return {"Endpoint": {"Ports": ports}}

    def _check_references(self, spec: dict[str, Any]) -> None:
        """Every secret and config the spec references exists (swarmkit's texts)."""
        store = self.cluster.manager()
        container = spec["TaskTemplate"].get("ContainerSpec") or {}
        for kind, key, id_key, name_key in (("secrets", "Secrets", "SecretID", "SecretName"),
                                            ("configs", "Configs", "ConfigID", "ConfigName")):
            missing = [ref.get(name_key) or ref.get(id_key, "") for ref in container.get(key) or []
                       if store.get(kind, ref.get(id_key, "")) is None]
            if missing:
                raise InvalidParameter(f"rpc error: code = InvalidArgument desc = {kind[:-1]} not found: "
                                       f"{', '.join(missing)}")

    def _find(self, ref: str) -> Record:
        """The service `ref` names (id, name or id prefix)."""
        return lookup(self.cluster.manager(), SERVICES, "service", ref)

    def inspect(self, ref: str, insert_defaults: bool = False) -> dict[str, Any]:
        """GET /services/{id}."""
        return self.render(self._find(ref), insert_defaults)

    def list(self, filters: Filters, status: bool = False) -> list[dict[str, Any]]:
        """GET /services."""
        check_keys(filters, SERVICE_FILTERS)
        for mode in filters.get("mode", []):
            if mode not in MODES:
                raise InvalidParameter(f"Invalid filter: 'mode'='{mode}'")
        store = self.cluster.manager()
        found = []
        for record in store.list(SERVICES):
            spec = record.value["Spec"]
            if (prefix_match(filters.get("id"), record.id) and prefix_match(filters.get("name"), spec["Name"])
                    and (not filters.get("mode") or mode_of(spec) in filters["mode"])
                    and labels_match(filters, "label", spec.get("Labels"))):
                service = self.render(record)
                if status:
                    job = service.pop("JobStatus", None)
                    service["ServiceStatus"] = self._status(record)
                    service.update({"JobStatus": job} if job else {})
                found.append(service)
        return found

    def _status(self, record: Record) -> dict[str, int]:
        """ServiceStatus: running tasks, desired tasks, completed tasks (jobs: of the current iteration, as
        swarmkit's controlapi counts them)."""
        tasks = [as_object(t) for t in self.cluster.manager().list(TASKS) if t.value["ServiceID"] == record.id]
        mode = record.value["Spec"].get("Mode") or {}
        if jobs.is_job(record.value):
            current = jobs.iteration(record.value)
            tasks = [t for t in tasks if jobs.task_iteration(t) == current]
            completed = sum(1 for t in tasks if t["Status"]["State"] == "complete")
            running = sum(1 for t in tasks if t["Status"]["State"] == "running")
            desired = mode["ReplicatedJob"].get("MaxConcurrent", 1) if "ReplicatedJob" in mode else sum(
                1 for t in tasks if t["Status"]["State"] != "complete" and t["DesiredState"] == "complete")
            return {"RunningTasks": running, "DesiredTasks": desired, "CompletedTasks": completed}
        running = sum(1 for t in tasks if T.is_runnable(t) and t["Status"]["State"] == "running")
        replicated = mode.get("Replicated")
        desired = replicated.get("Replicas", 1) if replicated is not None else \
            sum(1 for t in tasks if T.is_runnable(t))
        return {"RunningTasks": running, "DesiredTasks": desired, "CompletedTasks": 0}

    async def update(self, ref: str, version: str | None, body: Any, rollback: str | None) -> dict[str, Any]:
        """POST /services/{id}/update: the spec replaced (the old one kept as PreviousSpec), or swapped back."""
        store = self.cluster.manager()
        record = self._find(ref)
        try:
            index = int(version or "")
        except ValueError:
            raise InvalidParameter(f"invalid service version '{version or ''}': strconv.ParseUint: parsing "
                                   f"\"{version or ''}\": invalid syntax") from None
        value = copy.deepcopy(record.value)
        current = value["Spec"]
        now = now_rfc3339()
        if rollback == "previous":
            if not value.get("PreviousSpec"):
                raise InvalidParameter(f"rpc error: code = FailedPrecondition desc = service {record.id} does not "
                                       "have a previous spec")
            value["Spec"], value["PreviousSpec"] = value["PreviousSpec"], current
            value["UpdateStatus"] = {"State": "rollback_started", "StartedAt": now,
                                     "Message": "manually requested rollback"}
        else:
            spec = servicespec.normalise(body, self.network_id)
            servicespec.validate(spec)
            if spec["Name"] != current["Name"]:
                raise NotImplementedYet("rpc error: code = Unimplemented desc = renaming services is not supported")
            if mode_of(spec) != mode_of(current):
                raise InvalidParameter("rpc error: code = InvalidArgument desc = service mode change is not allowed")
            self._check_references(spec)
            value["PreviousSpec"], value["Spec"] = current, spec
            value.pop("UpdateStatus", None)
        vips = value.pop("Endpoint", {}).get("VirtualIPs")  # kept: the allocator follows the spec's networks
        value["SpecVersion"] = {"Index": value.get("SpecVersion", {}).get("Index", 0) + 1}
        if value.get("JobStatus"):  # every update of a job runs it again (swarmkit's controlapi)
            value["JobStatus"] = {"JobIteration": jobs.version(jobs.iteration(value) + 1), "LastExecution": now}
        value["UpdatedAt"] = now
        async with self._ports:
            value.update(self._endpoint(record.id, value["Spec"],
                                        (record.value.get("Endpoint") or {}).get("Ports") or []))
            if vips:
                value.setdefault("Endpoint", {})["VirtualIPs"] = vips
            await store.update(SERVICES, record.id, value, version=index, name=value["Spec"]["Name"])
        return {"Warnings": None}

    async def remove(self, ref: str) -> None:
        """DELETE /services/{id}: its tasks are removed by the leader's loops. Unconditional, as swarmkit's: a
        loop's write in between (the allocator's VIPs) is read again, never an error."""
        await delete_whatever_changed(self.cluster.manager(), SERVICES, self._find(ref).id)

