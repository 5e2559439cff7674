"""create, run, start and attach: container config from flags, image pull on demand, hijacked attach."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from dockyard.cli.context import CommandError, Context, StatusExit
from dockyard.cli.flags import Command, Flag
from dockyard.cli.interactive import Session, follow_window_size, proxy_signals
from dockyard.cli.limits import CREATE_LIMIT_FLAGS, host_config
from dockyard.cli.mountflags import MOUNT_FLAGS, apply_mounts
from dockyard.cli.netflags import NET_FLAGS, apply_network
from dockyard.cli.selfheal import SELF_HEALING_FLAGS, apply_self_healing
from dockyard.client.api import APIClient, APIError
from dockyard.client.transport import Response, quote
from dockyard.util.detachkeys import parse_detach_keys

CREATE_FLAGS = [
    Flag("detach", "d", help="Run container in background and print container ID"),
    Flag("entrypoint", "", "string", help="Overwrite the default ENTRYPOINT of the image"),
    Flag("env", "e", "list", help="Set environment variables"),
    Flag("env-file", "", "list", help="Read in a file of environment variables"),
    Flag("hostname", "h", "string", help="Container host name"),
    Flag("interactive", "i", help="Keep STDIN open even if not attached"),
    Flag("label", "l", "list", help="Set meta data on a container"),
    Flag("label-file", "", "list", help="Read in a line delimited file of labels"),
    Flag("name", "", "string", help="Assign a name to the container"),
    Flag("network", "", "string", help="Connect a container to a network"),
    Flag("rm", "", help="Automatically remove the container and its associated anonymous volumes when it exits"),
    Flag("stop-signal", "", "string", help="Signal to stop the container"),
    Flag("stop-timeout", "", "int", help="Timeout (in seconds) to stop a container"),
    Flag("tty", "t", help="Allocate a pseudo-TTY"),
    Flag("user", "u", "string", help="Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("workdir", "w", "string", help="Working directory inside the container"),
]


CREATE_FLAGS += CREATE_LIMIT_FLAGS
CREATE_FLAGS += SELF_HEALING_FLAGS
CREATE_FLAGS += MOUNT_FLAGS
CREATE_FLAGS += NET_FLAGS


def _read_kv_files(paths: list[str]) -> list[str]:
    """Lines of --env-file/--label-file files (comments and blank lines skipped; bare NAME takes the host's)."""
    import os
    out = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            raise CommandError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}", 125) from None
        for line in lines:
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line and line in os.environ:
                line = f"{line}={os.environ[line]}"
            out.append(line)
    return out


def build_config(o: dict[str, Any], image: str, cmd: list[str]) -> dict[str, Any]:
    """The POST /containers/create body for the given flags."""
    import os
    env = _read_kv_files(o["env_file"])
    for item in o["env"]:
        env.append(item if "=" in item or item not in os.environ else f"{item}={os.environ[item]}")
    labels = {}
    for item in _read_kv_files(o["label_file"]) + o["label"]:
        key, _, value = item.partition("=")
        labels[key] = value
    attach = not o.get("detach", False)
    config: dict[str, Any] = {
        "Image": image, "Cmd": cmd or None, "Env": env or None, "Labels": labels,
        "Hostname": o["hostname"] or "", "User": o["user"] or "", "WorkingDir": o["workdir"] or "",
        "Tty": o["tty"], "OpenStdin": o["interactive"], "StdinOnce": o["interactive"] and attach,
        "AttachStdin": o["interactive"] and attach, "AttachStdout": attach, "AttachStderr": attach,
        "HostConfig": {"AutoRemove": o["rm"], "NetworkMode": o["network"] or "default"},
    }
    config["HostConfig"].update(host_config(o))
    apply_self_healing(o, config)
    apply_mounts(o, config)
    apply_network(o, config)
    if o["entrypoint"] is not None:
        config["Entrypoint"] = [o["entrypoint"]] if o["entrypoint"] else []
    if o["stop_signal"]:
        config["StopSignal"] = o["stop_signal"]
    if o["stop_timeout"] is not None:
        config["StopTimeout"] = o["stop_timeout"]
    return config


def split_reference(image: str) -> tuple[str, str]:
    """("alpine", "latest") from "alpine"; digests are kept in the tag part ("sha256:...")."""
    if "@" in image:
        name, _, dgst = image.partition("@")
        return name, dgst
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return image, "latest"


