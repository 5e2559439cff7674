"""The OCI spec a plugin runs with, as dockerd's InitSpec makes it from the plugin's Config and Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.errors import InvalidParameter, NotImplementedYet
from dockyard.oci.spec import DEFAULT_CAPABILITIES, DEFAULT_PATH, build_spec

RUNTIME_DESTINATION = "/run/docker/plugins"  # where a plugin finds its socket directory


def plugin_spec(plugin: dict[str, Any], rootfs: Path, socket_dir: Path, propagated: Path,
                cgroups_path: str) -> dict[str, Any]:
    """config.json for a plugin process: its rootfs as it is, the socket directory at /run/docker/plugins, the
    propagated mount, the config's mounts, capabilities, network and namespaces."""
    config, settings = plugin["Config"], plugin["Settings"]
    if settings["Devices"]:
        raise NotImplementedYet("plugin devices are not supported by Dockyard")
    mounts: list[dict[str, Any]] = []
    if config["PropagatedMount"]:
        mounts.append(_mount(str(propagated), config["PropagatedMount"], "bind", ["rbind", "rw", "rshared"]))
    for mount in [*(config["Mounts"] or []),
                  {"Source": str(socket_dir), "Destination": RUNTIME_DESTINATION, "Type": "bind",
                   "Options": ["rbind", "rshared"]}]:
        if mount["Source"] is None:
            raise InvalidParameter("mount source is not specified")
        mounts.append(_mount(mount["Source"], mount["Destination"], mount["Type"], mount["Options"] or []))
    network = config["Network"]["Type"]
    if network:
        mounts += [_mount(path, path, "bind", ["rbind", "ro"]) for path in ("/etc/hosts", "/etc/resolv.conf")]
    namespaces: dict[str, str | None] = {}
    if config["PidHost"]:
        namespaces["pid"] = None
    if config["IpcHost"]:
        namespaces["ipc"] = None
    spec = build_spec(
        args=[*(config["Entrypoint"] or []), *settings["Args"]], env=[f"PATH={DEFAULT_PATH}", *settings["Env"]],
        cwd=config["WorkDir"] or "/", mounts=mounts, network_mode="host" if network == "host" else "none",
        cgroups_path=cgroups_path, capabilities=DEFAULT_CAPABILITIES + list(config["Linux"]["Capabilities"] or []),
        namespace_paths=namespaces, device_rules=[{"allow": True, "access": "rwm"}]
        if config["Linux"]["AllowAllDevices"] else [])
    spec["root"] = {"path": str(rootfs), "readonly": False}
    if config["PropagatedMount"]:
        spec["linux"]["rootfsPropagation"] = "rshared"
    return spec


def _mount(source: str, destination: str, kind: str, options: list[str]) -> dict[str, Any]:
    return {"source": source, "destination": destination, "type": kind, "options": list(options)}
