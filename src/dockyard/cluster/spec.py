"""Swarm API shapes rendered as Go's encoding/json renders moby's types, so specs round-trip exactly as sent.

A shape is a list of fields (name, kind, omitempty[, sub-shape]). Rendering a dict through a shape keeps the
fields in Go's order, drops unknown keys, turns null into the kind's zero value and applies omitempty as Go does:
strings "", numbers 0, false, empty maps and lists, and nil pointers are dropped; a struct is never "empty", so
`Orchestration: {}` stays. A pointer (`ptr`) keeps an explicit 0 or {}. Decoding a request through the same shape
is what Go's unmarshal-then-marshal does: the stored spec is `render(SHAPE, body)`."""

from __future__ import annotations

from typing import Any, Sequence

from dockyard.errors import InvalidParameter

# kinds: str, int, bool, map (string map), list (of scalars), struct (sub-shape), ptr (pointer to a scalar or, with
# a sub-shape, to a struct), any (kept as sent), structs (list of sub-shape)
Field = tuple[Any, ...]
Shape = Sequence[Field]

ANNOTATIONS: Shape = [("Name", "str", True), ("Labels", "map", False)]
DRIVER: Shape = [("Name", "str", True), ("Options", "map", True)]
EXTERNAL_CA: Shape = [("Protocol", "str", False), ("URL", "str", False), ("Options", "map", True),
                      ("CACert", "str", False)]
SWARM_SPEC: Shape = [
    *ANNOTATIONS,
    ("Orchestration", "struct", True, [("TaskHistoryRetentionLimit", "ptr", True)]),
    ("Raft", "struct", True, [("SnapshotInterval", "int", True), ("KeepOldSnapshots", "ptr", True),
                              ("LogEntriesForSlowFollowers", "int", True), ("ElectionTick", "int", False),
                              ("HeartbeatTick", "int", False)]),
    ("Dispatcher", "struct", True, [("HeartbeatPeriod", "int", True)]),
    ("CAConfig", "struct", True, [("NodeCertExpiry", "int", True), ("ExternalCAs", "structs", True, EXTERNAL_CA),
                                  ("SigningCACert", "str", True), ("SigningCAKey", "str", True),
                                  ("ForceRotate", "int", True)]),
    ("TaskDefaults", "struct", True, [("LogDriver", "ptr", True, DRIVER)]),
    ("EncryptionConfig", "struct", True, [("AutoLockManagers", "bool", False)]),
]
NODE_SPEC: Shape = [*ANNOTATIONS, ("Role", "str", True), ("Availability", "str", True)]
SECRET_SPEC: Shape = [*ANNOTATIONS, ("Data", "str", True), ("Driver", "ptr", True, DRIVER),
                      ("Templating", "ptr", True, DRIVER)]
CONFIG_SPEC: Shape = [*ANNOTATIONS, ("Data", "str", True), ("Templating", "ptr", True, DRIVER)]

_ZERO: dict[str, Any] = {"str": "", "int": 0, "bool": False}
_GO_TYPE = {"str": "string", "int": "int64", "bool": "bool", "map": "map[string]string", "list": "[]string"}


def render(shape: Shape, value: Any, where: str = "spec") -> dict[str, Any]:
    """`value` (a dict, or null) through `shape`: Go's field order, zero values, omitempty."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"json: cannot unmarshal {_json_type(value)} into Go value of type {where}")
    out: dict[str, Any] = {}
    for field in shape:
        name, kind, omitempty = field[0], field[1], field[2]
        sub = field[3] if len(field) > 3 else None
        raw = value.get(name)
        rendered = _render_field(kind, sub, raw, f"{where}.{name}")
        if omitempty and kind != "struct" and _empty(kind, rendered):
            continue
        out[name] = rendered
    return out


def _render_field(kind: str, sub: Shape | None, raw: Any, where: str) -> Any:
    """One field's value as Go would encode it after decoding `raw`."""
    if kind == "struct":
        assert sub is not None
        return render(sub, raw, where)
    if kind == "ptr":
        if raw is None:
            return None
        return render(sub, raw, where) if sub is not None else _scalar("int", raw, where)
    if kind == "structs":
        assert sub is not None
        return None if raw is None else [render(sub, item, where) for item in _typed(raw, list, "list", where)]
    if kind == "map":
        if raw is None:
            return None
        return {str(k): _scalar("str", v, where) for k, v in _typed(raw, dict, kind, where).items()}
    if kind == "list":
        return None if raw is None else [_scalar("str", v, where) for v in _typed(raw, list, kind, where)]
    if kind == "any":
        return raw
    return _ZERO[kind] if raw is None else _scalar(kind, raw, where)


def _scalar(kind: str, raw: Any, where: str) -> Any:
    """A string, integer or boolean, type-checked as Go's decoder does."""
    expected: Any = {"str": str, "int": int, "bool": bool}[kind]
    if kind == "int" and isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if not isinstance(raw, expected) or (kind == "int" and isinstance(raw, bool)):
        raise InvalidParameter(f"json: cannot unmarshal {_json_type(raw)} into Go struct field {where} "
                               f"of type {_GO_TYPE[kind]}")
    return raw


def _typed(raw: Any, expected: type, kind: str, where: str) -> Any:
    """`raw` when it is of the expected JSON type."""
    if not isinstance(raw, expected):
        raise InvalidParameter(f"json: cannot unmarshal {_json_type(raw)} into Go struct field {where} "
                               f"of type {_GO_TYPE.get(kind, kind)}")
    return raw


def _empty(kind: str, value: Any) -> bool:
    """Go's omitempty test."""
    return value is None or value in ("", 0, False) and kind in ("str", "int", "bool") or \
        (kind in ("map", "list", "structs") and not value)


def _json_type(value: Any) -> str:
    """The JSON type name Go's decoder uses in its errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def with_labels(spec: dict[str, Any]) -> dict[str, Any]:
    """moby's annotationsFromGRPC: Labels is never null in what dockerd returns."""
    if spec.get("Labels") is None:
        spec = {**spec, "Labels": {}}
        spec = {k: spec[k] for k in sorted(spec, key=lambda k: (k != "Name", k != "Labels"))}
    return spec