def pull(api: APIClient, image: str, out: Any) -> None:
    """POST /images/create?fromImage=..., printing docker-style status lines."""
    from dockyard.client.api import json_stream
    name, tag = split_reference(image)
    resp = api.request("POST", "/images/create", {"fromImage": name, "tag": tag})
    try:
        for msg in json_stream(resp):
            if msg.get("error") or msg.get("errorDetail"):
                raise APIError(500, msg.get("error") or msg["errorDetail"].get("message", ""))
            if msg.get("progressDetail") and msg.get("progress"):
                continue
            prefix = f"{msg['id']}: " if msg.get("id") else ""
            out.write(f"{prefix}{msg.get('status', '')}\n")
    finally:
        resp.close()


def _display_ref(image: str) -> str:
    """"alpine:latest" for "alpine" (as in "Unable to find image ...")."""
    name, tag = split_reference(image)
    return f"{name}@{tag}" if "@" in image else f"{name}:{tag}"


def create_container(ctx: Context, o: dict[str, Any], args: list[str]) -> str:
    """Create (pulling the image when missing); returns the id and prints warnings."""
    config = build_config(o, args[0], args[1:])
    query = {"name": o["name"] or None}
    try:
        created = ctx.api.post("/containers/create", query, config)
    except APIError as exc:
        if exc.status != 404 or "No such image" not in exc.message:
            raise
        ctx.err(f"Unable to find image '{_display_ref(args[0])}' locally\n")
        pull(ctx.api, args[0], ctx.stderr)
        created = ctx.api.post("/containers/create", query, config)
    for warning in created.get("Warnings") or []:
        ctx.err(f"WARNING: {warning}\n")
    return str(created["Id"])


def start_error_status(message: str) -> int:
    """docker run's exit status for a start failure: 127 not found, 126 not executable, else 125."""
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low or "not found" in low:
        return 127
    if "permission denied" in low or "cannot execute" in low:
        return 126
    return 125


def _create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker create: print the new id."""
    ctx.out(create_container(ctx, o, args) + "\n")
    return 0


class Attachment:
    """A hijacked attach connection bound to this terminal (see cli/interactive.py)."""

    def __init__(self, api: APIClient, cid: str, tty: bool, stdin: bool, detach_keys: str | None = None) -> None:
        query = {"stream": True, "stdout": True, "stderr": True, "stdin": stdin or None, "detachKeys": detach_keys}
        self.api = api
        self.cid = cid
        self.resp: Response = api.request("POST", f"/containers/{quote(cid)}/attach", query, upgrade=True)
        self.session = Session(self.resp, tty, stdin, parse_detach_keys(detach_keys))

    def copy_output(self, sig_proxy: bool = False) -> bool:
        """Stream until the daemon ends the stream; True when the user detached."""
        tty = self.session.tty
        with follow_window_size(self._resize, tty), proxy_signals(self._kill, sig_proxy and not tty):
            return self.session.run()

    def _resize(self, height: int, width: int) -> None:
        """POST /containers/{id}/resize; a failed resize only leaves the old size."""
        with contextlib.suppress(APIError, OSError):
            self.api.post(f"/containers/{quote(self.cid)}/resize", {"h": height, "w": width})

    def _kill(self, signal: str) -> None:
        """Forward a signal (--sig-proxy); the container may have exited meanwhile."""
        with contextlib.suppress(APIError, OSError):
            self.api.post(f"/containers/{quote(self.cid)}/kill", {"signal": signal})


class Waiter:
    """POST /containers/{id}/wait in a thread; the daemon answers its headers once the wait is registered."""

    HEADER_TIMEOUT = 2.0

    def __init__(self, api: APIClient, cid: str, condition: str) -> None:
        self.status = 0
        self.error: Exception | None = None
        self.registered = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(api, cid, condition), daemon=True)
        self.thread.start()
        self.registered.wait(self.HEADER_TIMEOUT)

    def _run(self, api: APIClient, cid: str, condition: str) -> None:
        """Send the wait request and read its answer."""
        import json
        try:
            resp = api.request("POST", f"/containers/{quote(cid)}/wait", {"condition": condition})
        except (APIError, OSError) as exc:
            self.error = exc
            self.registered.set()
            return
        self.registered.set()
        try:
            body = json.loads(resp.read() or b"{}")
            self.status = int(body.get("StatusCode", 0))
            if (body.get("Error") or {}).get("Message"):
                self.error = APIError(500, body["Error"]["Message"])
        except (OSError, ValueError) as exc:
            self.error = exc
        finally:
            resp.close()

    def result(self) -> int:
        """Block for the exit code."""
        self.thread.join()
        if isinstance(self.error, APIError):
            raise self.error
        if self.error is not None:
            raise CommandError(str(self.error), 125)
        return self.status


def _start_attached(ctx: Context, cid: str, tty: bool, stdin: bool, condition: str, run: bool,
                    detach_keys: str | None = None, sig_proxy: bool = True) -> int:
    """Attach, wait, start, copy output, return the container's exit code (0 when the user detached)."""
    attachment = Attachment(ctx.api, cid, tty, stdin, detach_keys)
    waiter = Waiter(ctx.api, cid, condition)
    try:
        ctx.api.post(f"/containers/{quote(cid)}/start")
    except APIError as exc:
        attachment.resp.close()
        if run:
            raise CommandError(f"Error response from daemon: {exc.message}", start_error_status(exc.message)) from None
        raise
    if attachment.copy_output(sig_proxy):
        return 0
    return waiter.result()


