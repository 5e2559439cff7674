"""Swarm objects' changes as docker events (moby's generateClusterEvent): create/update/remove of nodes, secrets
and configs with scope "swarm", read from the store's change feed; node updates name what changed."""

from __future__ import annotations

import logging

from dockyard.cluster.store.backend import Change, ClusterStore, Record
from dockyard.events.publisher import EventPublisher as EventPublisher  # re-exported for cluster.service

log = logging.getLogger(__name__)

EVENT_TYPES = {"nodes": "node", "secrets": "secret", "configs": "config", "networks": "network"}
NODE_FIELDS = (("availability", ("Spec", "Availability")), ("role", ("Spec", "Role")),
               ("state", ("Status", "State")))


def object_name(record: Record) -> str:
    """The name an event carries: the spec's Name (a node's hostname when it has none)."""
    value = record.value
    return value["Spec"].get("Name") or value.get("Description", {}).get("Hostname", "") or record.name or ""


def _field(record: Record, path: tuple[str, str]) -> str:
    """A nested string field of a record's value."""
    return str(record.value.get(path[0], {}).get(path[1], ""))


def node_changes(old: Record, new: Record) -> dict[str, str]:
    """`<field>.old`/`<field>.new` attributes for what an update changed on a node."""
    changed: dict[str, str] = {}
    for name, path in NODE_FIELDS:
        before, after = _field(old, path), _field(new, path)
        if before != after:
            changed[f"{name}.old"], changed[f"{name}.new"] = before, after
    return changed


async def publish_changes(store: ClusterStore, events: EventPublisher) -> None:
    """Turn every change of the feed into its event, until cancelled."""
    known: dict[tuple[str, str], Record] = {(kind, r.id): r for kind in EVENT_TYPES for r in store.list(kind)}
    async for change in store.subscribe():
        if change.kind in EVENT_TYPES:
            _publish(change, known, events)


def _publish(change: Change, known: dict[tuple[str, str], Record], events: EventPublisher) -> None:
    """One change as one event."""
    key = (change.kind, change.id)
    old = known.pop(key, None)
    record = change.record
    if record is None:
        if old is not None:
            events.publish(EVENT_TYPES[change.kind], "remove", change.id, {"name": object_name(old)}, scope="swarm")
        return
    known[key] = record
    action = "create" if record.created == record.version else "update"
    attributes = {"name": object_name(record)}
    if action == "update" and old is not None and change.kind == "nodes":
        attributes.update(node_changes(old, record))
    events.publish(EVENT_TYPES[change.kind], action, change.id, attributes, scope="swarm")
