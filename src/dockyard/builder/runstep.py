"""RUN steps as throwaway containers: the config and HostConfig of one, started by the container service through
the same launch path as `docker run` (network, mounts, limits, seccomp)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from dockyard.builder.runnet import STEP_PREFIX
from dockyard.oci.spec import DEFAULT_PATH


class StepContainers(Protocol):
    """What the builder needs of the container service (handed in by daemon/): run a throwaway container."""

    async def run_throwaway(self, container_id: str, bundle: Path, config: dict[str, Any],
                            host_config: dict[str, Any], mounts: list[dict[str, Any]],
                            output: Callable[[str], None]) -> int: ...


@dataclass
class RunRequest:
    """What one RUN needs: argv, config env, build args, cwd, user, network mode, extra OCI mounts and limits
    (HostConfig's Memory, MemorySwap, CpuShares ... fields)."""

    argv: list[str]
    env: list[str]
    build_args: dict[str, str]
    workdir: str
    user: str
    network: str
    extra_hosts: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)


def process_env(config_env: list[str], build_args: dict[str, str]) -> list[str]:
    """PATH, then build args (ENV wins over ARG), then the config's Env (HOME is added at launch unless set)."""
    merged: dict[str, str] = {"PATH": DEFAULT_PATH}
    merged.update(build_args)
    for item in config_env:
        key, _, value = item.partition("=")
        merged[key] = value
    return [f"{k}={v}" for k, v in merged.items()]


async def run_step(containers: StepContainers, step_dir: Path, req: RunRequest,
                   output: Callable[[str], None]) -> int:
    """Run the step's command in `step_dir` (its rootfs/ mounted); returns the exit code."""
    key = step_dir.name
    config = {"Cmd": req.argv, "Env": process_env(req.env, req.build_args), "WorkingDir": req.workdir or "/",
              "User": req.user, "Hostname": key[len(STEP_PREFIX):][:12]}
    host = {"NetworkMode": req.network, "ExtraHosts": list(req.extra_hosts), **req.limits}
    return await containers.run_throwaway(key, step_dir, config, host, req.mounts, output)
