"""Build routes: POST /build (context tar in, docker's JSON progress lines out) and POST /build/prune."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

from dockyard.builder.context import DOCKERIGNORE, ContextReceiver, apply_dockerignore
from dockyard.builder.executor import BuildOptions
from dockyard.distribution.client import Credentials
from dockyard.distribution.pull import Puller
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.server.routing import Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services
from dockyard.util import reference

log = logging.getLogger(__name__)
_DONE = object()


_LIMITS = {"memory": "Memory", "memswap": "MemorySwap", "cpushares": "CpuShares", "cpuperiod": "CpuPeriod",
           "cpuquota": "CpuQuota"}
_MIN_MEMORY = 6 * 1024 * 1024
_HUB_AUTH_KEY = "https://index.docker.io/v1/"


def run_limits(req: Request) -> dict[str, Any]:
    """memory/memswap/cpu* query parameters as HostConfig limits for RUN steps (the ones given)."""
    host: dict[str, Any] = {field: req.arg_int(name, 0) for name, field in _LIMITS.items()}
    host["CpusetCpus"], host["CpusetMems"] = req.arg("cpusetcpus") or "", req.arg("cpusetmems") or ""
    if host["Memory"] and host["Memory"] < _MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if host["MemorySwap"] > 0 and host["Memory"] and host["MemorySwap"] < host["Memory"]:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    return {field: value for field, value in host.items() if value}


def fetcher(req: Request, services: Services) -> Callable[[str], Iterator[dict[str, Any]]]:
    """Pull an image for FROM with the credentials of the build's X-Registry-Config header."""
    auths = _registry_config(req.headers.get("x-registry-config"))

    def fetch(ref: str) -> Iterator[dict[str, Any]]:
        domain = reference.parse(ref).domain
        auth = auths.get(domain) or (auths.get(_HUB_AUTH_KEY) if domain == reference.DEFAULT_DOMAIN else None)
        header = base64.urlsafe_b64encode(json.dumps(auth or {}).encode()).decode()
        puller = Puller(services.images, services.system.config, Credentials.from_header(header))
        return puller.pull(ref, None)
    return fetch


def _registry_config(header: str | None) -> dict[str, Any]:
    """X-Registry-Config: base64 JSON of registry -> auth config (empty when absent or unreadable)."""
    if not header:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except ValueError:
        raise InvalidParameter("invalid X-Registry-Config header") from None
    return doc if isinstance(doc, dict) else {}


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
        platform=req.arg("platform") or "", pull=req.arg_bool("pull"),
        remove=req.arg_bool("rm", True) or req.arg_bool("forcerm"), limits=run_limits(req))


async def receive_context(req: Request, receiver: ContextReceiver) -> None:
    """Hand the request body to the context receiver as it arrives; the stream always ends, even on errors."""
    try:
        async for chunk in req.stream_body():
            await receiver.feed(chunk)
    finally:
        await receiver.finish()


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
        opts.fetch = fetcher(req, services)
        context = Path(await run_blocking(tempfile.mkdtemp, "", "ctx-", str(builder.work_root)))
        try:
            await receive_context(req, ContextReceiver(context, builder.files))
            await run_blocking(apply_dockerignore, context, (opts.dockerfile, DOCKERIGNORE))
        except BaseException:
            await run_blocking(builder.release_context, context)
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
                await run_blocking(builder.release_context, context)
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
