"""What the builder needs of the image service, which daemon/ hands in (with the snapshotter and the event bus)."""

from __future__ import annotations

import builtins
from typing import Any, BinaryIO, Protocol

from dockyard.builder.request import ImagePuller
from dockyard.util import reference
from dockyard.util.imageview import DerivedImage, ResolvedImage


class BuildImages(ImagePuller, Protocol):
    """The image service as builds use it: FROM's pull and lookup, child images per step, tags, the cache's
    images (prune, disk usage) and `--cache-from` layers."""

    def resolve(self, ref_or_id: str) -> ResolvedImage: ...

    def derive(self, parent: ResolvedImage | None, layer: BinaryIO | None, container_config: dict[str, Any],
               created_by: str, comment: str = "", author: str = "",
               empty_layer: bool | None = None) -> DerivedImage: ...

    def set_tag(self, ref: reference.Reference, image_id: str) -> str | None: ...

    def remove(self, ref: str, force: bool, prune: bool) -> builtins.list[dict[str, Any]]: ...

    def total_size(self) -> int: ...

    def known(self, image_id: str) -> bool: ...

    def references(self, image_id: str) -> builtins.list[str]: ...

    def stored_size(self, image_id: str) -> int: ...

    def open_layer(self, image_id: str, index: int) -> BinaryIO: ...
