"""GET /system/df: layers, images, containers, volumes and build cache, shaped as docker does."""

from __future__ import annotations

from typing import Any, Protocol

from dockyard.errors import InvalidParameter

DF_TYPES = ("container", "image", "volume", "build-cache")


class ImageSpace(Protocol):
    """The image service, as df reads it."""

    def total_size(self) -> int:
        """Bytes of every layer, once each."""

    def list(self, all_: bool, filters: dict[str, list[str]], digests: bool) -> list[dict]:
        """GET /images rows."""


class ContainerSpace(Protocol):
    """The container service, as df reads it."""

    def list(self, all_: bool = False, limit: int = -1, size: bool = False) -> list[dict[str, Any]]:
        """GET /containers rows (with sizes when asked)."""


class VolumeSpace(Protocol):
    """The volume service, as df reads it."""

    def usage(self) -> list[dict[str, Any]]:
        """Volumes with their sizes and reference counts."""


class BuildCacheSpace(Protocol):
    """The builder, as df reads it."""

    def disk_usage(self) -> list[dict[str, Any]]:
        """Build cache records."""


def disk_usage(images: ImageSpace, containers: ContainerSpace, volumes: VolumeSpace | None,
               builder: BuildCacheSpace | None, types: list[str]) -> dict[str, Any]:
    """docker's SystemDiskUsage; `types` limits what is computed (empty means everything)."""
    wanted = set(types or DF_TYPES)
    out: dict[str, Any] = {}
    summaries = containers.list(all_=True, size="container" in wanted)
    if "image" in wanted:
        per_image: dict[str, int] = {}
        for summary in summaries:
            per_image[summary["ImageID"]] = per_image.get(summary["ImageID"], 0) + 1
        out["LayersSize"] = images.total_size()
        out["Images"] = [dict(row, Containers=per_image.get(row["Id"], 0), SharedSize=-1)
                         for row in images.list(False, {}, False)]
    if "container" in wanted:
        out["Containers"] = summaries
    if "volume" in wanted:
        out["Volumes"] = volumes.usage() if volumes is not None else []
    if "build-cache" in wanted:
        out["BuildCache"] = builder.disk_usage() if builder is not None else []
    return out


class DiskUsage:
    """GET /system/df over the services that own the space."""

    def __init__(self, images: ImageSpace, containers: ContainerSpace, volumes: VolumeSpace | None,
                 builder: BuildCacheSpace | None) -> None:
        self._services = (images, containers, volumes, builder)

    def usage(self, types: list[str]) -> dict[str, Any]:
        """docker's SystemDiskUsage for the object `types` asked for (all when empty)."""
        for kind in types:
            if kind not in DF_TYPES:
                raise InvalidParameter(f"unknown object type: {kind}")
        return disk_usage(*self._services, types)
