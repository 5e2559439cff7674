#!/usr/bin/env python3
"""Derive the request-body types the daemon validates from the Engine API spec, once, into
src/dockyard/util/apischema.json (the daemon never reads ../shared at run time). Needs PyYAML (it comes with
the project's test extra).

    python3 scripts/gen_apischema.py [path/to/docker-engine-api-v1.45.yaml]

Only what Go's encoding/json enforces is kept: JSON kinds, integer widths, struct fields, maps and arrays.
Enums, "required" and minimum/maximum are not checked by dockerd's decoder, so they are left out. Where
dockerd's Go types differ from the spec (docker's StrSlice accepts a string; some integers are narrower),
the OVERRIDES below say so.

Node encoding (compact, resolved by dockyard.server.validation):
  "str" "bool" "num" "any" "time" | "int" "i64" "i32" "u64" "u32" "u16" "u8" | "strslice" (string or [string])
  {"arr": node} | {"map": node} | {"obj": "StructName", "fields": {name: node}} | {"ref": "Definition"}
  {"obj": ..., "fields": {}} with no fields is a free-form object (Go's struct{} or map[string]any).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO.parent / "shared" / "specs" / "docker-engine-api-v1.45.yaml"
OUT = REPO / "src" / "dockyard" / "util" / "apischema.json"

INT_FORMATS = {None: "int", "int64": "i64", "int32": "i32", "uint64": "u64", "uint32": "u32", "uint16": "u16",
               "uint8": "u8"}

# Go struct names dockerd reports in "Go struct field <Struct>.<Field>" (spec name -> Go name)
STRUCT_NAMES = {"ContainerConfig": "Config", "VolumeCreateOptions": "CreateOptions", "ExecConfig": "ExecConfig",
                "ExecStartConfig": "ExecStartCheck", "NetworkCreateRequest": "CreateRequest",
                "NetworkConnectRequest": "ConnectOptions", "NetworkDisconnectRequest": "DisconnectOptions"}

# Go value types of whole bodies, for "json: cannot unmarshal array into Go value of type <T>"
# operationId -> (root struct name, Go type of the body)
ROOTS = {
    "ContainerCreate": ("CreateRequest", "container.CreateRequest"),
    "ContainerUpdate": ("UpdateConfig", "container.UpdateConfig"),
    "ImageCommit": ("Config", "container.Config"),
    "ContainerExec": ("ExecConfig", "container.ExecOptions"),
    "ExecStart": ("ExecStartCheck", "container.ExecStartOptions"),
    "VolumeCreate": ("CreateOptions", "volume.CreateOptions"),
    "VolumeUpdate": ("UpdateOptions", "volume.UpdateOptions"),
    "NetworkCreate": ("CreateRequest", "network.CreateRequest"),
    "NetworkConnect": ("ConnectOptions", "network.ConnectOptions"),
    "NetworkDisconnect": ("DisconnectOptions", "network.DisconnectOptions"),
    "SystemAuth": ("AuthConfig", "registry.AuthConfig"),
}

# Other documents the daemon stores and renders back, in the shape dockerd decodes them (not request bodies):
# an image config from a pull, a load or an import (dockerd's image.Image; listings sort on `created`)
TYPES = {
    "Image": ("image.Image", {"obj": "Image", "fields": {
        "architecture": "str", "os": "str", "os.version": "str", "os.features": {"arr": "str"}, "variant": "str",
        "author": "str", "comment": "str", "created": "time", "docker_version": "str", "container": "str",
        "parent": "str", "config": {"ref": "ImageConfig"}, "container_config": {"ref": "ImageConfig"},
        "rootfs": {"obj": "RootFS", "fields": {"type": "str", "diff_ids": {"arr": "str"}}},
        "history": {"arr": {"obj": "History", "fields": {
            "created": "time", "author": "str", "created_by": "str", "comment": "str", "empty_layer": "bool"}}},
    }}),
}

# (definition or title, field) -> node, where dockerd's Go type is not what the spec says
STRSLICE = "strslice"
OVERRIDES = {
    # strslice.StrSlice: a string or an array of strings
    ("ContainerConfig", "Cmd"): STRSLICE, ("ContainerConfig", "Entrypoint"): STRSLICE,
    ("ContainerConfig", "Shell"): STRSLICE,
    ("HostConfig", "CapAdd"): STRSLICE, ("HostConfig", "CapDrop"): STRSLICE,
    # the daemon has always taken a lone string for these too (containers/config.py); keep accepting it
    ("HostConfig", "Binds"): STRSLICE, ("HostConfig", "ExtraHosts"): STRSLICE, ("HostConfig", "Dns"): STRSLICE,
    ("HostConfig", "DnsSearch"): STRSLICE, ("HostConfig", "DnsOptions"): STRSLICE,
    ("HostConfig", "SecurityOpt"): STRSLICE, ("HostConfig", "GroupAdd"): STRSLICE,
    # Go integer widths the spec leaves as plain "integer"
    ("Resources", "BlkioWeight"): "u16", ("Resources", "CpuShares"): "i64",
    ("HostConfig", "ConsoleSize"): {"arr": "u64"}, ("ExecConfig", "ConsoleSize"): {"arr": "u64"},
    ("ExecStartConfig", "ConsoleSize"): {"arr": "u64"},
}
# inline objects of Resources that are Go structs with narrower integers
INLINE_OVERRIDES = {("Resources", "BlkioWeightDevice", "Weight"): "u16"}


class Converter:
    """Turns swagger schemas into compact nodes; definitions stay references."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.defs: dict[str, object] = {}

    def definition(self, name: str) -> dict:
        """{"ref": name}, converting the definition the first time it is seen."""
        if name not in self.defs:
            self.defs[name] = None  # cycles resolve to the same reference
            self.defs[name] = self.node(self.spec["definitions"][name], name)
        return {"ref": name}

    def node(self, schema: dict | None, name: str | None = None, owner: str | None = None,
             field: str | None = None) -> object:
        """The node for one schema; `name` is the definition or title it belongs to."""
        if not schema:
            return "any"
        if "$ref" in schema:
            return self.definition(schema["$ref"].rsplit("/", 1)[-1])
        if "allOf" in schema:
            return self.all_of(schema, name)
        kind = schema.get("type")
        if kind == "string":
            return "str"
        if kind == "boolean":
            return "bool"
        if kind == "number":
            return "num"
        if kind == "integer":
            return INT_FORMATS.get(schema.get("format"), "i64")
        if kind == "array":
            return {"arr": self.node(schema.get("items"), None, owner, field)}
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            title = name or schema.get("title") or field
            if "properties" in schema:
                return self.struct(title or "", schema)
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                return {"map": self.node(extra)}
            return {"obj": STRUCT_NAMES.get(title or "", title or ""), "fields": {}}
        return "any"

    def struct(self, name: str, schema: dict, fields: dict | None = None) -> dict:
        """A struct node with the schema's properties (and `fields` already merged from allOf)."""
        out = dict(fields or {})
        for key, sub in (schema.get("properties") or {}).items():
            override = OVERRIDES.get((name, key))
            if override is not None:
                out[key] = override
                continue
            node = self.node(sub, None, name, key)
            if isinstance(node, dict) and "arr" in node and isinstance(node["arr"], dict) \
                    and "fields" in node["arr"]:
                for (owner, parent, inner), typ in INLINE_OVERRIDES.items():
                    if owner == name and parent == key and inner in node["arr"]["fields"]:
                        node["arr"]["fields"][inner] = typ
            out[key] = node
        return {"obj": STRUCT_NAMES.get(name, name), "fields": out}

    def all_of(self, schema: dict, name: str | None) -> object:
        """Merge allOf parts into one struct (Go's embedded structs promote their fields)."""
        parts = schema["allOf"]
        if len(parts) == 1 and not schema.get("properties"):
            return self.node(parts[0], name)
        fields: dict = {}
        struct_name = name or schema.get("title") or ""
        for part in parts:
            if "$ref" in part:
                ref = part["$ref"].rsplit("/", 1)[-1]
                resolved = self.resolve(self.definition(ref))
                if isinstance(resolved, dict) and "fields" in resolved:
                    fields.update(resolved["fields"])
                    struct_name = struct_name or ref
                continue
            merged = self.struct(struct_name, part)
            fields.update(merged["fields"])
        return {"obj": STRUCT_NAMES.get(struct_name, struct_name), "fields": fields}

    def resolve(self, node: object) -> object:
        """Follow a reference."""
        while isinstance(node, dict) and "ref" in node:
            node = self.defs[node["ref"]]
        return node


