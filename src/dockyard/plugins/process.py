"""A plugin's process, run by the runtime's shim like a container: start it, wait for its socket, stop it."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict
from dockyard.plugins.transport import PluginClient, PluginError
from dockyard.runtime.client import ShimClient
from dockyard.util.atomic import write_atomic

log = logging.getLogger(__name__)

LOG_NAME = "plugin-json.log"  # the plugin's stdout and stderr, beside the shim's files
_STOP_GRACE = 10.0  # dockerd: SIGTERM, then SIGKILL after 10 s
_KILL_GRACE = 2.0
_LISTEN_TIMEOUT = 10.0  # dockerd dials for about 9.5 s before it gives up
_POLL = 0.05


class PluginProcess:
    """The shim of one plugin in `bundle` (config.json, shim files, the plugin's log)."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.shim = ShimClient(bundle)

    def start(self, spec: dict[str, Any]) -> int:
        """Launch the plugin; its host pid once it has exec'd."""
        self.bundle.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.bundle / "config.json", json.dumps(spec).encode(), durable=False)
        return self.shim.launch(self.bundle / LOG_NAME)

    def running(self) -> bool:
        return self.shim.alive()

    def wait_listening(self, client: PluginClient) -> None:
        """Until the plugin accepts connections on its socket; PluginError (dockerd's dial error) when it
        exits first or does not listen in time."""
        deadline = time.monotonic() + _LISTEN_TIMEOUT
        while True:
            try:
                client.connect().close()
                return
            except OSError as exc:
                if not self.running() or time.monotonic() > deadline:
                    raise PluginError(f"dial unix {client.address}: connect: {exc.strerror or exc}") from exc
            time.sleep(_POLL)

    def stop(self) -> None:
        """SIGTERM, SIGKILL after a grace period, then remove the shim's files and the bundle."""
        for sig, grace in ((signal.SIGTERM, _STOP_GRACE), (signal.SIGKILL, _KILL_GRACE)):
            try:
                self.shim.kill(sig)
            except Conflict:
                break  # exited meanwhile
            if self._ended_within(grace):
                break
        self.shim.wait_gone()
        self.shim.cleanup()
        self._keep_log_tail()
        shutil.rmtree(self.bundle, ignore_errors=False)

    def _ended_within(self, grace: float) -> bool:
        deadline = time.monotonic() + grace
        while self.running():
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL)
        return True

    def _keep_log_tail(self) -> None:
        """The plugin's last output goes to the daemon's log (dockerd logs plugin output there)."""
        try:
            lines = (self.bundle / LOG_NAME).read_text(errors="replace").splitlines()[-5:]
        except FileNotFoundError:
            return
        for line in lines:
            log.debug("plugin %s: %s", self.bundle.name, line)
