"""The `/services` face of the swarm: create (spec normalised and validated as dockerd does), list with filters
and `status`, inspect with `insertDefaults`, update under `version` (or `rollback=previous`), remove. The leader's
loops turn what is stored here into tasks."""

from __future__ import annotations

import copy
from typing import Any

from dockyard.cluster import servicespec
from dockyard.cluster import tasks as T
from dockyard.cluster.filters import labels_match, lookup, prefix_match
from dockyard.cluster.service import ClusterService, new_id
from dockyard.cluster.store.backend import NameTaken, Record
from dockyard.errors import Conflict, InvalidParameter, NotImplementedYet
from dockyard.util.filters import Filters, check_keys
from dockyard.util.timeutil import now_rfc3339

SERVICES = "services"
TASKS = "tasks"
NETWORKS = "networks"
SERVICE_FILTERS = ("id", "label", "mode", "name")
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

    def __init__(self, cluster: ClusterService) -> None:
        self.cluster = cluster

    def network_id(self, ref: str) -> str:
        """The swarm network a service attaches to, by id, name or id prefix."""
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
        return service

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /services/create: {"ID", "Warnings"}."""
        store = self.cluster.manager()
        spec = servicespec.normalise(body, self.network_id)
        servicespec.validate(spec)
        _refuse_published_ports(spec)
        self._check_references(spec)
        now = now_rfc3339()
        service_id = new_id()
        value = {"CreatedAt": now, "UpdatedAt": now, "Spec": spec, "SpecVersion": {"Index": 1}}
        try:
            await store.create(SERVICES, service_id, value, name=spec["Name"])
        except NameTaken as taken:
            raise Conflict(f"rpc error: code = AlreadyExists desc = service {spec['Name']} already exists") \
                from taken
        return {"ID": service_id, "Warnings": None}

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
                    service["ServiceStatus"] = self._status(record)
                found.append(service)
        return found

    def _status(self, record: Record) -> dict[str, int]:
        """ServiceStatus: running tasks, desired tasks, completed tasks (jobs)."""
        tasks = [as_object(t) for t in self.cluster.manager().list(TASKS) if t.value["ServiceID"] == record.id]
        running = sum(1 for t in tasks if T.is_runnable(t) and t["Status"]["State"] == "running")
        replicated = (record.value["Spec"].get("Mode") or {}).get("Replicated")
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
            _refuse_published_ports(spec)
            if spec["Name"] != current["Name"]:
                raise NotImplementedYet("rpc error: code = Unimplemented desc = renaming services is not supported")
            if mode_of(spec) != mode_of(current):
                raise InvalidParameter("rpc error: code = InvalidArgument desc = service mode change is not allowed")
            self._check_references(spec)
            value["PreviousSpec"], value["Spec"] = current, spec
            value.pop("UpdateStatus", None)
        value["SpecVersion"] = {"Index": value.get("SpecVersion", {}).get("Index", 0) + 1}
        value["UpdatedAt"] = now
        await store.update(SERVICES, record.id, value, version=index, name=value["Spec"]["Name"])
        return {"Warnings": None}

    async def remove(self, ref: str) -> None:
        """DELETE /services/{id}: its tasks are removed by the leader's loops."""
        record = self._find(ref)
        await self.cluster.manager().delete(SERVICES, record.id)


def _refuse_published_ports(spec: dict[str, Any]) -> None:
    """Published ports need the routing mesh (or host-mode publishing), which tasks do not get yet: refused
    rather than stored and never published."""
    if (spec.get("EndpointSpec") or {}).get("Ports"):
        raise NotImplementedYet("published ports for swarm services are not supported yet: tasks are not attached "
                                "to the ingress routing mesh")
