"""docker import: one layer from a tar stream, a fresh config with --change and a commit message."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, BinaryIO

from dockyard.util.configchanges import apply_changes
from dockyard.images.manifest import write_config_and_manifest
from dockyard.util.mediatypes import LAYER_TAR
from dockyard.util import reference
from dockyard.util.tarsafe import decompressed
from dockyard.util.timeutil import now_rfc3339

if TYPE_CHECKING:
    from dockyard.images.service import ImageService


def import_image(service: "ImageService", stream: BinaryIO, repo: str | None, tag: str | None,
                 changes: list[str], message: str) -> str:
    """Store the (decompressed) tar as a layer blob, build the config, unpack, tag; returns the image id."""
    ref = reference.repo_tag(repo, tag) if repo else None
    container_config = apply_changes({}, changes)
    diff_id, size = service.content.ingest(decompressed(stream))
    created = now_rfc3339()
    comment = message or "Imported from -"
    config = {
        "architecture": "amd64", "os": "linux", "created": created, "comment": comment,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "comment": comment}],
    }
    layers = [{"digest": diff_id, "size": size, "mediaType": LAYER_TAR}]
    config_digest, manifest_digest = write_config_and_manifest(service.content, json.dumps(config).encode(), layers)
    record = service.add_image(config_digest, manifest_digest, layers)
    if ref is not None:
        service.set_tag(ref, record.id)
    service.events.publish("image", "import", record.id, {"name": ref.familiar() if ref else record.id})
    return record.id
