"""Dataclasses that stand for docker's JSON objects: attributes in snake_case, docker's keys in the JSON."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Mapping, TypeVar

_R = TypeVar("_R")


def key(name: str, omit_none: bool = False, nested: type | None = None) -> dict[str, Any]:
    """Field metadata: docker's key for the attribute, whether a None value is left out of the JSON, and the
    record class of a nested object (or of each item of a nested list)."""
    return {"json": name, "omit_none": omit_none, "nested": nested}


def json_key(f: dataclasses.Field[Any]) -> str:
    """Docker's key for a field: its metadata name, else the attribute in PascalCase."""
    return f.metadata.get("json") or "".join(part.capitalize() for part in f.name.split("_"))


def to_json(obj: Any) -> dict[str, Any]:
    """A record as docker's JSON object, keys in field order, nested records too (a deep copy)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None and f.metadata.get("omit_none"):
            continue
        out[json_key(f)] = _json_value(value)
    return out


def _json_value(value: Any) -> Any:
    """A field's value in the JSON: records (also in lists) as objects, anything else deep-copied."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return copy.deepcopy(value)


def from_json(cls: type[_R], doc: Mapping[str, Any]) -> _R:
    """A record of `cls` from docker's JSON object; KeyError names a key it lacks (keys it does not know are
    not kept)."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = json_key(f)
        if name in doc:
            nested = f.metadata.get("nested")
            kwargs[f.name] = doc[name] if nested is None else _nested(nested, doc[name])
        elif f.metadata.get("omit_none"):
            kwargs[f.name] = None
        else:
            raise KeyError(f"{cls.__name__} has no {name!r}")
    return cls(**kwargs)


def _nested(cls: type[Any], value: Any) -> Any:
    """A nested record, or a list of them."""
    return [from_json(cls, item) for item in value] if isinstance(value, list) else from_json(cls, value)


def apply(obj: Any, changes: Mapping[str, Any]) -> None:
    """Set the fields named by docker's keys in `changes`; KeyError for a key the record has no field for."""
    names = {json_key(f): f.name for f in dataclasses.fields(obj)}
    for name, value in changes.items():
        setattr(obj, names[name], value)
