"""`--init` (a reaper as PID 1) and `--runtime` (built-in, runc or crun) applied to a container's OCI spec."""

from __future__ import annotations

import shutil
from typing import Any

from dockyard.errors import InvalidParameter, RuntimeFailure
from dockyard.runtime.external import RUNTIME_ANNOTATION

INIT_PATH = "/sbin/docker-init"  # where docker puts its init inside the container
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/libexec/docker/docker-init")
DEFAULT_RUNTIME = "dockyard"
BUILTIN_RUNTIMES = ("", DEFAULT_RUNTIME)  # "" in records made before the name was recorded
EXTERNAL_RUNTIMES = ("runc", "crun")


def validate_runtime(name: Any) -> str:
    """HostConfig.Runtime: the built-in runtime ("dockyard", also for an empty name: it is the default, and
    dockerd records its default runtime's name likewise), or runc/crun when installed; docker's error
    otherwise."""
    name = name or DEFAULT_RUNTIME
    if name in BUILTIN_RUNTIMES:
        return name
    if name in EXTERNAL_RUNTIMES and shutil.which(name):
        return name
    raise InvalidParameter(f"unknown or invalid runtime name: {name}")


def is_builtin(name: Any) -> bool:
    """Whether a container runs in the built-in runtime."""
    return (name or "") in BUILTIN_RUNTIMES


def init_binary() -> str:
    """A statically linked init on the host (Debian's tini-static)."""
    for path in INIT_BINARIES:
        if shutil.which(path):
            return path
    raise RuntimeFailure("exec: \"docker-init\": executable file not found in $PATH", 125)


def apply_runtime_options(spec: dict[str, Any], host: dict[str, Any]) -> None:
    """Prepend the init (bind-mounted read-only at /sbin/docker-init) and name the external runtime, if any."""
    if host.get("Init"):
        spec["mounts"].append({"destination": INIT_PATH, "type": "bind", "source": init_binary(),
                               "options": ["bind", "ro", "nosuid", "nodev"]})
        spec["process"]["args"] = [INIT_PATH, "--", *spec["process"]["args"]]
    runtime = host.get("Runtime") or ""
    if runtime in EXTERNAL_RUNTIMES:
        binary = shutil.which(runtime)
        if binary is None:
            raise RuntimeFailure(f"unknown or invalid runtime name: {runtime}", 125)
        spec.setdefault("annotations", {})[RUNTIME_ANNOTATION] = binary
