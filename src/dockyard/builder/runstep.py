"""RUN in the built-in runtime: bundle, OCI spec, shim launch, log lines streamed while it runs, exit code."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dockyard.containers.etcfiles import write_etc_files
from dockyard.containers.users import resolve_user
from dockyard.errors import InvalidParameter, RuntimeFailure
from dockyard.oci.spec import build_spec
from dockyard.runtime.client import ShimClient
from dockyard.util.atomic import write_atomic

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_PARENT = "/dockyard"
_POLL = 0.05
_STDERR_ON, _STDERR_OFF = "\x1b[91m", "\x1b[0m"


@dataclass
class RunRequest:
    """What one RUN needs: argv, config env, build args, cwd, user, network, extra OCI mounts and limits."""

    argv: list[str]
    env: list[str]
    build_args: dict[str, str]
    workdir: str
    user: str
    network: str
    extra_hosts: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)


def process_env(config_env: list[str], build_args: dict[str, str], home: str) -> list[str]:
    """PATH, then build args (ENV wins over ARG), then the config's Env, then HOME unless set."""
    merged: dict[str, str] = {"PATH": DEFAULT_PATH}
    merged.update(build_args)
    for item in config_env:
        key, _, value = item.partition("=")
        merged[key] = value
    merged.setdefault("HOME", home)
    return [f"{k}={v}" for k, v in merged.items()]


def write_bundle(bundle: Path, rootfs: Path, req: RunRequest) -> None:
    """/etc files and config.json for one RUN container (rootfs already mounted at bundle/rootfs)."""
    hostname = bundle.name[len("build-"):][:12]
    write_etc_files(bundle, hostname, req.network, req.extra_hosts)
    try:
        user = resolve_user(rootfs, req.user)
    except InvalidParameter as bad:
        raise RuntimeFailure(bad.message, 126) from bad
    mounts = [{"destination": f"/etc/{name}", "type": "bind", "source": str(bundle / name),
               "options": ["rbind", "rprivate"]} for name in ("resolv.conf", "hostname", "hosts")]
    spec = build_spec(args=req.argv, env=process_env(req.env, req.build_args, user.home), cwd=req.workdir or "/",
                      uid=user.uid, gid=user.gid, additional_gids=user.additional_gids, hostname=hostname,
                      mounts=mounts + req.mounts, network_mode=req.network,
                      cgroups_path=f"{CGROUP_PARENT}/{bundle.name}", resources=req.resources or None)
    write_atomic(bundle / "config.json", json.dumps(spec).encode())


async def run_container(bundle: Path, emit_output: Callable[[str], None]) -> int:
    """Launch the bundle's container, stream its output, wait; returns the exit code. Always cleans the shim up."""
    log_path = bundle / "output.log"
    log_path.touch()
    shim = ShimClient(bundle)
    await asyncio.to_thread(shim.launch, log_path)
    try:
        with open(log_path, "rb") as log:
            waiter = asyncio.ensure_future(shim.wait())
            pending = b""
            while True:
                done = waiter.done()
                pending = _emit_lines(pending + log.read(), emit_output)
                if done:
                    break
                await asyncio.wait([waiter], timeout=_POLL)
            status = waiter.result()
    except asyncio.CancelledError:
        if shim.alive():
            shim.kill(signal.SIGKILL)
        await shim.wait()
        raise
    finally:
        await asyncio.to_thread(shim.cleanup)
    return status.exit_code


def _emit_lines(data: bytes, emit_output: Callable[[str], None]) -> bytes:
    """Emit each complete json-file log line's text, stderr in bright red as dockerd sends it; returns the
    incomplete remainder."""
    *complete, rest = data.split(b"\n")
    for line in complete:
        if line.strip():
            entry = json.loads(line)
            text = entry["log"]
            emit_output(f"{_STDERR_ON}{text}{_STDERR_OFF}" if entry.get("stream") == "stderr" else text)
    return rest
