"""A RUN step's network, as a container's: the default bridge (a fresh namespace with its own address and
resolv.conf), a user network with its DNS, `none`, or the host's only when the build asks for it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator, Protocol

from dockyard.errors import InvalidParameter
from dockyard.util.aio import run_blocking

STEP_PREFIX = "build-"


class StepEtc(Protocol):
    """What a step's network puts into its resolv.conf and hosts."""

    def write(self, host: dict[str, Any], hostname: str, container_dir: Path) -> None: ...


class RunNetworks(Protocol):
    """What the builder needs of the network service: plan and attach a sandbox for a throwaway container,
    say what its /etc files take, release it, and list the sandboxes it holds (to release a crash's leftovers)."""

    def plan(self, host_config: dict[str, Any], networking: Any, config: dict[str, Any]) -> dict[str, Any]: ...

    async def attach(self, container_id: str, name: str, host_config: dict[str, Any],
                     exposed: dict[str, Any] | None, networks: dict[str, Any]) -> dict[str, Any]: ...

    def etc_plan(self, container_id: str) -> StepEtc: ...

    async def release(self, container_id: str) -> None: ...

    def sandbox_ids(self) -> list[str]: ...


def network_mode(build_mode: str, step_flag: str) -> str:
    """The network a RUN joins: its `--network` flag, else the build's networkmode ("default" is the bridge)."""
    mode = step_flag or build_mode or "default"
    if mode.startswith("container:"):
        raise InvalidParameter("network mode container:<id> is not supported for builds")
    return "bridge" if mode == "default" else mode


@contextlib.asynccontextmanager
async def step_network(networks: RunNetworks, step_key: str, mode: str) -> AsyncIterator[str]:
    """Attach the step to `mode` for the duration; yields what the OCI spec's network namespace takes: a pinned
    namespace's path, "none" or "host"."""
    if mode in ("host", "none"):
        yield mode
        return
    host = {"NetworkMode": mode}
    planned = networks.plan(host, None, {})
    settings = await networks.attach(step_key, f"/{step_key}", host, None, planned)
    try:
        yield settings.get("SandboxKey") or "none"
    finally:
        await networks.release(step_key)


async def write_network_etc(networks: RunNetworks, step_key: str, mode: str, bundle: Path) -> None:
    """Point the step's resolv.conf and hosts at its network (embedded DNS on user networks, its own address)."""
    if mode not in ("host", "none"):
        await run_blocking(networks.etc_plan(step_key).write, {"NetworkMode": mode},
                           step_key[len(STEP_PREFIX):][:12], bundle)


async def release_leftovers(networks: RunNetworks) -> None:
    """Release the sandboxes of RUN steps a crash left behind (no build survives a daemon restart)."""
    for sandbox_id in networks.sandbox_ids():
        if sandbox_id.startswith(STEP_PREFIX):
            await networks.release(sandbox_id)
