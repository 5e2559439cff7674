"""Manifest parsing for the registry: media types, validation, what a manifest references."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dockyard.registry import digests
from dockyard.registry.digests import Digest
from dockyard.registry.errors import ManifestInvalid
from dockyard.util.mediatypes import INDEX as OCI_INDEX
from dockyard.util.mediatypes import INDEX_TYPES
from dockyard.util.mediatypes import MANIFEST as OCI_MANIFEST
from dockyard.util.mediatypes import MANIFEST_TYPES as IMAGE_TYPES

__all__ = ["IMAGE_TYPES", "INDEX_TYPES", "OCI_INDEX", "OCI_MANIFEST", "Manifest", "parse"]

MAX_MANIFEST = 4 << 20


@dataclass
class Manifest:
    """A parsed manifest: its bytes, media type, blobs, child manifests and optional subject."""

    raw: bytes
    media_type: str
    blobs: list[Digest]
    children: list[Digest]
    subject: Digest | None
    doc: dict[str, Any]

    def descriptor(self, digest: Digest) -> dict[str, Any]:
        """The descriptor the referrers API lists for this manifest."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(digest), "size": len(self.raw)}
        artifact = self.doc.get("artifactType") or (self.doc.get("config") or {}).get("mediaType")
        if artifact:
            out["artifactType"] = artifact
        if self.doc.get("annotations"):
            out["annotations"] = self.doc["annotations"]
        return out


def _digest_of(descriptor: Any, where: str) -> Digest:
    """The digest of a descriptor object; MANIFEST_INVALID when malformed."""
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
        raise ManifestInvalid(f"manifest invalid: bad descriptor in {where}")
    return digests.parse(descriptor["digest"])


def parse(raw: bytes, content_type: str | None) -> Manifest:
    """Validate a manifest body; its media type is the body's mediaType, else the Content-Type."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ManifestInvalid(f"manifest invalid: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest invalid: not a JSON object")
    media_type = doc.get("mediaType") or (content_type or "").split(";")[0].strip()
    if not media_type:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    declared = (content_type or "").split(";")[0].strip()
    if doc.get("mediaType") and declared and declared != doc["mediaType"] and declared != "application/json":
        raise ManifestInvalid(f"manifest invalid: mediaType {doc['mediaType']} does not match {declared}")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("manifest invalid: schemaVersion must be 2")
    blobs: list[Digest] = []
    children: list[Digest] = []
    if "manifests" in doc or media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise ManifestInvalid("manifest invalid: manifests must be a list")
        children = [_digest_of(entry, "manifests") for entry in entries]
    else:
        layers = doc.get("layers", [])
        if "config" not in doc or not isinstance(layers, list):
            raise ManifestInvalid("manifest invalid: config and layers are required")
        blobs = [_digest_of(doc["config"], "config")] + [_digest_of(layer, "layers") for layer in layers]
    subject = _digest_of(doc["subject"], "subject") if doc.get("subject") else None
    return Manifest(raw, media_type, blobs, children, subject, doc)


def amd64_child(manifest: Manifest) -> Digest | None:
    """The linux/amd64 entry of an index, for clients that cannot read indexes."""
    for entry in manifest.doc.get("manifests", []):
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return digests.parse(entry["digest"])
    return None
