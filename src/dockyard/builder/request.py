"""A build as POST /build asks for it: options and RUN limits from the query, FROM pulls with the request's
registry credentials, the context received from the body, the progress messages streamed out."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncGenerator, AsyncIterator, Callable, Iterator, Protocol

from dockyard.builder.context import DOCKERIGNORE, ContextReceiver, apply_dockerignore
from dockyard.builder.options import BuildOptions
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.util import reference
from dockyard.util.aio import run_blocking

if TYPE_CHECKING:
    from dockyard.builder.executor import Builder

log = logging.getLogger(__name__)
_DONE = object()
_MIN_MEMORY = 6 * 1024 * 1024
_HUB_AUTH_KEY = "https://index.docker.io/v1/"


def run_limits(host: dict[str, Any]) -> dict[str, Any]:
    """RUN steps' limits (HostConfig's Memory, MemorySwap, Cpu* fields): checked, and only those given."""
    if host.get("Memory") and host["Memory"] < _MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if host.get("MemorySwap", 0) > 0 and host.get("Memory") and host["MemorySwap"] < host["Memory"]:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    return {field: value for field, value in host.items() if value}


def registry_auths(header: str | None) -> dict[str, Any]:
    """X-Registry-Config: base64 JSON of registry -> auth config (empty when absent or unreadable)."""
    if not header:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except ValueError:
        raise InvalidParameter("invalid X-Registry-Config header") from None
    return doc if isinstance(doc, dict) else {}


class ImagePuller(Protocol):
    """The image service's pull, as FROM uses it."""

    def pull(self, from_image: str, tag: str | None, auth: str | None = None,
             platform: str | None = None) -> Iterator[dict]:
        """Progress messages of the pull; `auth` is an X-Registry-Auth header."""


def fetcher(images: ImagePuller, auths: dict[str, Any]) -> Callable[[str], Iterator[dict[str, Any]]]:
    """Pull an image for FROM with the credentials `auths` hold for its registry."""

    def fetch(ref: str) -> Iterator[dict[str, Any]]:
        domain = reference.parse(ref).domain
        auth = auths.get(domain) or (auths.get(_HUB_AUTH_KEY) if domain == reference.DEFAULT_DOMAIN else None)
        header = base64.urlsafe_b64encode(json.dumps(auth or {}).encode()).decode()
        return images.pull(ref, None, header)
    return fetch


def build_options(fields: dict[str, Any], limits: dict[str, Any], images: ImagePuller,
                  registry_config: str | None) -> BuildOptions:
    """BuildOptions from the parsed query (`fields`, named as BuildOptions' fields) and RUN limits."""
    return BuildOptions(**fields, limits=run_limits(limits),
                        fetch=fetcher(images, registry_auths(registry_config)))


async def receive_context(chunks: AsyncIterator[bytes], receiver: ContextReceiver) -> None:
    """Hand the request body to the context receiver as it arrives; the stream always ends, even on errors."""
    try:
        async for chunk in chunks:
            await receiver.feed(chunk)
    finally:
        await receiver.finish()


def error_message(exc: BaseException) -> dict[str, Any]:
    """docker's {"errorDetail": ..., "error": ...} line; no code, so the CLI exits 1 (as the issue asks)."""
    message = exc.message if isinstance(exc, DockyardError) else (str(exc) or type(exc).__name__)
    return {"errorDetail": {"message": message}, "error": message}


async def start_build(builder: Builder, chunks: AsyncIterator[bytes],
                      opts: BuildOptions) -> AsyncGenerator[dict[str, Any], None]:
    """Receive the context (its errors raise here), then the build's messages as it runs; closing the
    iterator early cancels the build. The context directory is released in every case."""
    context = Path(await run_blocking(tempfile.mkdtemp, "", "ctx-", str(builder.work_root)))
    try:
        await receive_context(chunks, ContextReceiver(context, builder.files))
        await run_blocking(apply_dockerignore, context, (opts.dockerfile, DOCKERIGNORE))
    except BaseException:
        await run_blocking(builder.release_context, context)
        raise
    return _messages(builder, context, opts)


async def _messages(builder: Builder, context: Path, opts: BuildOptions) -> AsyncGenerator[dict[str, Any], None]:
    """Run the build in a task, yielding what it emits; a failure becomes docker's error message."""
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
            emit(error_message(exc))
        finally:
            await run_blocking(builder.release_context, context)
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    task = asyncio.create_task(run())
    try:
        while (msg := await queue.get()) is not _DONE:
            yield msg
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
