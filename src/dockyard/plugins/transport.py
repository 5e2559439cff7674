"""The daemon's side of the plugin protocol: JSON over HTTP POSTs on the plugin's unix socket."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any

from dockyard.errors import SystemError_
from dockyard.runtime.bundle import socket_path

ACCEPT = "application/vnd.docker.plugins.v1.2+json"


class PluginError(SystemError_):
    """A plugin answered with an error or could not be reached."""


class _UnixSocketConnection(http.client.HTTPConnection):
    """http.client on a connected unix socket."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        super().__init__("plugin", timeout=timeout)
        self.sock = sock

    def connect(self) -> None:  # the socket is connected already
        return None


class PluginClient:
    """Calls `/<Method>` on the socket `<directory>/<name>` (reached through /proc/self/fd: a long exec root
    would not fit sun_path)."""

    def __init__(self, directory: Path, name: str, timeout: float) -> None:
        self.directory = directory
        self.name = name
        self.timeout = timeout

    @property
    def address(self) -> Path:
        return self.directory / self.name

    def connect(self) -> socket.socket:
        """A connection to the plugin's socket; OSError while nobody listens."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout)
        try:
            with socket_path(self.directory, self.name) as address:
                sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    def call(self, method: str, body: Any) -> dict[str, Any]:
        """POST /<method> with a JSON body; the decoded answer. PluginError for a failed call or an `Err`."""
        try:
            connection = _UnixSocketConnection(self.connect(), self.timeout)
        except OSError as exc:
            raise PluginError(f"dial unix {self.address}: connect: {exc.strerror or exc}") from exc
        try:
            connection.request("POST", f"/{method}", json.dumps(body).encode(),
                               {"Accept": ACCEPT, "Content-Type": ACCEPT})
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise PluginError(f"Post \"http://%2Fdocker%2Fplugins/{method}\": {exc}") from exc
        finally:
            connection.close()
        answer = _decoded(raw)
        if response.status != 200:
            raise PluginError(answer.get("Err") or raw.decode(errors="replace").strip() or response.reason)
        if answer.get("Err"):
            raise PluginError(str(answer["Err"]))
        return answer


def _decoded(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
