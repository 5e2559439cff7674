"""`volume create/ls/inspect/rm/prune`: the volume commands, with docker's output and wording."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.transport import quote

VOLUME_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
                  "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "CreatedAt": "CREATED"}
VOLUME_DEFAULT = "table {{.Driver}}\t{{.Name}}"
PRUNE_WARNING = "WARNING! This will remove anonymous local volumes not used by at least one container."
PRUNE_ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container."


class VolumeContext:
    """One `volume ls` row; each method is a --format field."""

    go_type = "*formatter.volumeContext"

    def __init__(self, volume: dict[str, Any]) -> None:
        self._v = volume

    def Name(self) -> str:
        return self._v.get("Name", "")

    def Driver(self) -> str:
        return self._v.get("Driver", "")

    def Scope(self) -> str:
        return self._v.get("Scope", "")

    def Mountpoint(self) -> str:
        return self._v.get("Mountpoint", "")

    def CreatedAt(self) -> str:
        return self._v.get("CreatedAt", "")

    def Labels(self) -> str:
        """k=v pairs joined by commas."""
        return ",".join(f"{k}={v}" for k, v in (self._v.get("Labels") or {}).items())

    def Label(self, name: str) -> str:
        return (self._v.get("Labels") or {}).get(name, "")

    def Links(self) -> str:
        """Containers using the volume (N/A outside `system df`)."""
        usage = self._v.get("UsageData") or {}
        return "N/A" if "RefCount" not in usage else str(usage["RefCount"])

    def Size(self) -> str:
        from dockyard.util.humanize import human_size
        usage = self._v.get("UsageData") or {}
        return "N/A" if usage.get("Size", -1) < 0 else human_size(usage["Size"])

    def to_json(self) -> dict[str, Any]:
        """docker volume ls --format json."""
        keys = ("Driver", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size")
        return {k: getattr(self, k)() for k in keys} | {"Availability": "N/A", "Group": "", "Status": "N/A"}


def _key_values(items: list[str], flag: str) -> dict[str, str]:
    """--label/--opt k=v pairs (a bare key means an empty value)."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise CommandError(f'invalid argument "{item}" for "{flag}" flag')
        out[key] = value
    return out


def _create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker volume create [NAME]."""
    if args and o["name"]:
        raise CommandError("conflicting options: cannot specify a volume-name through both --name and as a "
                           "positional arg")
    body = {"Name": args[0] if args else o["name"] or "", "Driver": o["driver"],
            "DriverOpts": _key_values(o["opt"], "--opt"), "Labels": _key_values(o["label"], "--label")}
    ctx.out(ctx.api.post("/volumes/create", None, body)["Name"] + "\n")
    return 0


def _ls(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker volume ls."""
    from dockyard.cli.formatters import filters_json
    from dockyard.cli.output import render
    found = ctx.api.get("/volumes", {"filters": filters_json(o["filter"])}) or {}
    rows = sorted(found.get("Volumes") or [], key=lambda v: v["Name"])
    fmt = "{{.Name}}" if o["quiet"] else o["format"] or ""
    ctx.out(render(fmt, [VolumeContext(v) for v in rows], VOLUME_HEADERS, VOLUME_DEFAULT))
    return 0


def _inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker volume inspect (JSON, or one template line per volume)."""
    import functools
    from dockyard.cli.output import print_inspected
    return print_inspected(ctx, o["format"], [functools.partial(ctx.api.get, f"/volumes/{quote(name)}")
                                              for name in args])


def _rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker volume rm [-f] VOLUME..."""
    from dockyard.cli.containers import for_each

    def remove(name: str) -> str:
        ctx.api.delete(f"/volumes/{quote(name)}", {"force": o["force"] or None})
        return name
    return for_each(ctx, args, remove)


def _prune(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker volume prune [-a] [--filter]."""
    from dockyard.cli.containers import confirm, print_reclaimed
    if not o["force"] and not confirm(ctx, PRUNE_ALL_WARNING if o["all"] else PRUNE_WARNING):
        return 0
    report = prune_volumes(ctx, o["filter"], o["all"])
    print_reclaimed(ctx, "Deleted Volumes", report.get("VolumesDeleted") or [], report.get("SpaceReclaimed") or 0)
    return 0


def prune_volumes(ctx: Context, filters: list[str], all_: bool) -> dict[str, Any]:
    """POST /volumes/prune; `all_` adds docker's all=true filter."""
    from dockyard.cli.formatters import filters_json
    return ctx.api.post("/volumes/prune", {"filters": filters_json(filters + (["all=true"] if all_ else []))}) or {}


FILTER = Flag("filter", "f", "list", help="Provide filter values (e.g. \"dangling=true\")", metavar="filter")
CREATE = Command("volume create", "volume create [OPTIONS] [VOLUME]", "Create a volume", _create, [
    Flag("driver", "d", "string", "local", help="Specify volume driver name"),
    Flag("label", "", "list", help="Set metadata for a volume"),
    Flag("name", "", "string", help="Specify volume name"),
    Flag("opt", "o", "list", help="Set driver specific options"),
], max_args=1)
LS = Command("volume ls", "volume ls [OPTIONS]", "List volumes", _ls, [
    Flag("cluster", "", help="Display only cluster volumes, and use cluster volume list formatting"),
    FILTER,
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("quiet", "q", help="Only display volume names"),
], max_args=0, aliases="docker volume ls, docker volume list")
INSPECT = Command("volume inspect", "volume inspect [OPTIONS] VOLUME [VOLUME...]",
                  "Display detailed information on one or more volumes", _inspect,
                  [Flag("format", "f", "string", help="Format output using a custom template")], min_args=1)
RM = Command("volume rm", "volume rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", _rm,
             [Flag("force", "f", help="Force the removal of one or more volumes")], min_args=1,
             aliases="docker volume rm, docker volume remove")
PRUNE = Command("volume prune", "volume prune [OPTIONS]", "Remove unused local volumes", _prune, [
    Flag("all", "a", help="Remove all unused volumes, not just anonymous ones"),
    Flag("filter", "", "list", help='Provide filter values (e.g. "label=<label>")', metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
], max_args=0)
