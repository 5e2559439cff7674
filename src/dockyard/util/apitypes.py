"""The Engine API's types, as dockerd's Go decoder enforces them, for anything the daemon stores and renders
back: request bodies (server/validation.py) and image configs from pulls and loads (images/service.py).

apischema.json beside this module is generated once from the Engine API spec by scripts/gen_apischema.py
(the daemon never reads ../shared). Only what Go's encoding/json enforces is checked, in its words:

    json: cannot unmarshal number into Go struct field CreateRequest.Labels of type string
    json: cannot unmarshal number 99999999999999999999 into Go struct field HostConfig.HostConfig.Memory of type int64

JSON kinds, integer widths, fields matched case-insensitively as Go does, null accepted anywhere, time.Time
strings that must parse. Unknown fields pass (Go ignores them) but, like every string and key, may not hold
NUL bytes or lone surrogates; floats must be finite; free-form values nest at most jsonsafe.MAX_DEPTH deep.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidParameter
from dockyard.util import jsonsafe
from dockyard.util.timeutil import parse_rfc3339

SCHEMA_FILE = Path(__file__).with_name("apischema.json")
_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}
_INTS = {"int": ("int", -(1 << 63), (1 << 63) - 1), "i64": ("int64", -(1 << 63), (1 << 63) - 1),
         "i32": ("int32", -(1 << 31), (1 << 31) - 1), "u64": ("uint64", 0, (1 << 64) - 1),
         "u32": ("uint32", 0, (1 << 32) - 1), "u16": ("uint16", 0, (1 << 16) - 1), "u8": ("uint8", 0, 255)}


def _unmarshal_error(what: str, struct: str, path: str, gotype: str) -> InvalidParameter:
    """Go's UnmarshalTypeError text."""
    if struct:
        return InvalidParameter(f"json: cannot unmarshal {what} into Go struct field {struct}.{path} of type {gotype}")
    return InvalidParameter(f"json: cannot unmarshal {what} into Go value of type {gotype}")


def _kind_error(value: Any, struct: str, path: str, gotype: str) -> InvalidParameter:
    return _unmarshal_error(_KINDS.get(type(value), "value"), struct, path, gotype)


def _check_text(text: str, struct: str, path: str) -> None:
    """Refuse a string (or key) that cannot be stored and rendered back."""
    reason = jsonsafe.bad_string(text)
    if reason is not None:
        where = f"Go struct field {struct}.{path}" if struct else "request body"
        raise InvalidParameter(f"invalid JSON: {reason} in {where}")


def _check_free(value: Any, struct: str, path: str) -> None:
    """A value with no type to check against: only its strings and nesting depth (iterative)."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item or not item.isascii():
                _check_text(item, struct, path)
        elif kind is float:
            if not math.isfinite(item):
                raise _unmarshal_error(f"number {item}", struct, path, "float64")
        elif kind is dict or kind is list:
            if level >= jsonsafe.MAX_DEPTH:
                raise InvalidParameter("invalid JSON: exceeded max depth")
            if kind is dict:
                for key, child in item.items():
                    if "\x00" in key or not key.isascii():
                        _check_text(key, struct, path)
                    stack.append((child, level + 1))
            else:
                stack.extend((child, level + 1) for child in item)


class Node:
    """One type of the schema; `check` raises InvalidParameter in Go's words."""

    gotype = "interface {}"

    def check(self, value: Any, struct: str, path: str) -> None:
        _check_free(value, struct, path)


class Str(Node):
    gotype = "string"

    def check(self, value: Any, struct: str, path: str) -> None:
        if type(value) is str:
            if "\x00" in value or not value.isascii():
                _check_text(value, struct, path)
        elif value is not None:
            raise _kind_error(value, struct, path, "string")


class Bool(Node):
    gotype = "bool"

    def check(self, value: Any, struct: str, path: str) -> None:
        if type(value) is not bool and value is not None:
            raise _kind_error(value, struct, path, "bool")


class Num(Node):
    gotype = "float64"

    def check(self, value: Any, struct: str, path: str) -> None:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                raise _unmarshal_error(f"number {value}", struct, path, "float64")
        elif kind is not int and value is not None:
            raise _kind_error(value, struct, path, "float64")


