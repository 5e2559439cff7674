"""What pull and push need from the local image store, named as Protocols the image service implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.content.store import ContentStore
from dockyard.util import reference


@dataclass
class LocalImage:
    """The parts of a stored image a push uploads: its id, config, stored manifest and layer descriptors."""

    id: str
    config_digest: str
    manifest_digest: str | None
    layers: list[dict[str, Any]]


class ImageSink(Protocol):
    """Where a pull puts what it fetched: blobs, then an image record, its tag and repo digest."""

    @property
    def content(self) -> ContentStore:
        """The content store blobs are downloaded into."""

    def has_image(self, image_id: str) -> bool:
        """Whether an image with this id (config digest) is stored."""

    def add_image(self, config_digest: str, manifest_digest: str | None, layers: list[dict[str, Any]]) -> str:
        """Unpack and record an image whose blobs are stored; returns its id."""

    def set_tag(self, ref: reference.Reference, image_id: str) -> str | None:
        """Point a tag at an image; returns the image it pointed at before."""

    def add_digest_ref(self, ref: str, image_id: str) -> None:
        """Record a name@digest reference of an image."""

    def publish(self, action: str, image_id: str, name: str) -> None:
        """Publish an image event."""


class ImageSource(Protocol):
    """What a push reads: tagged images and their blobs; it records the pushed digest and publishes."""

    @property
    def content(self) -> ContentStore:
        """The content store the image's blobs are read from."""

    def tag_refs(self) -> list[str]:
        """Every tag reference of the store."""

    def image_of(self, ref: str) -> LocalImage | None:
        """The image a tag reference points at, or None."""

    def add_digest_ref(self, ref: str, image_id: str) -> None:
        """Record a name@digest reference of an image."""

    def publish(self, action: str, image_id: str, name: str) -> None:
        """Publish an image event."""
