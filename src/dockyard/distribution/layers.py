"""Layer descriptors of a pulled manifest: plain, gzip and zstd tars are unpackable, anything else is refused."""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter
from dockyard.util import mediatypes as media

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
UNPACKABLE = frozenset({media.LAYER_TAR, media.LAYER_GZIP, media.LAYER_ZSTD, DOCKER_LAYER,
                        "application/vnd.docker.image.rootfs.diff.tar"})


def layer_descriptors(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """digest, size and mediaType of each layer; InvalidParameter for a layer type we cannot unpack."""
    out = []
    for layer in manifest.get("layers") or []:
        media_type = layer.get("mediaType", media.LAYER_GZIP)
        if media_type not in UNPACKABLE:
            raise InvalidParameter(f"unsupported layer media type {media_type} for layer {layer.get('digest')}")
        out.append({"digest": layer["digest"], "size": layer["size"], "mediaType": media_type})
    return out
