"""API shapes of an image: the /images/json summary, /images/{name}/json inspect and history."""

from __future__ import annotations

from typing import Any

from dockyard.util.timeutil import ZERO_TIME, unix_seconds

_CONTAINER_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
    "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}


def created_of(config: dict[str, Any]) -> str:
    """The image's creation time as RFC 3339 (docker's zero time when absent)."""
    return config.get("created") or ZERO_TIME


def summary(image_id: str, config: dict[str, Any], repo_tags: list[str], repo_digests: list[str],
            size: int, parent: str = "") -> dict[str, Any]:
    """One entry of GET /images/json."""
    return {
        "Id": image_id, "ParentId": parent, "RepoTags": repo_tags, "RepoDigests": repo_digests,
        "Created": unix_seconds(created_of(config)), "Size": size, "SharedSize": -1, "VirtualSize": size,
        "Labels": (config.get("config") or {}).get("Labels") or {}, "Containers": -1,
    }


def container_config(config: dict[str, Any]) -> dict[str, Any]:
    """The image's `config` section in docker's container-config shape."""
    return {**_CONTAINER_CONFIG_DEFAULTS, **(config.get("config") or {})}


def inspect(image_id: str, config: dict[str, Any], repo_tags: list[str], repo_digests: list[str], size: int,
            lower_dirs: list[str], last_tag_time: str | None, parent: str = "") -> dict[str, Any]:
    """GET /images/{name}/json."""
    graph: dict[str, str] = {}
    if lower_dirs:
        graph = {"UpperDir": lower_dirs[0], "MergedDir": "", "WorkDir": ""}
        if len(lower_dirs) > 1:
            graph["LowerDir"] = ":".join(lower_dirs[1:])
    result: dict[str, Any] = {
        "Id": image_id, "RepoTags": repo_tags, "RepoDigests": repo_digests, "Parent": parent,
        "Comment": config.get("comment", ""), "Created": created_of(config), "Container": "",
        "ContainerConfig": dict(_CONTAINER_CONFIG_DEFAULTS), "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""), "Config": container_config(config),
        "Architecture": config.get("architecture", ""), "Os": config.get("os", ""), "Size": size,
        "VirtualSize": size, "GraphDriver": {"Data": graph, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": last_tag_time or ZERO_TIME},
    }
    for key, api_key in (("variant", "Variant"), ("os.version", "OsVersion")):
        if config.get(key):
            result[api_key] = config[key]
    return result


def history(image_id: str, config: dict[str, Any], repo_tags: list[str], layer_sizes: list[int]) -> list[dict]:
    """GET /images/{name}/history: newest first; sizes follow the non-empty layers in order."""
    entries = config.get("history") or [{"created": config.get("created")} for _ in layer_sizes]
    sizes = iter(layer_sizes)
    rows = []
    for entry in entries:
        size = 0 if entry.get("empty_layer") else next(sizes, 0)
        rows.append({
            "Id": "<missing>", "Created": unix_seconds(entry.get("created") or ZERO_TIME),
            "CreatedBy": entry.get("created_by", ""), "Tags": None, "Size": size,
            "Comment": entry.get("comment", ""),
        })
    rows.reverse()
    if rows:
        rows[0]["Id"] = image_id
        rows[0]["Tags"] = repo_tags or None
    return rows
