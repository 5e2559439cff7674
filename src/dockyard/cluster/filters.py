"""Finding swarm objects as dockerd does: by full id, name, or unique id prefix; and list filters (id and name
prefixes, exact names, labels)."""

from __future__ import annotations

from typing import Callable, Mapping

from dockyard.cluster.store.backend import ClusterStore, Record
from dockyard.errors import InvalidParameter, NotFound
from dockyard.util.filters import match_label


def lookup(store: ClusterStore, kind: str, singular: str, ref: str,
           name_of: Callable[[Record], str | None] = lambda r: r.name) -> Record:
    """moby's getNode/getSecret/...: the exact id, else the exact name, else an id prefix; none → 404, several →
    400 ambiguous."""
    found = store.get(kind, ref)
    if found is not None:
        return found
    records = store.list(kind)
    matches = [r for r in records if name_of(r) == ref] or [r for r in records if r.id.startswith(ref)]
    if not matches:
        raise NotFound(f"{singular} {ref} not found")
    if len(matches) > 1:
        raise InvalidParameter(f"{singular} {ref} is ambiguous ({len(matches)} matches found)")
    return matches[0]


def prefix_match(wanted: list[str] | None, value: str) -> bool:
    """No filter, or `value` starts with one of the wanted prefixes."""
    return not wanted or any(value.startswith(w) for w in wanted)


def labels_match(filters: Mapping[str, list[str]], key: str, labels: Mapping[str, str] | None) -> bool:
    """Every `key=value` / `key` of filter `key` holds for `labels`."""
    return match_label(labels, filters.get(key, []))