def _run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker run."""
    cid = create_container(ctx, o, args)
    if o["detach"]:
        try:
            ctx.api.post(f"/containers/{quote(cid)}/start")
        except APIError as exc:
            raise CommandError(f"Error response from daemon: {exc.message}", start_error_status(exc.message)) from None
        ctx.out(cid + "\n")
        return 0
    status = _start_attached(ctx, cid, o["tty"], o["interactive"], "removed" if o["rm"] else "next-exit", True,
                             o["detach_keys"], o["sig_proxy"])
    raise StatusExit(status)


CREATE = Command("create", "create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", _create,
                 [f for f in CREATE_FLAGS if f.long != "detach"], min_args=1, interspersed=False,
                 run_style_errors=True)
DETACH_KEYS_FLAG = Flag("detach-keys", "", "string", help="Override the key sequence for detaching a container")
SIG_PROXY_FLAG = Flag("sig-proxy", "", default=True, help="Proxy received signals to the process")
RUN = Command("run", "run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
              _run, CREATE_FLAGS + [DETACH_KEYS_FLAG, SIG_PROXY_FLAG], min_args=1, interspersed=False,
              run_style_errors=True)


def _start(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker start [-a]."""
    if o["attach"]:
        if len(args) > 1:
            raise CommandError("you cannot start and attach multiple containers at once")
        info = ctx.api.get(f"/containers/{quote(args[0])}/json")
        tty = bool((info.get("Config") or {}).get("Tty"))
        raise StatusExit(_start_attached(ctx, info["Id"], tty, o["interactive"], "next-exit", False))
    from dockyard.cli.containers import for_each

    def act(name: str) -> str:
        ctx.api.post(f"/containers/{quote(name)}/start")
        return name
    status = for_each(ctx, args, act)
    if status:
        ctx.err("Error: failed to start containers: " + ", ".join(args) + "\n")
    return status


START = Command("start", "start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
                _start, [Flag("attach", "a", help="Attach STDOUT/STDERR and forward signals"),
                         Flag("interactive", "i", help="Attach container's STDIN")], min_args=1)


def _attach(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker attach (non-TTY streams copied; exit code is the container's)."""
    info = ctx.api.get(f"/containers/{quote(args[0])}/json")
    if not (info.get("State") or {}).get("Running"):
        raise CommandError("You cannot attach to a stopped container, start it first")
    tty = bool((info.get("Config") or {}).get("Tty"))
    stdin = not o["no_stdin"] and bool((info.get("Config") or {}).get("OpenStdin"))
    attachment = Attachment(ctx.api, info["Id"], tty, stdin, o["detach_keys"])
    if attachment.copy_output(o["sig_proxy"]):
        return 0
    result = ctx.api.post(f"/containers/{quote(info['Id'])}/wait") or {}
    raise StatusExit(int(result.get("StatusCode", 0)))


ATTACH = Command("attach", "attach [OPTIONS] CONTAINER",
                 "Attach local standard input, output, and error streams to a running container", _attach,
                 [DETACH_KEYS_FLAG, Flag("no-stdin", "", help="Do not attach STDIN"),
                  Flag("sig-proxy", "", default=True, help="Proxy all received signals to the process")],
                 min_args=1, max_args=1)
