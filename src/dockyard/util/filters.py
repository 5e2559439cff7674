"""Docker's `filters` query parameter: parsing, key checks and the usual matchers."""

from __future__ import annotations

from typing import Iterable, Mapping

from dockyard.errors import InvalidParameter
from dockyard.util import jsonsafe

Filters = dict[str, list[str]]


def parse_filters(text: str | None) -> Filters:
    """Parse {"k":{"v":true}} or the legacy {"k":["v"]}; empty text means no filters."""
    if text is None or not text.strip():
        return {}
    raw = jsonsafe.loads(text, "invalid filter")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameter("invalid filter: filters must be a JSON object")
    result: Filters = {}
    for key, values in raw.items():
        if isinstance(values, dict) and all(isinstance(v, bool) for v in values.values()):
            result[key] = list(values)
        elif isinstance(values, list) and all(isinstance(v, str) for v in values):
            result[key] = list(dict.fromkeys(values))
        else:
            raise InvalidParameter(f"invalid filter: invalid value for '{key}'")
    return result


def check_keys(filters: Mapping[str, list[str]], allowed: Iterable[str]) -> None:
    """Reject a filter key the endpoint does not know, in docker's words."""
    known = set(allowed)
    for key in filters:
        if key not in known:
            raise InvalidParameter(f"invalid filter '{key}'")


def exact_match(filters: Mapping[str, list[str]], key: str, value: str) -> bool:
    """True when `key` is not filtered or `value` is one of its values."""
    wanted = filters.get(key)
    return not wanted or value in wanted


def fuzzy_match(filters: Mapping[str, list[str]], key: str, value: str) -> bool:
    """True when `key` is not filtered or one of its values equals or prefixes `value`."""
    wanted = filters.get(key)
    return not wanted or any(value.startswith(w) for w in wanted)


def match_label(labels: Mapping[str, str] | None, exprs: Iterable[str]) -> bool:
    """Every "key" must be present and every "key=value" must match exactly."""
    labels = labels or {}
    for expr in exprs:
        key, sep, value = expr.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True
