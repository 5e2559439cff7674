"""docker exec: run a command in a running container (interactive with -it, detached with -d)."""

from __future__ import annotations

import contextlib
from typing import Any

from dockyard.cli.context import CommandError, Context, StatusExit
from dockyard.cli.flags import Command, Flag
from dockyard.cli.interactive import Session, follow_window_size
from dockyard.cli.run import _read_kv_files
from dockyard.client.api import APIClient, APIError
from dockyard.client.transport import quote
from dockyard.util.detachkeys import parse_detach_keys

EXEC_FLAGS = [
    Flag("detach", "d", help="Detached mode: run command in the background"),
    Flag("detach-keys", "", "string", help="Override the key sequence for detaching a container"),
    Flag("env", "e", "list", help="Set environment variables"),
    Flag("env-file", "", "list", help="Read in a file of environment variables"),
    Flag("interactive", "i", help="Keep STDIN open even if not attached"),
    Flag("privileged", "", help="Give extended privileges to the command"),
    Flag("tty", "t", help="Allocate a pseudo-TTY"),
    Flag("user", "u", "string", help="Username or UID (format: \"<name|uid>[:<group|gid>]\")"),
    Flag("workdir", "w", "string", help="Working directory inside the container"),
]


def exec_config(o: dict[str, Any], cmd: list[str]) -> dict[str, Any]:
    """The POST /containers/{id}/exec body for the given flags."""
    attach = not o["detach"]
    config: dict[str, Any] = {
        "Cmd": cmd, "Tty": o["tty"], "AttachStdin": o["interactive"] and attach, "AttachStdout": attach,
        "AttachStderr": attach, "Env": _read_kv_files(o["env_file"]) + o["env"], "User": o["user"] or "",
        "WorkingDir": o["workdir"] or "", "Privileged": o["privileged"],
    }
    if o["detach_keys"] is not None:
        config["DetachKeys"] = o["detach_keys"]
    return config


class _ExecResizer:
    """POST /exec/{id}/resize for the terminal's size."""

    def __init__(self, api: APIClient, exec_id: str) -> None:
        self.api = api
        self.exec_id = exec_id

    def __call__(self, height: int, width: int) -> None:
        """Send one size; a failed resize only leaves the old size."""
        with contextlib.suppress(APIError, OSError):
            self.api.post(f"/exec/{self.exec_id}/resize", {"h": height, "w": width})


def _exec(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker exec: the command's exit code becomes ours."""
    container, cmd = args[0], args[1:]
    config = exec_config(o, cmd)
    exec_id = ctx.api.post(f"/containers/{quote(container)}/exec", None, config)["Id"]
    if o["detach"]:
        ctx.api.post(f"/exec/{exec_id}/start", None, {"Detach": True, "Tty": o["tty"]})
        return 0
    resp = ctx.api.request("POST", f"/exec/{exec_id}/start", None, {"Detach": False, "Tty": o["tty"]},
                           upgrade=True)
    session = Session(resp, o["tty"], o["interactive"], parse_detach_keys(o["detach_keys"]))
    with follow_window_size(_ExecResizer(ctx.api, exec_id), o["tty"]):
        if session.run():
            return 0
    info = ctx.api.get(f"/exec/{exec_id}/json")
    if info.get("Running"):
        raise CommandError("exec is still running after its stream ended", 126)
    raise StatusExit(int(info.get("ExitCode") or 0))


EXEC = Command("exec", "exec [OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container",
               _exec, EXEC_FLAGS, min_args=2, interspersed=False)