class Time(Node):
    """Go's time.Time: an RFC 3339 string that parses (an image's `created`, which listings sort on)."""

    gotype = "time.Time"

    def check(self, value: Any, struct: str, path: str) -> None:
        if value is None:
            return
        if type(value) is not str:
            raise _kind_error(value, struct, path, "time.Time")
        try:
            parse_rfc3339(value)
        except (InvalidParameter, ValueError, OverflowError):
            raise InvalidParameter(f'parsing time "{value[:64]}" in Go struct field {struct}.{path}: '
                                   "not an RFC 3339 time") from None


class Int(Node):
    """A Go integer of a given width: floats and out-of-range numbers are refused with their literal."""

    def __init__(self, gotype: str, low: int, high: int) -> None:
        self.gotype, self.low, self.high = gotype, low, high

    def check(self, value: Any, struct: str, path: str) -> None:
        kind = type(value)
        if kind is int:
            if not self.low <= value <= self.high:
                raise _unmarshal_error(f"number {value}", struct, path, self.gotype)
        elif kind is float:
            raise _unmarshal_error(f"number {value!r}", struct, path, self.gotype)
        elif value is not None:
            raise _kind_error(value, struct, path, self.gotype)


class StrSlice(Node):
    """docker's strslice.StrSlice: a string or an array of strings."""

    gotype = "[]string"

    def check(self, value: Any, struct: str, path: str) -> None:
        kind = type(value)
        if kind is str:
            if "\x00" in value or not value.isascii():
                _check_text(value, struct, path)
        elif kind is list:
            for item in value:
                if type(item) is not str:
                    if item is None:
                        continue
                    raise _kind_error(item, struct, path, "string")
                if "\x00" in item or not item.isascii():
                    _check_text(item, struct, path)
        elif value is not None:
            raise _kind_error(value, struct, path, "[]string")


class Arr(Node):
    def __init__(self, item: Node) -> None:
        self.item = item

    @property
    def gotype(self) -> str:  # type: ignore[override]
        return "[]" + self.item.gotype

    def check(self, value: Any, struct: str, path: str) -> None:
        if type(value) is list:
            item = self.item
            for element in value:
                item.check(element, struct, path)
        elif value is not None:
            raise _kind_error(value, struct, path, self.gotype)


class Map(Node):
    def __init__(self, item: Node) -> None:
        self.item = item

    @property
    def gotype(self) -> str:  # type: ignore[override]
        return "map[string]" + self.item.gotype

    def check(self, value: Any, struct: str, path: str) -> None:
        if type(value) is dict:
            item = self.item
            for key, element in value.items():
                if "\x00" in key or not key.isascii():
                    _check_text(key, struct, path)
                item.check(element, struct, path)
        elif value is not None:
            raise _kind_error(value, struct, path, self.gotype)


class Obj(Node):
    """A Go struct: known fields are checked (matched case-insensitively, as Go does, and renamed to the
    field's own name, so `detachKeys` reaches a service as `DetachKeys`), others only for their strings and
    depth; with no fields at all it is a free-form object (struct {}, map[string]any)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[str, Node] = {}
        self.folded: dict[str, tuple[str, Node]] = {}

    @property
    def gotype(self) -> str:  # type: ignore[override]
        return self.name or "struct {}"

    def set_fields(self, fields: dict[str, Node]) -> None:
        self.fields = fields
        self.folded = {_fold(k): (k, v) for k, v in fields.items()}

    def check(self, value: Any, struct: str, path: str) -> None:
        if type(value) is not dict:
            if value is not None:
                raise _kind_error(value, struct, path, self.gotype)
            return
        name = self.name or struct
        fields, folded = self.fields, self.folded
        prefix = path + "." if path else ""
        renamed = False
        for key, element in value.items():
            if "\x00" in key or not key.isascii():
                _check_text(key, name, prefix + key)
            node = fields.get(key)
            if node is None:
                field = folded.get(_fold(key))
                if field is not None:
                    node, renamed = field[1], True
            if node is None:
                if type(element) is not str and type(element) is not dict and type(element) is not list:
                    continue
                _check_free(element, name, prefix + key)
            else:
                node.check(element, name, prefix + key)
        if renamed:
            _canonical_keys(value, fields, folded)


def _canonical_keys(value: dict[str, Any], fields: dict[str, Node], folded: dict[str, tuple[str, Node]]) -> None:
    """Rename keys that matched a field only case-insensitively to the field's name; like Go's decoder,
    the last of several keys for one field wins."""
    items = list(value.items())
    value.clear()
    for key, element in items:
        if key not in fields and (field := folded.get(_fold(key))) is not None:
            key = field[0]
        value.pop(key, None)
        value[key] = element


def _fold(key: str) -> str:
    """Go's case-insensitive field match (bytes.EqualFold); casefold covers the Kelvin sign and long s."""
    return key.lower() if key.isascii() else key.casefold()


