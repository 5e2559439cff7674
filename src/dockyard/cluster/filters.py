"""Finding swarm objects as dockerd does: by full id, name, or unique id prefix; and list filters (id and name
prefixes, exact names, labels)."""

from __future__ import annotations

from typing import Iterable, Mapping

from dockyard.cluster.store.backend import ClusterStore, Record
from dockyard.errors import NotFound
from dockyard.util.filters import match_label


def lookup(store: ClusterStore, kind: str, singular: str, ref: str, names: Iterable[str] = ()) -> Record:
    """moby's getNode/getSecret/...: exact id, then exact name (or another name field), then unique id prefix."""
    found = store.get(kind, ref)
    if found is not None:
        return found
    records = store.list(kind)
    named = [r for r in records if r.name == ref or any(r.value.get("Description", {}).get(n) == ref
                                                      for n in names)]
    if len(named) == 1:
        return named[0]
    prefixed = [r for r in records if r.id.startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise NotFound(f"{singular} {ref} is ambiguous ({len(prefixed)} matches found)")
    raise NotFound(f"{singular} {ref} not found")


def prefix_match(wanted: list[str] | None, value: str) -> bool:
    """No filter, or `value` starts with one of the wanted prefixes."""
    return not wanted or any(value.startswith(w) for w in wanted)


def labels_match(filters: Mapping[str, list[str]], key: str, labels: Mapping[str, str] | None) -> bool:
    """Every `key=value` / `key` of filter `key` holds for `labels`."""
    return match_label(labels, filters.get(key, []))
