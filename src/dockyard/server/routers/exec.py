"""HTTP routes for exec instances (/containers/{id}/exec, /exec/{id}/...) and terminal resizes."""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.errors import InvalidParameter, RuntimeFailure
from dockyard.server.backends import ExecSession
from dockyard.server.relay import ShimStream, relay
from dockyard.server.routing import HIJACKED, Empty, Hijack, Json, Request, Router, run_blocking
from dockyard.server.services import Services
from dockyard.util.detachkeys import parse_detach_keys
from dockyard.util.stdcopy import STDOUT, frame

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def _size(req: Request) -> tuple[int, int]:
    """The h and w query parameters (docker: both numbers)."""
    height, width = req.arg_int("h", 0), req.arg_int("w", 0)
    if height is None or width is None or height < 0 or width < 0:
        raise InvalidParameter("invalid terminal size")
    return height, width


def _console(body: dict[str, Any]) -> tuple[int, int] | None:
    """ConsoleSize [height, width] of an exec start, when both are given."""
    console = body.get("ConsoleSize")
    if isinstance(console, list) and len(console) == 2 and all(console):
        return int(console[0]), int(console[1])
    return None


def register(router: Router, services: Services) -> None:
    """Add the exec and resize routes."""
    execs = services.execs
    detached: set[asyncio.Task] = set()

    @router.post("/containers/{id}/exec")
    async def create(req: Request) -> Json:
        body = await req.json()
        return Json({"Id": await run_blocking(execs.create, req.params["id"], body)}, status=201)

    @router.get("/exec/{id}/json")
    async def inspect(req: Request) -> Json:
        return Json(execs.inspect(req.params["id"]))

    @router.post("/exec/{id}/resize")
    async def resize_exec(req: Request) -> Empty:
        height, width = _size(req)
        await execs.resize(req.params["id"], height, width)
        return Empty(200)

    @router.post("/containers/{id}/resize")
    async def resize_container(req: Request) -> Empty:
        height, width = _size(req)
        await services.containers.resize(req.params["id"], height, width)
        return Empty(200)

    @router.post("/exec/{id}/start")
    async def start(req: Request) -> object:
        body = await req.json(required=False) or {}
        if not isinstance(body, dict):
            raise InvalidParameter("invalid exec start config: expected a JSON object")
        rec = execs.get(req.params["id"])
        keys = parse_detach_keys(rec.detach_keys)
        execs.claim(rec.id)
        console = _console(body)
        raw = body.get("Tty") is True  # dockerd: the start body's Tty decides the framing, not the exec's
        if body.get("Detach"):
            stream = await _launch(rec, keys, console, raw)
            task = asyncio.get_running_loop().create_task(_run(None, stream, rec))
            detached.add(task)
            task.add_done_callback(detached.discard)
            return Empty(200)
        hijack = await req.hijack(RAW if raw else MULTIPLEXED)
        try:
            stream = await _launch(rec, keys, console, raw)
        except RuntimeFailure as failure:
            text = failure.message.encode() + b"\r\n"
            hijack.writer.write(text if raw else frame(STDOUT, text))
            hijack.writer.close()
            return HIJACKED
        await _run(hijack, stream, rec)
        return HIJACKED

    async def _launch(rec: ExecSession, keys: bytes, console: tuple[int, int] | None, raw: bool) -> ShimStream:
        """Start the process (its TTY sized to `console`) and present its session, raw or multiplexed."""
        reader, writer = await execs.launch(rec, console)
        wants = {name for name, on in (("stdout", rec.open_stdout), ("stderr", rec.open_stderr)) if on}
        return ShimStream(reader, writer, raw, rec.open_stdin, wants, keys, drain_after_detach=True)

    async def _run(hijack: Hijack | None, stream: ShimStream, rec: ExecSession) -> None:
        """Relay until the process ends, then record its exit code."""
        await relay(hijack, stream, lambda code: execs.finish(rec, code))