class Operation:
    """The body type of one API operation."""

    def __init__(self, name: str, gotype: str, body: Node) -> None:
        self.name, self.gotype, self.body = name, gotype, body

    def check(self, value: Any) -> None:
        """Check a decoded body (null passes, as in Go)."""
        body = self.body
        if value is None:
            return
        if isinstance(body, Obj) and body.fields:
            if type(value) is not dict:
                raise _kind_error(value, "", "", self.gotype)
            body.check(value, body.name, "")
        else:
            body.check(value, "", "")


class Schema:
    """apischema.json compiled into nodes (definitions shared, so references cost nothing)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.raw_defs: dict[str, Any] = doc["definitions"]
        self.defs: dict[str, Node] = {}
        for name, raw in self.raw_defs.items():  # structs first, as placeholders: they may refer to each other
            if isinstance(raw, dict) and "obj" in raw:
                self.defs[name] = Obj(raw["obj"])
        for name, raw in self.raw_defs.items():
            if isinstance(raw, dict) and "obj" in raw:
                self.defs[name].set_fields(self._fields(raw))  # type: ignore[attr-defined]
            else:
                self.definition(name)
        self.operations = {key: Operation(op["operation"], op["gotype"], self.node(op["body"]))
                           for key, op in doc["operations"].items()}
        self.types = {key: Operation(key, t["gotype"], self.node(t["node"])) for key, t in doc["types"].items()}

    def definition(self, name: str) -> Node:
        """The node of a definition, built on first use (maps and arrays of other definitions)."""
        found = self.defs.get(name)
        if found is None:
            found = self.defs[name] = Node()  # a cycle through non-structs ends as a free-form value
            found = self.defs[name] = self.node(self.raw_defs.get(name))
        return found

    def _fields(self, raw: dict[str, Any]) -> dict[str, Node]:
        return {key: self.node(sub) for key, sub in raw.get("fields", {}).items()}

    def node(self, raw: Any) -> Node:
        if isinstance(raw, str):
            if raw == "str":
                return STR
            if raw == "bool":
                return Bool()
            if raw == "num":
                return Num()
            if raw == "time":
                return Time()
            if raw == "strslice":
                return StrSlice()
            if raw in _INTS:
                return Int(*_INTS[raw])
            return Node()
        if raw is None:
            return Node()
        if "ref" in raw:
            return self.definition(raw["ref"])
        if "arr" in raw:
            return Arr(self.node(raw["arr"]))
        if "map" in raw:
            return Map(self.node(raw["map"]))
        obj = Obj(raw.get("obj", ""))
        obj.set_fields(self._fields(raw))
        return obj


STR = Str()


_SCHEMA: Schema | None = None


def load_schema() -> Schema:
    """The packaged schema, compiled once per process."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = Schema(json.loads(SCHEMA_FILE.read_text()))
    return _SCHEMA


def image_config(raw: bytes) -> dict[str, Any]:
    """An image config blob (pull, load, import) decoded like Go and checked against the types `docker images`
    and `docker image inspect` decode it into; InvalidParameter otherwise, so it is never recorded."""
    config = jsonsafe.loads(raw, "invalid image config", depth_check=False)
    if not isinstance(config, dict):
        raise InvalidParameter("invalid image config: json: cannot unmarshal into Go value of type image.Image")
    try:
        load_schema().types["Image"].check(config)
    except InvalidParameter as exc:
        raise InvalidParameter(f"invalid image config: {exc.message}") from None
    return config
