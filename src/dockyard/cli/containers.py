"""Container commands: ps, stop, kill, restart, pause, unpause, wait, rm, rename, logs, top, container prune."""

from __future__ import annotations

import sys
import time
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable

from dockyard.cli.context import CommandError, Context, daemon_error
from dockyard.cli.flags import Command, Flag
from dockyard.client.api import APIError

FORMAT_HELP = "Format output using a custom template"
FILTER = Flag("filter", "f", "list", help="Filter output based on conditions provided", metavar="filter")


def _ps(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker ps."""
    from dockyard.cli import formatters as fm
    from dockyard.cli.output import render
    fmt = o["format"] or ""
    if o["quiet"] and not fmt:
        fmt = "{{.ID}}"
    size = o["size"] or (".Size" in fmt and not o["quiet"])
    limit = 1 if o["latest"] else o["last"]
    query = {"all": o["all"] or limit > 0 or None, "limit": limit if limit > 0 else None,
             "size": size or None, "filters": fm.filters_json(o["filter"])}
    containers = ctx.api.get("/containers/json", query) or []
    default = fm.PS_DEFAULT + ("\t{{.Size}}" if o["size"] else "")
    rows = [fm.ContainerContext(c, not o["no_trunc"]) for c in containers]
    ctx.out(render(fmt, rows, fm.CONTAINER_HEADERS, default))
    return 0


PS = Command("ps", "ps [OPTIONS]", "List containers", _ps, [
    Flag("all", "a", help="Show all containers (default shows just running)"),
    FILTER,
    Flag("format", "", "string", help=FORMAT_HELP),
    Flag("last", "n", "int", -1, help="Show n last created containers (includes all states)"),
    Flag("latest", "l", help="Show the latest created container (includes all states)"),
    Flag("no-trunc", "", help="Don't truncate output"),
    Flag("quiet", "q", help="Only display container IDs"),
    Flag("size", "s", help="Display total file sizes"),
], max_args=0, aliases="dockyard container ls, dockyard container list, dockyard container ps, dockyard ps")


def for_each(ctx: Context, names: list[str], action: Callable[[str], str | None]) -> int:
    """Apply action to each name, printing its result line; errors go to stderr, exit 1 if any."""
    errors = []
    for name in names:
        try:
            line = action(name)
        except APIError as exc:
            errors.append(daemon_error(exc))
            continue
        if line is not None:
            ctx.out(line + "\n")
    if errors:
        ctx.err("\n".join(errors) + "\n")
        return 1
    return 0


def _path(name: str, verb: str) -> str:
    """/containers/{name}/{verb} with the name escaped."""
    from dockyard.client.transport import quote
    return f"/containers/{quote(name)}/{verb}" if verb else f"/containers/{quote(name)}"


def _simple(verb: str, query_of: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., int]:
    """A command that POSTs /containers/{id}/{verb} for each argument and echoes the name."""
    def run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
        def act(name: str) -> str:
            ctx.api.post(_path(name, verb), query_of(o))
            return name
        return for_each(ctx, args, act)
    return run


def _stop_query(o: dict[str, Any]) -> dict[str, Any]:
    """t= and signal= for stop/restart."""
    return {"t": o["timeout"], "signal": o["signal"] or None}


STOP_FLAGS = [Flag("signal", "s", "string", help="Signal to send to the container"),
              Flag("timeout", "t", "int", help="Seconds to wait before killing the container")]
STOP = Command("stop", "stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
               _simple("stop", _stop_query), STOP_FLAGS, min_args=1)
RESTART = Command("restart", "restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
                  _simple("restart", _stop_query), STOP_FLAGS, min_args=1)
KILL = Command("kill", "kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
               _simple("kill", lambda o: {"signal": o["signal"] or None}),
               [Flag("signal", "s", "string", help="Signal to send to the container")], min_args=1)
PAUSE = Command("pause", "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
                _simple("pause", lambda o: {}), min_args=1)
UNPAUSE = Command("unpause", "unpause CONTAINER [CONTAINER...]",
                  "Unpause all processes within one or more containers", _simple("unpause", lambda o: {}),
                  min_args=1)


def _wait(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker wait: print each exit code."""
    return for_each(ctx, args, lambda n: str((ctx.api.post(_path(n, "wait")) or {}).get("StatusCode", 0)))


WAIT = Command("wait", "wait CONTAINER [CONTAINER...]",
               "Block until one or more containers stop, then print their exit codes", _wait, min_args=1)


def _rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker rm."""
    def act(name: str) -> str:
        ctx.api.delete(_path(name, ""), {"force": o["force"] or None, "v": o["volumes"] or None,
                                         "link": o["link"] or None})
        return name
    return for_each(ctx, args, act)


RM = Command("rm", "rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", _rm, [
    Flag("force", "f", help="Force the removal of a running container (uses SIGKILL)"),
    Flag("link", "l", help="Remove the specified link"),
    Flag("volumes", "v", help="Remove anonymous volumes associated with the container"),
], min_args=1, aliases="dockyard container rm, dockyard container remove, dockyard rm")


def _rename(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker rename."""
    old, new = args
    if not new.strip() or not old.strip():
        raise CommandError("Error: Neither old nor new names may be empty")
    ctx.api.post(_path(old, "rename"), {"name": new})
    return 0


RENAME = Command("rename", "rename CONTAINER NEW_NAME", "Rename a container", _rename, min_args=2, max_args=2)


def timestamp_arg(value: str, now: float | None = None) -> str:
    """Docker's timetypes.GetTimestamp: relative durations, RFC 3339 dates or Unix seconds."""
    from dockyard.util.humanize import parse_duration
    current = time.time() if now is None else now
    if not value:
        return value
    try:
        return f"{current - parse_duration(value):.9f}"
    except ValueError:
        pass
    if value.replace(".", "", 1).isdigit():
        return value
    from datetime import datetime, timezone
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f'invalid value for "since": failed to parse value as time or duration: "{value}"') from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return f"{parsed.timestamp():.9f}"


