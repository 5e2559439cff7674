"""Make a child image from a parent: its layers plus one new layer (or none), a new config and history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.images.manifest import write_config_and_manifest
from dockyard.util.imageview import ResolvedImage
from dockyard.util.mediatypes import LAYER_TAR
from dockyard.util.timeutil import now_rfc3339

if TYPE_CHECKING:
    from dockyard.images.records import ImageRecord
    from dockyard.images.service import ImageService


def derive_image(service: "ImageService", parent: ResolvedImage | None, layer: BinaryIO | None,
                 container_config: dict[str, Any], created_by: str, comment: str = "", author: str = "",
                 empty_layer: bool | None = None) -> "ImageRecord":
    """Store the uncompressed `layer` tar (if any), write config + manifest, unpack, record; no tag."""
    created = now_rfc3339()
    base: dict[str, Any] = dict(parent.config) if parent is not None else {"architecture": "amd64", "os": "linux"}
    parent_record = service.records.get(parent.id) if parent is not None else None
    assert parent is None or parent_record is not None, f"image {parent.id} has no record"
    parent_layers = list(parent_record.layers) if parent_record is not None else []
    diff_ids = list((base.get("rootfs") or {}).get("diff_ids") or [])
    layers = list(parent_layers)
    if layer is not None:
        diff_id, size = service.content.ingest(layer)
        diff_ids.append(diff_id)
        layers.append({"digest": diff_id, "size": size, "mediaType": LAYER_TAR})
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if author:
        entry["author"] = author
    if (layer is None) if empty_layer is None else empty_layer:
        entry["empty_layer"] = True
    config = {
        **base,
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": list(base.get("history") or []) + [entry],
    }
    if author:
        config["author"] = author
    if comment:
        config["comment"] = comment
    config.pop("container_config", None)
    config_digest, manifest_digest = write_config_and_manifest(
        service.content, json.dumps(config, separators=(",", ":")).encode(), layers)
    record = service.add_image(config_digest, manifest_digest, layers)
    if parent is not None and "parent" not in record.extra:
        record.extra["parent"] = parent.id
        service.records.put(record)
    return record
