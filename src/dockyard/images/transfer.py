"""The image store as pull and push see it (distribution's ImageSink and ImageSource), and the two operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from dockyard.content.store import ContentStore
from dockyard.distribution.client import Credentials
from dockyard.distribution.imagestore import LocalImage
from dockyard.distribution.pull import Puller
from dockyard.distribution.push import Pusher
from dockyard.util import reference

if TYPE_CHECKING:
    from dockyard.images.service import ImageService


class ImageTransfer:
    """Pull into and push from one image service, with the daemon's registry settings (mirrors, insecure)."""

    def __init__(self, images: ImageService, registry_config: dict[str, Any]) -> None:
        self._images = images
        self._config = registry_config

    @property
    def content(self) -> ContentStore:
        """The content store of the images."""
        return self._images.content

    def pull(self, from_image: str, tag: str | None, auth: str | None, platform: str | None) -> Iterator[dict]:
        """docker pull's progress messages; `auth` is the X-Registry-Auth header (checked before the first one)."""
        return Puller(self, self._config, Credentials.from_header(auth), platform).pull(from_image, tag)

    def push(self, name: str, tag: str | None, auth: str | None) -> Iterator[dict]:
        """docker push's progress messages; `auth` is the X-Registry-Auth header (checked before the first one)."""
        return Pusher(self, self._config, Credentials.from_header(auth)).push(name, tag)

    # ----- ImageSink -----------------------------------------------------------------------------

    def has_image(self, image_id: str) -> bool:
        """Whether the image is stored."""
        return self._images.records.get(image_id) is not None

    def add_image(self, config_digest: str, manifest_digest: str | None, layers: list[dict[str, Any]]) -> str:
        """Unpack and record the image; its id."""
        return self._images.add_image(config_digest, manifest_digest, layers).id

    def set_tag(self, ref: reference.Reference, image_id: str) -> str | None:
        """Point the tag at the image; the image it pointed at before."""
        return self._images.set_tag(ref, image_id)

    def add_digest_ref(self, ref: str, image_id: str) -> None:
        """Record name@digest for the image."""
        with self._images.lock:
            self._images.records.set_ref(ref, image_id, "digest")

    def publish(self, action: str, image_id: str, name: str) -> None:
        """An image event named after the reference."""
        self._images.events.publish("image", action, image_id, {"name": name})

    # ----- ImageSource ---------------------------------------------------------------------------

    def tag_refs(self) -> list[str]:
        """Every tag reference."""
        return [ref for ref, _id, kind in self._images.records.all_refs() if kind == "tag"]

    def image_of(self, ref: str) -> LocalImage | None:
        """The image a tag points at."""
        image_id = self._images.records.lookup_ref(ref)
        record = self._images.records.get(image_id) if image_id else None
        if record is None:
            return None
        return LocalImage(record.id, record.config_digest, record.manifest_digest, record.layers)
