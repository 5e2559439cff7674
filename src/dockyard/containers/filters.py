"""Docker's `ps --filter` predicates over container documents."""

from __future__ import annotations

from typing import Any

from dockyard.containers.record import ContainerRecord
from dockyard.errors import InvalidParameter, NotFound
from dockyard.util.filters import match_label
from dockyard.util.timeutil import parse_rfc3339, parse_timestamp

STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def matches(doc: ContainerRecord, filters: dict[str, list[str]], docs: dict[str, ContainerRecord], store: Any,
            images: Any) -> bool:
    """True when the container passes every filter (values of one key are OR-ed, keys AND-ed)."""
    for key, values in filters.items():
        if values and not _match_key(doc, key, values, docs, store, images):
            return False
    return True


def _match_key(doc: ContainerRecord, key: str, values: list[str], docs: dict[str, ContainerRecord], store: Any,
               images: Any) -> bool:
    state = doc.state
    if key == "id":
        return any(doc.id.startswith(v) for v in values)
    if key == "name":
        return any(v.lstrip("/") in doc.name.lstrip("/") for v in values)
    if key == "label":
        return match_label(doc.config.get("Labels") or {}, values)
    if key == "label!":
        return not match_label(doc.config.get("Labels") or {}, values)
    if key == "status":
        for value in values:
            if value not in STATUSES:
                raise InvalidParameter(f"invalid filter 'status={value}'")
        return state.status in values
    if key == "exited":
        return state.status == "exited" and str(state.exit_code) in values
    if key == "ancestor":
        return any(_ancestor(doc, v, images) for v in values)
    if key in ("before", "since"):
        pivot = docs[store.find_id(values[0])]
        return doc.created < pivot.created if key == "before" else doc.created > pivot.created
    if key == "until":
        return parse_rfc3339(doc.created) < parse_timestamp(values[0])
    if key == "health":
        health = (state.health or {}).get("Status", "none")
        return health in values
    return False  # network, volume, publish, expose, is-task: no container has those yet


def _ancestor(doc: ContainerRecord, ref: str, images: Any) -> bool:
    try:
        image = images.resolve(ref)
    except NotFound:
        return False
    return image.id == doc.image
