"""One tree of errors; each class carries the HTTP status the API answers with."""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error the daemon reports to a client."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(DockyardError):
    """The request is malformed or names an impossible setting (400)."""

    status = 400


class Unauthorized(DockyardError):
    """Credentials are missing or wrong (401)."""

    status = 401


class Forbidden(DockyardError):
    """The action is not allowed (403)."""

    status = 403


class NotFound(DockyardError):
    """The named object does not exist (404)."""

    status = 404


class Conflict(DockyardError):
    """The object's state or name conflicts with the request (409)."""

    status = 409


class Gone(DockyardError):
    """What was asked for existed once and is no more (a swarm session that expired)."""

    status = 410


class NotModified(DockyardError):
    """Nothing to do: the object is already in the asked state (304)."""

    status = 304


class NotImplementedYet(DockyardError):
    """The feature is not available in this daemon (501)."""

    status = 501


class LogsNotReadable(NotImplementedYet):
    """A container whose log driver keeps nothing (none): dockerd's 501 for reading its logs."""

    def __init__(self) -> None:
        super().__init__("configured logging driver does not support reading")


class Unavailable(DockyardError):
    """The daemon cannot serve this now (503)."""

    status = 503


class InsufficientStorage(DockyardError):
    """The request needs more disk space than the host has free (507); refused before anything is written."""

    status = 507


class SystemError_(DockyardError):
    """An internal failure: host, runtime or store (500)."""

    status = 500


class RuntimeFailure(SystemError_):
    """Starting or running a container process failed; `exit_code` is what docker would report."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def status_of(exc: BaseException) -> int:
    """HTTP status for an exception: the class's own for ours, 500 for anything else."""
    if isinstance(exc, DockyardError):
        return exc.status
    return 500
