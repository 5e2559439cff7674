"""`/secrets` and `/configs`: create, list with filters, inspect, update (labels only), remove. A secret's data is
sealed with the cluster data key (AES-256-GCM, the object id as associated data) before it reaches the store and is
never shown; a config's data is stored and shown as sent."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from dockyard.cluster import spec as shapes
from dockyard.cluster.ca.keys import seal, unseal
from dockyard.cluster.filters import labels_match, lookup, prefix_match
from dockyard.cluster.service import ClusterService, new_id
from dockyard.cluster.store.backend import ClusterStore, NameTaken, Record
from dockyard.errors import Conflict, InvalidParameter
from dockyard.util.filters import Filters, check_keys
from dockyard.util.timeutil import now_rfc3339

NAME_RE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-_.]{0,62}[a-zA-Z0-9])?\Z")
ERR_NAME = ("rpc error: code = InvalidArgument desc = invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, "
            "and the start and end character must be [a-zA-Z0-9]")
ERR_LABELS_ONLY = "rpc error: code = InvalidArgument desc = only updates to Labels are allowed"
SERVICES = "services"


@dataclass(frozen=True)
class ObjectKind:
    """What differs between secrets and configs."""

    kind: str
    singular: str
    shape: shapes.Shape
    max_size: int
    size_text: str
    sealed: bool
    filters: tuple[str, ...]
    references: str


SECRETS = ObjectKind("secrets", "secret", shapes.SECRET_SPEC, 500 * 1024, "500 KB", True,
                     ("names", "name", "id", "label"), "Secrets")
CONFIGS = ObjectKind("configs", "config", shapes.CONFIG_SPEC, 1000 * 1024, "1000 KB", False,
                     ("name", "id", "label"), "Configs")


class ObjectService:
    """Secrets or configs of the swarm."""

    def __init__(self, cluster: ClusterService, kind: ObjectKind) -> None:
        self.cluster = cluster
        self.kind = kind

    def render(self, record: Record) -> dict[str, Any]:
        """The object as dockerd shows it (a secret without Data)."""
        spec = dict(record.value["Spec"])
        if not self.kind.sealed and record.value.get("Data") is not None:
            spec["Data"] = record.value["Data"]
        return {"ID": record.id, "Version": {"Index": record.version}, "CreatedAt": record.value["CreatedAt"],
                "UpdatedAt": record.value["UpdatedAt"],
                "Spec": shapes.with_labels(shapes.render(self.kind.shape, spec))}

    def data(self, record: Record) -> bytes:
        """The object's plaintext data (for the agent that hands it to a task)."""
        if self.kind.sealed:
            return unseal(self.cluster.dek(), record.value["SealedData"], record.id)
        return base64.b64decode(record.value.get("Data") or "")

    async def create(self, body: Any) -> dict[str, str]:
        """POST /<kind>/create: {"ID"}."""
        store = self.cluster.manager()
        spec = shapes.render(self.kind.shape, body, f"swarm.{self.kind.singular.title()}Spec")
        name = spec.get("Name", "")
        if not NAME_RE.match(name):
            raise InvalidParameter(ERR_NAME)
        data = _decode(spec.pop("Data", ""))
        if not spec.get("Driver") and not 0 < len(data) <= self.kind.max_size:
            raise InvalidParameter(f"rpc error: code = InvalidArgument desc = {self.kind.singular} data must be "
                                   f"larger than 0 and less than {self.kind.size_text}")
        object_id = new_id()
        now = now_rfc3339()
        value: dict[str, Any] = {"CreatedAt": now, "UpdatedAt": now, "Spec": spec}
        if self.kind.sealed:
            value["SealedData"] = seal(self.cluster.dek(), data, object_id)
        else:
            value["Data"] = base64.b64encode(data).decode()
        try:
            await store.create(self.kind.kind, object_id, value, name=name)
        except NameTaken as taken:
            raise Conflict(f"rpc error: code = AlreadyExists desc = {self.kind.singular} {name} already "
                           "exists") from taken
        return {"ID": object_id}

    def list(self, filters: Filters) -> list[dict[str, Any]]:
        """GET /<kind>."""
        check_keys(filters, self.kind.filters)
        found = []
        for record in self.cluster.manager().list(self.kind.kind):
            name = record.name or ""
            if (prefix_match(filters.get("id"), record.id) and prefix_match(filters.get("name"), name)
                    and (not filters.get("names") or name in filters["names"])
                    and labels_match(filters, "label", record.value["Spec"].get("Labels"))):
                found.append(self.render(record))
        return found

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /<kind>/{id}: by id, name or id prefix."""
        return self.render(self._find(ref))

    def _find(self, ref: str) -> Record:
        """The object `ref` names."""
        return lookup(self.cluster.manager(), self.kind.kind, self.kind.singular, ref)

    async def update(self, ref: str, version: int, body: Any) -> None:
        """POST /<kind>/{id}/update: only Labels may change."""
        store = self.cluster.manager()
        record = self._find(ref)
        sent = shapes.render(self.kind.shape, body, f"swarm.{self.kind.singular.title()}Spec")
        current = shapes.render(self.kind.shape, record.value["Spec"])
        sent_data = sent.pop("Data", None)
        changed = {k for k in set(sent) | set(current) if k != "Labels" and sent.get(k) != current.get(k)}
        if changed or (sent_data is not None and _decode(sent_data) != self.data(record)):
            raise InvalidParameter(ERR_LABELS_ONLY)
        value = {**record.value, "Spec": {**record.value["Spec"], "Labels": sent.get("Labels")},
                 "UpdatedAt": now_rfc3339()}
        await store.update(self.kind.kind, record.id, value, version=version, name=record.name)

    async def remove(self, ref: str) -> None:
        """DELETE /<kind>/{id}; refused while a service's spec references it (swarmkit's text)."""
        record = self._find(ref)
        users = users_of(self.cluster.manager(), self.kind, record.id)
        if users:
            plural = "service" if len(users) == 1 else "services"
            name = record.value["Spec"]["Name"]
            raise InvalidParameter(f"rpc error: code = InvalidArgument desc = {self.kind.singular} '{name}' is in "
                                   f"use by the following {plural}: {', '.join(users)}")
        await self.cluster.manager().delete(self.kind.kind, record.id)


def users_of(store: ClusterStore, kind: ObjectKind, object_id: str) -> list[str]:
    """Names of the services whose current spec references the object, by service id (swarmkit's index)."""
    id_key = f"{kind.singular.title()}ID"
    names = []
    for service in sorted(store.list(SERVICES), key=lambda r: r.id):
        container = service.value["Spec"].get("TaskTemplate", {}).get("ContainerSpec") or {}
        if any(ref.get(id_key) == object_id for ref in container.get(kind.references) or []):
            names.append(service.value["Spec"]["Name"])
    return names


def _decode(text: str) -> bytes:
    """Go's []byte from base64 (400 when it is not)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter(f"illegal base64 data: {exc}") from exc