def _logs(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker logs: raw copy for TTY containers, stdcopy demultiplexing otherwise."""
    from dockyard.client.stdcopy import demux
    info = ctx.api.get(_path(args[0], "json"))
    query = {"stdout": True, "stderr": True, "follow": o["follow"] or None, "timestamps": o["timestamps"] or None,
             "tail": o["tail"], "since": timestamp_arg(o["since"] or "") or None,
             "until": timestamp_arg(o["until"] or "") or None, "details": o["details"] or None}
    resp = ctx.api.request("GET", _path(info.get("Id") or args[0], "logs"), query)
    try:
        if (info.get("Config") or {}).get("Tty"):
            for chunk in resp.chunks():
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
        else:
            demux(resp.chunks(), sys.stdout.buffer, sys.stderr.buffer)
    finally:
        resp.close()
    return 0


LOGS = Command("logs", "logs [OPTIONS] CONTAINER", "Fetch the logs of a container", _logs, [
    Flag("details", "", help="Show extra details provided to logs"),
    Flag("follow", "f", help="Follow log output"),
    Flag("since", "", "string", help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                                     '(e.g. "42m" for 42 minutes)'),
    Flag("tail", "n", "string", "all", help="Number of lines to show from the end of the logs"),
    Flag("timestamps", "t", help="Show timestamps"),
    Flag("until", "", "string", help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                                     '(e.g. "42m" for 42 minutes)'),
], min_args=1, max_args=1)


def _top(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker top: the daemon's ps table through a tabwriter (min width 20)."""
    from dockyard.cli.output import tabwrite
    query = {"ps_args": " ".join(args[1:])} if len(args) > 1 else None
    procs = ctx.api.get(_path(args[0], "top"), query) or {}
    lines = ["\t".join(procs.get("Titles") or [])] + ["\t".join(p) for p in procs.get("Processes") or []]
    ctx.out(tabwrite("\n".join(lines) + "\n", minwidth=20))
    return 0


TOP = Command("top", "top CONTAINER [ps OPTIONS]", "Display the running processes of a container", _top,
              min_args=1, interspersed=False)


def confirm(ctx: Context, warning: str) -> bool:
    """Docker's "[y/N]" prompt on stdin."""
    ctx.out(warning + "\nAre you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def print_reclaimed(ctx: Context, title: str, ids: list[str], space: int) -> None:
    """The "Deleted ...:" list and "Total reclaimed space:" line of the prune commands."""
    from dockyard.util.humanize import human_size
    if ids:
        ctx.out(f"{title}:\n" + "".join(i + "\n" for i in ids) + "\n")
    ctx.out(f"Total reclaimed space: {human_size(space)}\n")


def _prune(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker container prune."""
    from dockyard.cli.formatters import filters_json
    if not o["force"] and not confirm(ctx, "WARNING! This will remove all stopped containers."):
        return 0
    report = ctx.api.post("/containers/prune", {"filters": filters_json(o["filter"])}) or {}
    print_reclaimed(ctx, "Deleted Containers", report.get("ContainersDeleted") or [],
                    report.get("SpaceReclaimed") or 0)
    return 0


PRUNE = Command("container prune", "container prune [OPTIONS]", "Remove all stopped containers", _prune, [
    Flag("filter", "", "list", help='Provide filter values (e.g. "until=<timestamp>")', metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
], max_args=0)
