"""Store an image's config blob and the manifest that names it and its layers."""

from __future__ import annotations

from typing import Any

from dockyard.content.store import ContentStore
from dockyard.util.mediatypes import manifest_bytes


def write_config_and_manifest(content: ContentStore, config: bytes,
                              layers: list[dict[str, Any]]) -> tuple[str, str]:
    """Store a config blob and a manifest for it; returns (config digest, manifest digest)."""
    config_digest, config_size = content.ingest([config])
    manifest_digest, _ = content.ingest([manifest_bytes(config_digest, config_size, layers)])
    return config_digest, manifest_digest
