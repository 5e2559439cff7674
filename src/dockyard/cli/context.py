"""Per-invocation state of the CLI (lazy API client, output streams) and error-to-exit-code mapping."""

from __future__ import annotations

import sys
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

    from dockyard.client.endpoint import Endpoint

from dockyard.cli.flags import PROG, Command
from dockyard.client.api import APIClient, APIError
from dockyard.client.transport import ConnectionFailed, ProtocolError, Response


class CommandError(Exception):
    """A client-side failure with docker's wording and exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class StatusExit(Exception):
    """Leave with a status and no message (e.g. a container's exit code)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Context:
    """What a command needs: the API client (created on first use) and stdout/stderr."""

    def __init__(self, endpoint: "Endpoint | None", key: str) -> None:
        self.endpoint = endpoint
        self.key = key
        self.context_flag: str | None = None  # --context as given (the context commands show and mark it)
        self._api: APIClient | None = None
        self.stdout = sys.stdout
        self.stderr = sys.stderr

    @property
    def context_name(self) -> str:
        """The context this command talks to ("default" when none was chosen)."""
        return (self.endpoint.name if self.endpoint is not None else "") or "default"

    @property
    def api(self) -> APIClient:
        """The API client, built lazily."""
        if self._api is None:
            try:
                self._api = (APIClient(self.endpoint.host, tls=self.endpoint.tls) if self.endpoint is not None
                             else APIClient())
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        return self._api

    def out(self, text: str) -> None:
        """Write to stdout."""
        self.stdout.write(text)

    def err(self, text: str) -> None:
        """Write to stderr."""
        self.stderr.write(text)


def daemon_error(exc: APIError) -> str:
    """Docker's "Error response from daemon: ..." line."""
    return f"Error response from daemon: {exc.message}"


def run_guarded(cmd: Command, ctx: Context, opts: dict[str, Any], args: list[str]) -> int:
    """Run a command; print errors as docker does and return the exit status."""
    from dockyard.cli.output import FormatError
    message = ""
    status = 1
    try:
        return cmd.run(ctx, opts, args)
    except StatusExit as exc:
        return exc.status
    except APIError as exc:
        message = daemon_error(exc)
    except (ConnectionFailed, ProtocolError, FormatError) as exc:
        message = str(exc)
    except CommandError as exc:
        message, status = str(exc), exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        _flush()
    if cmd.run_style_errors:
        ctx.err(f"{PROG}: {message}\n\nRun '{PROG} {cmd.name} --help' for more information\n")
        return 125 if status == 1 else status
    ctx.err(message + "\n")
    return status


def _flush() -> None:
    """Flush stdout, ignoring a reader that went away."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stderr.close()


def save_archive(resp: "Response", target: str | None) -> None:
    """Write a streamed tar to `target` (atomically) or to stdout, refusing a terminal as docker does."""
    import os

    if not target and sys.stdout.isatty():
        resp.close()
        raise CommandError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    tmp = f"{target}.tmp-{os.getpid()}" if target else None
    try:
        with (open(tmp, "wb") if tmp else os.fdopen(os.dup(sys.stdout.fileno()), "wb")) as out:
            for chunk in resp.chunks():
                out.write(chunk)
        if tmp and target:
            os.replace(tmp, target)
    finally:
        resp.close()
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
