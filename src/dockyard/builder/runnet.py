"""A RUN step's network, as a container's: the default bridge (a fresh namespace with its own address and
resolv.conf), a user network with its DNS, `none`, or the host's only when the build asks for it."""

from __future__ import annotations

from dockyard.errors import InvalidParameter

STEP_PREFIX = "build-"


def network_mode(build_mode: str, step_flag: str) -> str:
    """The network a RUN joins: its `--network` flag, else the build's networkmode ("default" is the bridge)."""
    mode = step_flag or build_mode or "default"
    if mode.startswith("container:"):
        raise InvalidParameter("network mode container:<id> is not supported for builds")
    return "bridge" if mode == "default" else mode
