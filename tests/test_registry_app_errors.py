"""The registry application keeps the HTTP server's contract when a handler goes wrong."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from dockyard.registry.app import RegistryApp, RegistryServer
from dockyard.registry.auth import Authorizer
from dockyard.server.routing import Request, Router


def test_a_handler_without_response_gets_an_oci_500(tmp_path: Path) -> None:
    """The server asks the app for an error naming the request (error(exc, where)): an OCI 500 comes back."""
    router = Router()

    @router.get("/v2/broken")
    async def broken(req: Request) -> None:
        """A handler bug: no response."""

    async def ask() -> tuple[bytes, dict]:
        server = RegistryServer(RegistryApp(router, Authorizer()))
        socket_path = tmp_path / "registry.sock"
        await server.listen(f"unix://{socket_path}")
        try:
            reader, writer = await asyncio.open_unix_connection(str(socket_path))
            writer.write(b"GET /v2/broken HTTP/1.1\r\nHost: localhost\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = json.loads(await reader.readexactly(length))
            writer.close()
            return head.split(b"\r\n", 1)[0], body
        finally:
            await server.close()

    status, body = asyncio.run(ask())
    assert status == b"HTTP/1.1 500 Internal Server Error"
    assert body["errors"][0]["code"] == "UNKNOWN"
    assert "returned no response" in body["errors"][0]["message"]
