"""A build cancelled while its RUN step is still being launched stops the container that launch starts."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import Any

from dockyard.containers.steps import ThrowawayRunner
from dockyard.runtime.client import ExitStatus


class _Network:
    """Just enough of the network service for one throwaway container with no networks."""

    def __init__(self) -> None:
        self.released: list[str] = []

    def plan(self, host_config: dict[str, Any], networking: Any, config: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def attach(self, container_id: str, name: str, host_config: Any, exposed: Any, networks: Any) -> Any:
        return {}

    def etc_plan(self, container_id: str) -> None:
        return None

    async def release(self, container_id: str) -> None:
        self.released.append(container_id)


class _Shim:
    """A container that runs until SIGKILLed."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.signals: list[int] = []
        self.cleaned = False

    def alive(self) -> bool:
        return not self.ended.is_set()

    def kill(self, sig: int) -> None:
        self.signals.append(sig)
        self.loop.call_soon_threadsafe(self.ended.set)

    async def wait(self) -> ExitStatus:
        await self.ended.wait()
        return ExitStatus(exit_code=137, oom_killed=False, finished_at="")

    def cleanup(self) -> None:
        assert not self.alive()
        self.cleaned = True


class _SlowLauncher:
    """Launches in its worker thread only once told to, as a loaded machine's launch lags behind the process."""

    def __init__(self, shim: _Shim) -> None:
        self.shim = shim
        self.entered = threading.Event()
        self.proceed = threading.Event()

    def launch(self, doc: Any, where: Any) -> tuple[int, _Shim]:
        self.entered.set()
        assert self.proceed.wait(10)
        return 4242, self.shim


def test_cancelled_mid_launch_the_step_is_killed_and_cleaned(tmp_path: Path) -> None:
    async def scenario() -> None:
        shim = _Shim()
        launcher = _SlowLauncher(shim)
        network = _Network()
        launched: list[bool] = []
        runner = ThrowawayRunner(network, launcher, lambda: launched.append(True))  # type: ignore[arg-type]
        run = asyncio.create_task(runner.run("build-0123", tmp_path, {"Cmd": ["sleep", "60"]}, {}, [], print))
        await asyncio.to_thread(launcher.entered.wait, 10)
        run.cancel()
        await asyncio.sleep(0.05)
        run.cancel()  # a second cancellation (the stream's own teardown) must not cut the clean-up short
        launcher.proceed.set()
        try:
            await asyncio.wait_for(run, 10)
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the cancelled run returned normally")
        assert shim.signals == [signal.SIGKILL], "the container the launch started must be killed"
        assert shim.cleaned and network.released == ["build-0123"] and launched == [True]

    asyncio.run(scenario())
