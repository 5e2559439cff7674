"""Filters of GET /images/json and POST /images/prune: dangling, label, reference, before, since, until."""

from __future__ import annotations

import time
from typing import Any, Callable

from dockyard.errors import InvalidParameter
from dockyard.util import reference
from dockyard.util.filters import match_label
from dockyard.util.timeutil import parse_timestamp, unix_seconds

LIST_FILTERS = ("dangling", "label", "before", "since", "reference", "until")
PRUNE_FILTERS = ("dangling", "label", "label!", "until")


def dangling_value(filters: dict[str, list[str]]) -> bool | None:
    """The dangling filter as a bool (None when absent)."""
    values = {v.lower() for v in filters.get("dangling", [])}
    if not values:
        return None
    if len(values) > 1 or not values <= {"true", "false", "1", "0"}:
        raise InvalidParameter(f"invalid filter 'dangling={','.join(sorted(values))}'")
    return values.pop() in ("true", "1")


def until_cutoff(values: list[str]) -> float | None:
    """The `until` filter as unix seconds (a Go duration such as 24h counts back from now)."""
    if not values:
        return None
    text = values[0]
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(text[:-1]) * units[text[-1]]
    return parse_timestamp(text)


class ImageFilter:
    """A compiled predicate over (config, familiar tags, dangling) for one request's filters."""

    def __init__(self, filters: dict[str, list[str]], created_of: Callable[[str], str]) -> None:
        self.dangling = dangling_value(filters)
        self.labels = filters.get("label", [])
        self.not_labels = filters.get("label!", [])
        self.references = filters.get("reference", [])
        self.before = [unix_seconds(created_of(ref)) for ref in filters.get("before", [])]
        self.since = [unix_seconds(created_of(ref)) for ref in filters.get("since", [])]
        self.until = until_cutoff(filters.get("until", []))

    def matches(self, config: dict[str, Any], refs: list[reference.Reference], dangling: bool) -> bool:
        """True when an image passes every filter."""
        created = unix_seconds(config.get("created") or "0001-01-01T00:00:00Z")
        labels = (config.get("config") or {}).get("Labels") or {}
        checks = [
            self.dangling is None or self.dangling == dangling,
            match_label(labels, self.labels),
            not self.not_labels or not any(match_label(labels, [item]) for item in self.not_labels),
            not self.references or any(reference.familiar_match(p, r) for p in self.references for r in refs),
            all(created < cutoff for cutoff in self.before),
            all(created > cutoff for cutoff in self.since),
            self.until is None or created < self.until,
        ]
        return all(checks)
