"""Build routes: POST /build (context tar in, docker's JSON progress lines out) and POST /build/prune."""

from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator

from dockyard.errors import InvalidParameter
from dockyard.server.routing import Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services

_LIMITS = {"memory": "Memory", "memswap": "MemorySwap", "cpushares": "CpuShares", "cpuperiod": "CpuPeriod",
           "cpuquota": "CpuQuota"}


def run_limits(req: Request) -> dict[str, Any]:
    """memory/memswap/cpu* query parameters for RUN steps, named as HostConfig names them."""
    host: dict[str, Any] = {field: req.arg_int(name, 0) for name, field in _LIMITS.items()}
    host["CpusetCpus"], host["CpusetMems"] = req.arg("cpusetcpus") or "", req.arg("cpusetmems") or ""
    return host


def options(req: Request) -> dict[str, Any]:
    """The query parameters docker's classic builder API takes, named as the builder's options."""
    if req.arg("remote"):
        raise InvalidParameter("building from a remote context is not supported")
    build_args = req.arg_json("buildargs", {}) or {}
    labels = req.arg_json("labels", {}) or {}
    cache_from = req.arg_json("cachefrom", []) or []
    if not isinstance(build_args, dict) or not isinstance(labels, dict) or not isinstance(cache_from, list):
        raise InvalidParameter("buildargs and labels must be JSON objects, cachefrom a JSON array")
    extra_hosts = [h for value in req.arg_list("extrahosts") for h in value.split(",") if h]
    return dict(
        dockerfile=req.arg("dockerfile") or "Dockerfile", tags=[t for t in req.arg_list("t") if t],
        build_args={str(k): (None if v is None else str(v)) for k, v in build_args.items()},
        target=req.arg("target") or "", no_cache=req.arg_bool("nocache"),
        labels={str(k): str(v) for k, v in labels.items()}, network_mode=req.arg("networkmode") or "default",
        extra_hosts=extra_hosts, quiet=req.arg_bool("q"), cache_from=[str(c) for c in cache_from],
        platform=req.arg("platform") or "", pull=req.arg_bool("pull"),
        remove=req.arg_bool("rm", True) or req.arg_bool("forcerm"))


def register(router: Router, services: Services) -> None:
    """Add the build routes to `router`."""

    @router.post("/build")
    async def build(req: Request) -> Stream:
        """Receive the context, then stream the build's progress as JSON lines."""
        fields, limits = options(req), run_limits(req)
        messages = await services.builder.build_request(req.stream_body(), fields, limits,
                                                        req.headers.get("x-registry-config"))

        async def lines() -> AsyncIterator[bytes]:
            async with contextlib.aclosing(messages):
                async for msg in messages:
                    yield json.dumps(msg).encode() + b"\r\n"
        return Stream(lines())

    @router.post("/build/prune")
    async def prune(req: Request) -> Json:
        """Forget the build cache."""
        return Json(await run_blocking(services.builder.prune))
