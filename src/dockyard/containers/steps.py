"""Throwaway containers (a build's RUN steps): networked and launched as `docker run` does, output streamed
while they run, gone (shim, sandbox) when they end. They are never recorded or listed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
from pathlib import Path
from typing import Any, Callable

from dockyard.containers import record
from dockyard.containers.launcher import Launch, Launcher, given_env
from dockyard.containers.networking import ContainerNetworking
from dockyard.containers.protocols import NetworkAttachment, Shim
from dockyard.errors import Conflict
from dockyard.util.aio import run_blocking

_POLL = 0.05
_STDERR_ON, _STDERR_OFF = "\x1b[91m", "\x1b[0m"


class ThrowawayRunner:
    """Runs one throwaway container to its end through the container service's launcher."""

    def __init__(self, network: NetworkAttachment, launcher: Launcher, launched: Callable[[], None]) -> None:
        self._network = network
        self._networking = ContainerNetworking(network)
        self._launcher = launcher
        self._launched = launched  # after each launch (the container service makes the next spare cgroup)

    async def run(self, container_id: str, bundle: Path, config: dict[str, Any], host_config: dict[str, Any],
                  mounts: list[dict[str, Any]], output: Callable[[str], None]) -> int:
        """Start `config` (Cmd, Env as it is, WorkingDir, User, Hostname) in `bundle` (its rootfs/ mounted) with
        `host_config` and extra OCI `mounts`; stream its output lines; return its exit code."""
        argv = list(config["Cmd"])
        doc = record.new_record(container_id, f"/{container_id}", dict(config), dict(host_config), "", argv[0],
                                argv[1:], bundle)
        log_path = bundle / "output.log"
        log_path.touch()
        await self._networking.attach(doc)
        try:
            where = Launch(bundle, bundle, log_path, self._network.etc_plan(container_id),
                           functools.partial(given_env, list(config.get("Env") or [])), tuple(mounts))
            launching = asyncio.ensure_future(run_blocking(self._launcher.launch, doc.copy(), where))
            try:
                _pid, shim = await asyncio.shield(launching)
            except asyncio.CancelledError:
                await _stop_when_launched(launching)  # the launch goes on in its thread: stop what it starts
                raise
            finally:
                if launching.done() and not launching.cancelled() and launching.exception() is None:
                    self._launched()
            return await _follow(shim, log_path, output)
        finally:
            await self._network.release(container_id)


async def _stop_when_launched(launching: asyncio.Future[Any]) -> None:
    """A build cancelled mid-launch: let the launch end, then kill and clean up the container it started, so no
    RUN step outlives its build."""
    await _outlast(launching)
    if launching.cancelled() or launching.exception() is not None:
        return  # nothing was started (the launch's own error goes with the cancellation)
    _pid, shim = launching.result()
    try:
        await _stop(shim)
    finally:
        await run_blocking(shim.cleanup)


async def _stop(shim: Shim) -> None:
    """SIGKILL a throwaway container still running and wait for its end, whatever cancellations come meanwhile."""
    if await run_blocking(shim.alive):
        with contextlib.suppress(Conflict):  # it ended by itself in between
            await run_blocking(shim.kill, signal.SIGKILL)
    await _outlast(asyncio.ensure_future(shim.wait()))


async def _outlast(future: asyncio.Future[Any]) -> None:
    """Wait for `future` to end even when the caller is cancelled meanwhile (the caller is already on its way
    out through a cancellation, which it re-raises)."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([future])


async def _follow(shim: Shim, log_path: Path, output: Callable[[str], None]) -> int:
    """Stream the container's output until it exits; returns the exit code. Always cleans the shim up."""
    try:
        with open(log_path, "rb") as log:
            waiter = asyncio.ensure_future(shim.wait())
            pending = b""
            while True:
                done = waiter.done()
                pending = _emit_lines(pending + log.read(), output)
                if done:
                    break
                await asyncio.wait([waiter], timeout=_POLL)
            status = waiter.result()
    except asyncio.CancelledError:
        await _stop(shim)
        raise
    finally:
        await run_blocking(shim.cleanup)
    return status.exit_code


def _emit_lines(data: bytes, output: Callable[[str], None]) -> bytes:
    """Emit each complete json-file log line's text, stderr in bright red as dockerd sends it; returns the
    incomplete remainder."""
    *complete, rest = data.split(b"\n")
    for line in complete:
        if line.strip():
            entry = json.loads(line)
            text = entry["log"]
            output(f"{_STDERR_ON}{text}{_STDERR_OFF}" if entry.get("stream") == "stderr" else text)
    return rest
