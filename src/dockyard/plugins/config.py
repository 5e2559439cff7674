"""A plugin's config.json read as dockerd's Go decoder reads it into plugin.Config: fields matched
case-insensitively, unknown ones dropped, absent ones given their zero value; and the Settings it starts with."""

from __future__ import annotations

import json
from typing import Any, Union

from dockyard.errors import InvalidParameter

# A Go shape: "string", "bool", "uint32", "*string" (null when absent), ["list", item] (null when absent) or a
# struct: (Go type name, {json field name: shape}).
Shape = Union[str, list, tuple]

_STRINGS: Shape = ["list", "string"]
_MOUNT: Shape = ("Mount", {"Description": "string", "Destination": "string", "Name": "string",
                           "Options": _STRINGS, "Settable": _STRINGS, "Source": "*string", "Type": "string"})
_DEVICE: Shape = ("Device", {"Description": "string", "Name": "string", "Path": "*string", "Settable": _STRINGS})
_ENV: Shape = ("Env", {"Description": "string", "Name": "string", "Settable": _STRINGS, "Value": "*string"})
CONFIG: Shape = ("Config", {
    "Args": ("Args", {"Description": "string", "Name": "string", "Settable": _STRINGS, "Value": _STRINGS}),
    "Description": "string",
    "Documentation": "string",
    "Entrypoint": _STRINGS,
    "Env": ["list", _ENV],
    "Interface": ("Interface", {"ProtocolScheme": "string", "Socket": "string", "Types": _STRINGS}),
    "IpcHost": "bool",
    "Linux": ("LinuxConfig", {"AllowAllDevices": "bool", "Capabilities": _STRINGS, "Devices": ["list", _DEVICE]}),
    "Mounts": ["list", _MOUNT],
    "Network": ("NetworkConfig", {"Type": "string"}),
    "PidHost": "bool",
    "PropagatedMount": "string",
    "User": ("User", {"GID": "uint32", "UID": "uint32"}),
    "WorkDir": "string",
})
_OMIT_EMPTY = {("Interface", "ProtocolScheme"), ("User", "GID"), ("User", "UID")}
_GO_TYPES = {"string": "string", "*string": "string", "bool": "bool", "uint32": "uint32"}
_JSON_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def parse_config(raw: bytes, rootfs_digest: str) -> dict[str, Any]:
    """plugin.Config from config.json's bytes, with every field present and `rootfs` naming the layer."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as bad:
        raise InvalidParameter(f"failed to parse config: {bad}") from bad
    config = _decode(doc, CONFIG, "Config", "")
    if config["Interface"]["Types"] is not None:
        config["Interface"]["Types"] = [_capability_text(t) for t in config["Interface"]["Types"]]
    config["rootfs"] = {"diff_ids": [rootfs_digest], "type": "layers"}
    return config


def initial_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Settings a new plugin starts with (dockerd's InitEmptySettings): the config's mounts, devices, the
    environment variables that have a value and the default arguments."""
    return {
        "Mounts": [dict(m) for m in config["Mounts"] or []],
        "Env": [f"{e['Name']}={e['Value']}" for e in config["Env"] or [] if e["Value"] is not None],
        "Args": list(config["Args"]["Value"] or []),
        "Devices": [dict(d) for d in config["Linux"]["Devices"] or []],
    }


def capabilities(config: dict[str, Any]) -> list[str]:
    """The capability of each interface type: docker.volumedriver/1.0 -> volumedriver."""
    return [t.split("/", 1)[0].rsplit(".", 1)[-1] for t in config["Interface"]["Types"] or []]


def _capability_text(text: str) -> str:
    """A CapabilityID as Go reads and writes it back: prefix.capability/version."""
    qualified, _, version = text.partition("/")
    prefix, dot, capability = qualified.rpartition(".")
    return f"{prefix if dot else ''}.{capability}/{version}"


def _decode(value: Any, shape: Shape, struct: str, path: str) -> Any:
    """`value` decoded into `shape`; Go's unmarshal error for a value of the wrong kind."""
    if isinstance(shape, tuple):
        name, fields = shape
        if value is None:
            return _zero(shape)
        if not isinstance(value, dict):
            raise _unmarshal(value, struct, path, _go_type(shape))
        folded = {key.lower(): key for key in value}
        out = {}
        for field, inner in fields.items():
            key = folded.get(field.lower())
            decoded = _decode(value[key], inner, name, f"{path}.{field}" if path else field) if key is not None \
                else _zero(inner)
            if (name, field) in _OMIT_EMPTY and not decoded:
                continue
            out[field] = decoded
        return out
    if isinstance(shape, list):
        if value is None:
            return None
        if not isinstance(value, list):
            raise _unmarshal(value, struct, path, "[]" + _go_type(shape[1]))
        return [_decode(item, shape[1], struct, path) for item in value]
    return _decode_scalar(value, shape, struct, path)


def _decode_scalar(value: Any, shape: str, struct: str, path: str) -> Any:
    if value is None:
        return _zero(shape)
    if shape in ("string", "*string") and isinstance(value, str):
        return value
    if shape == "bool" and isinstance(value, bool):
        return value
    if shape == "uint32" and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 32:
        return value
    raise _unmarshal(value, struct, path, _go_type(shape))


def _zero(shape: Shape) -> Any:
    """Go's zero value of a shape, as encoding/json writes it."""
    if isinstance(shape, tuple):
        return {field: _zero(inner) for field, inner in shape[1].items() if (shape[0], field) not in _OMIT_EMPTY}
    if isinstance(shape, list) or shape == "*string":
        return None
    return {"string": "", "bool": False, "uint32": 0}[shape]


def _go_type(shape: Shape) -> str:
    if isinstance(shape, tuple):
        return f"plugin.{shape[0]}"
    if isinstance(shape, list):
        return "[]" + _go_type(shape[1])
    return _GO_TYPES[shape]


def _unmarshal(value: Any, struct: str, path: str, gotype: str) -> InvalidParameter:
    """Go's UnmarshalTypeError: the innermost struct's type name, then the field's whole path."""
    kind = _JSON_KINDS.get(type(value), "value")
    if kind == "number":
        kind = f"number {json.dumps(value)}"
    where = f"Go struct field {struct}.{path}" if path else "Go value"
    return InvalidParameter(f"failed to parse config: json: cannot unmarshal {kind} into {where} of type {gotype}")
