"""OCI and docker media types, and the manifest docker 25+ writes for an image (config + layer descriptors)."""

from __future__ import annotations

import json
from typing import Any

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (INDEX, DOCKER_LIST)


def manifest_bytes(config_digest: str, config_size: int, layers: list[dict[str, Any]]) -> bytes:
    """A deterministic OCI image manifest for a config blob and layer descriptors."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": l["mediaType"], "digest": l["digest"], "size": l["size"]} for l in layers],
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def layer_media_type(head: bytes) -> str:
    """OCI media type of a layer blob judged by its first bytes (gzip, zstd or plain tar)."""
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return LAYER_ZSTD
    return LAYER_GZIP if head.startswith(b"\x1f\x8b") else LAYER_TAR
