"""GET /system/df: layers, images, containers, volumes and build cache, shaped as docker does."""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter

DF_TYPES = ("container", "image", "volume", "build-cache")


def disk_usage(images: Any, containers: Any, volumes: Any, builder: Any, types: list[str]) -> dict[str, Any]:
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

    def __init__(self, images: Any, containers: Any, volumes: Any, builder: Any) -> None:
        self._services = (images, containers, volumes, builder)

    def usage(self, types: list[str]) -> dict[str, Any]:
        """docker's SystemDiskUsage for the object `types` asked for (all when empty)."""
        for kind in types:
            if kind not in DF_TYPES:
                raise InvalidParameter(f"unknown object type: {kind}")
        return disk_usage(*self._services, types)
