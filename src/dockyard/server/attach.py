"""One attach session, whatever carries it (a hijacked HTTP connection or a websocket): the log replayed when
asked (logs=1), then live output from the shim with stdin, or the followed log when nobody types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable

from dockyard.errors import LogsNotReadable
from dockyard.logs.jsonfile import LogEntry, end_offset, read_log, read_logs
from dockyard.server.relay import open_attach, relay
from dockyard.server.routing import Hijack, Request, run_blocking
from dockyard.server.services import Services
from dockyard.util.detachkeys import parse_detach_keys
from dockyard.util.stdcopy import frame

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
STREAM_IDS = {"stdout": 1, "stderr": 2}


@dataclass
class AttachOptions:
    """What the client asked for: streams, the log replay, live following and the detach keys."""

    stdin: bool
    stdout: bool
    stderr: bool
    logs: bool
    stream: bool
    detach_keys: bytes

    @classmethod
    def from_request(cls, req: Request, default: bool = False) -> AttachOptions:
        """The query of POST /attach (or of /attach/ws, whose streams default to on before API 1.42)."""
        return cls(req.arg_bool("stdin", default), req.arg_bool("stdout", default), req.arg_bool("stderr", default),
                   req.arg_bool("logs"), req.arg_bool("stream"), parse_detach_keys(req.arg("detachKeys")))

    @property
    def wanted(self) -> set[str]:
        """The output streams to deliver."""
        return {name for name, on in (("stdout", self.stdout), ("stderr", self.stderr)) if on}


async def serve_attach(services: Services, ref: str, options: AttachOptions,
                       open_client: Callable[[str], Awaitable[Hijack]], multiplex: bool = True) -> None:
    """Check the container, open the client side (`open_client(content_type)`), then deliver: the log first
    when asked, then live from the shim when stdin or a TTY is involved, else the followed log. Output is
    framed with stdcopy headers only when `multiplex` and the container has no TTY. Closes the client."""
    containers = services.containers
    container_id = containers.require_attachable(ref)
    _, path, tty = containers.log_path(container_id)
    if path is None and options.logs:
        raise LogsNotReadable()
    raw = tty or not multiplex
    offset = 0 if options.logs or path is None else await run_blocking(end_offset, path)
    exits_before = containers.exit_count(container_id)
    # a stopped container's stream ends after its log; one created or running is followed (it may start)
    stopped = containers.runtime_of(container_id)[0].state.status in ("exited", "dead")
    hijack = await open_client(RAW if tty else MULTIPLEXED)
    try:
        containers.publish(container_id, "attach")
        # live from the shim: stdin, prompts without newline, or a log driver that keeps nothing to follow
        if options.stream and (tty or options.stdin or path is None):
            if options.logs and path is not None:  # docker's order: what the log holds, then live
                await _deliver(read_logs(path), options.wanted, raw, hijack)
                offset = await run_blocking(end_offset, path)
            flags = {"stdin": options.stdin, "stdout": options.stdout, "stderr": options.stderr}
            live = await open_attach(containers, services.events, container_id, flags, options.detach_keys, raw)
            if live is not None:
                await relay(hijack, live)
                return
        if path is None:
            return
        entries = read_log(path, offset=offset, follow=options.stream and not stopped,
                           finished=lambda: containers.exit_count(container_id) != exits_before)
        await _deliver(entries, options.wanted, raw, hijack)
    except ConnectionError:
        pass  # the client hung up: nothing more to deliver
    finally:
        hijack.writer.close()


async def _deliver(entries: AsyncIterator[LogEntry], wanted: set[str], raw: bool, hijack: Hijack) -> None:
    """Copy log entries of the wanted streams to the client (raw bytes or stdcopy frames)."""
    async for entry in entries:
        if entry.stream in wanted:
            hijack.writer.write(entry.data if raw else frame(STREAM_IDS[entry.stream], entry.data))
            await hijack.writer.drain()