def convert(spec: dict) -> dict:
    """{"definitions": ..., "operations": {"POST /containers/{}/update": {"root": ..., "body": node}}}."""
    conv = Converter(spec)
    operations = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            for param in op.get("parameters", []):
                if param.get("in") != "body":
                    continue
                schema = param.get("schema") or {}
                if schema.get("type") == "string":
                    continue  # tar streams and other raw bodies
                op_id = op["operationId"]
                struct, gotype = ROOTS.get(op_id, (op_id, op_id))
                body = conv.node(schema, struct)
                if isinstance(body, dict) and "obj" in body:
                    body = {**body, "obj": struct}
                key = f"{method.upper()} {normalise(path)}"
                operations[key] = {"operation": op_id, "gotype": gotype, "body": body}
    types = {}
    for name, (gotype, node) in TYPES.items():
        for ref in _refs(node):
            conv.definition(ref)
        types[name] = {"gotype": gotype, "node": node}
    return {"source": "docker-engine-api-v1.45.yaml (swagger 2.0), by scripts/gen_apischema.py",
            "definitions": dict(sorted(conv.defs.items())), "operations": dict(sorted(operations.items())),
            "types": types}


def _refs(node: object) -> list[str]:
    """Definitions a hand-written node refers to."""
    if isinstance(node, dict):
        found = [node["ref"]] if "ref" in node else []
        for value in node.values():
            found += _refs(value)
        return found
    return []


def normalise(path: str) -> str:
    """/containers/{id}/json -> /containers/{}/json (routers name their parameters differently)."""
    parts = ["{}" if p.startswith("{") else p for p in path.split("/")]
    return "/".join(parts)


def main() -> int:
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    spec = yaml.safe_load(spec_path.read_text())
    doc = convert(spec)
    OUT.write_text(json.dumps(doc, indent=None, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{OUT}: {len(doc['definitions'])} definitions, {len(doc['operations'])} operations, "
          f"{len(doc['types'])} other types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
