"""Build routes: POST /build (context tar in, docker's JSON progress lines out) and POST /build/prune."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator

from dockyard.builder.context import DOCKERIGNORE, apply_dockerignore, extract_context
from dockyard.builder.executor import BuildOptions
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.server.routing import Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services

log = logging.getLogger(__name__)
_DONE = object()


def options(req: Request) -> BuildOptions:
    """The query parameters docker's classic builder API takes."""
    if req.arg("remote"):
        raise InvalidParameter("building from a remote context is not supported")
    build_args = req.arg_json("buildargs", {}) or {}
    labels = req.arg_json("labels", {}) or {}
    cache_from = req.arg_json("cachefrom", []) or []
    if not isinstance(build_args, dict) or not isinstance(labels, dict) or not isinstance(cache_from, list):
        raise InvalidParameter("buildargs and labels must be JSON objects, cachefrom a JSON array")
    extra_hosts = [h for value in req.arg_list("extrahosts") for h in value.split(",") if h]
    return BuildOptions(
        dockerfile=req.arg("dockerfile") or "Dockerfile", tags=[t for t in req.arg_list("t") if t],
        build_args={str(k): (None if v is None else str(v)) for k, v in build_args.items()},
        target=req.arg("target") or "", no_cache=req.arg_bool("nocache"),
        labels={str(k): str(v) for k, v in labels.items()}, network_mode=req.arg("networkmode") or "default",
        extra_hosts=extra_hosts, quiet=req.arg_bool("q"), cache_from=[str(c) for c in cache_from],
        platform=req.arg("platform") or "")


async def receive_context(req: Request, dest: Path) -> None:
    """Stream the request body through a pipe into a thread that extracts it safely into `dest`."""
    read_fd, write_fd = os.pipe()
    reader = open(read_fd, "rb")
    extraction = asyncio.ensure_future(run_blocking(extract_context, reader, dest))
    writer = open(write_fd, "wb", buffering=0)
    try:
        async for chunk in req.stream_body():
            if extraction.done():
                break
            await run_blocking(writer.write, chunk)
    except BrokenPipeError:
        pass  # the extractor stopped reading: its own error is raised below
    finally:
        writer.close()
    try:
        await extraction
    finally:
        reader.close()


def _error_message(exc: BaseException) -> dict[str, Any]:
    """docker's {"errorDetail": ..., "error": ...} line; no code, so the CLI exits 1 (as the issue asks)."""
    message = exc.message if isinstance(exc, DockyardError) else (str(exc) or type(exc).__name__)
    return {"errorDetail": {"message": message}, "error": message}


def register(router: Router, services: Services) -> None:
    """Add the build routes to `router`."""

    @router.post("/build")
    async def build(req: Request) -> Stream:
        """Receive the context, then stream the build's progress as JSON lines."""
        builder = services.builder
        opts = options(req)
        context = Path(await run_blocking(tempfile.mkdtemp, "", "ctx-", str(builder.work_root)))
        try:
            await receive_context(req, context)
            await run_blocking(apply_dockerignore, context, (opts.dockerfile, DOCKERIGNORE))
        except BaseException:
            await run_blocking(shutil.rmtree, context)
            raise
        queue: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def emit(msg: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, msg)

        async def run() -> None:
            try:
                await builder.build(context, opts, emit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is reported in the stream, docker-style
                if not isinstance(exc, DockyardError):
                    log.error("build failed unexpectedly", exc_info=exc)
                emit(_error_message(exc))
            finally:
                await run_blocking(shutil.rmtree, context)
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        async def lines() -> AsyncIterator[bytes]:
            task = asyncio.create_task(run())
            try:
                while (msg := await queue.get()) is not _DONE:
                    yield json.dumps(msg).encode() + b"\r\n"
            finally:
                if not task.done():
                    task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        return Stream(lines())

    @router.post("/build/prune")
    async def prune(req: Request) -> Json:
        """Forget the build cache."""
        return Json(await run_blocking(services.builder.prune))
