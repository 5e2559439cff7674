"""`system df [-v]` and `system prune`: disk usage by type and pruning everything unused, as docker prints them."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.api import APIError


def _reclaim(size: int, total: int, percent: bool = True) -> str:
    """"1.2MB (50%)" as docker's RECLAIMABLE column."""
    from dockyard.util.humanize import human_size
    if not percent:
        return human_size(size)
    return f"{human_size(size)} ({int(100 * size / total) if total else 0}%)"


def summary_rows(df: dict[str, Any]) -> list[list[str]]:
    """TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE for images, containers, local volumes and build cache."""
    from dockyard.util.humanize import human_size
    images = df.get("Images") or []
    active_images = [i for i in images if i.get("Containers", 0) > 0]
    layers = df.get("LayersSize") or 0
    used = sum(i.get("Size", 0) for i in active_images)
    containers = df.get("Containers") or []
    rw = sum(c.get("SizeRw") or 0 for c in containers)
    idle_rw = sum(c.get("SizeRw") or 0 for c in containers if c.get("State") != "running")
    volumes = df.get("Volumes") or []
    vol_size = sum(max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in volumes)
    idle_vol = sum(max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in volumes
                   if not (v.get("UsageData") or {}).get("RefCount"))
    cache = df.get("BuildCache") or []
    cache_size = sum(b.get("Size", 0) for b in cache)
    return [
        ["Images", str(len(images)), str(len(active_images)), human_size(layers),
         _reclaim(max(0, layers - used), layers)],
        ["Containers", str(len(containers)), str(sum(1 for c in containers if c.get("State") == "running")),
         human_size(rw), _reclaim(idle_rw, rw)],
        ["Local Volumes", str(len(volumes)), str(sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount"))),
         human_size(vol_size), _reclaim(idle_vol, vol_size)],
        ["Build Cache", str(len(cache)), str(sum(1 for b in cache if b.get("InUse"))), human_size(cache_size),
         _reclaim(sum(b.get("Size", 0) for b in cache if not b.get("InUse")), cache_size, percent=False)],
    ]


def _table(rows: list[list[str]]) -> str:
    from dockyard.cli.output import tabwrite
    return tabwrite("".join("\t".join(r) + "\n" for r in rows))


def _verbose(df: dict[str, Any]) -> str:
    """The -v report: one table per type."""
    from dockyard.cli.formatters import ContainerContext, image_rows
    from dockyard.cli.volumes import VolumeContext
    from dockyard.util.humanize import human_size
    images = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
    for row in image_rows(df.get("Images") or [], False, True):
        images.append([row.Repository(), row.Tag(), row.ID(), row.CreatedSince(), row.Size(), row.SharedSize(),
                       row.UniqueSize(), row.Containers()])
    containers = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]]
    for c in df.get("Containers") or []:
        ctx = ContainerContext(c, True)
        local = sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")
        containers.append([ctx.ID(), ctx.Image(), ctx.Command(), str(local), human_size(c.get("SizeRw") or 0),
                           ctx.RunningFor(), ctx.Status(), ctx.Names()])
    volumes = [["VOLUME NAME", "LINKS", "SIZE"]]
    for v in df.get("Volumes") or []:
        volume = VolumeContext(v)
        volumes.append([volume.Name(), volume.Links(), volume.Size()])
    cache = df.get("BuildCache") or []
    builds = [["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]]
    for b in cache:
        builds.append([b.get("ID", ""), b.get("Type", ""), human_size(b.get("Size", 0)), b.get("CreatedAt", ""),
                       b.get("LastUsedAt", ""), str(b.get("UsageCount", 0)), str(b.get("Shared", False)).lower()])
    return (f"Images space usage:\n\n{_table(images)}\nContainers space usage:\n\n{_table(containers)}\n"
            f"Local Volumes space usage:\n\n{_table(volumes)}\n"
            f"Build cache usage: {human_size(sum(b.get('Size', 0) for b in cache))}\n\n{_table(builds)}")


def _df(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker system df [-v] [--format]."""
    df = ctx.api.get("/system/df") or {}
    if o["verbose"]:
        ctx.out(_verbose(df))
        return 0
    rows = summary_rows(df)
    if o["format"]:
        from dockyard.cli.output import render
        headers = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
                   "Reclaimable": "RECLAIMABLE"}
        ctx.out(render(o["format"], [_DfRow(r) for r in rows], headers, ""))
        return 0
    ctx.out(_table([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]] + rows))
    return 0


class _DfRow:
    """One `system df` row for --format."""

    go_type = "*formatter.diskUsageContext"

    def __init__(self, row: list[str]) -> None:
        self._r = row

    def Type(self) -> str:
        return self._r[0]

    def TotalCount(self) -> str:
        return self._r[1]

    def Active(self) -> str:
        return self._r[2]

    def Size(self) -> str:
        return self._r[3]

    def Reclaimable(self) -> str:
        return self._r[4]

    def to_json(self) -> dict[str, str]:
        return {k: getattr(self, k)() for k in ("Active", "Reclaimable", "Size", "TotalCount", "Type")}


def _warning(o: dict[str, Any]) -> str:
    """Docker's list of what `system prune` removes."""
    lines = ["all stopped containers", "all networks not used by at least one container"]
    if o["volumes"]:
        lines.append("all anonymous volumes not used by at least one container")
    lines.append("all images without at least one container associated to them" if o["all"] else
                 "all dangling images")
    lines.append("all build cache" if o["all"] else "unused build cache")
    return "WARNING! This will remove:\n" + "".join(f"  - {line}\n" for line in lines)


def _optional(ctx: Context, path: str, query: dict[str, Any]) -> dict[str, Any]:
    """POST a prune endpoint a daemon may not have (networks, build cache): 404 means nothing to prune."""
    try:
        return ctx.api.post(path, query) or {}
    except APIError as exc:
        if exc.status == 404 and "page not found" in exc.message:
            return {}
        raise


def _prune(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker system prune [-a] [--volumes] [--filter until=...|label=...]."""
    from dockyard.cli.containers import confirm
    from dockyard.cli.formatters import filters_json
    from dockyard.cli.volumes import prune_volumes
    from dockyard.util.humanize import human_size
    if o["volumes"] and any(f.partition("=")[0].strip().lower() == "until" for f in o["filter"]):
        raise CommandError('ERROR: The "until" filter is not supported with "--volumes"')
    if not o["force"] and not confirm(ctx, _warning(o)):
        return 0
    filters = filters_json(o["filter"])
    reclaimed = 0
    report = ctx.api.post("/containers/prune", {"filters": filters}) or {}
    reclaimed += report.get("SpaceReclaimed") or 0
    _section(ctx, "Deleted Containers", report.get("ContainersDeleted"))
    report = _optional(ctx, "/networks/prune", {"filters": filters})
    _section(ctx, "Deleted Networks", report.get("NetworksDeleted"))
    if o["volumes"]:
        report = prune_volumes(ctx, o["filter"], False)
        reclaimed += report.get("SpaceReclaimed") or 0
        _section(ctx, "Deleted Volumes", report.get("VolumesDeleted"))
    image_filters = filters_json(o["filter"] + ["dangling=false" if o["all"] else "dangling=true"])
    report = ctx.api.post("/images/prune", {"filters": image_filters}) or {}
    reclaimed += report.get("SpaceReclaimed") or 0
    deleted = [f"untagged: {d['Untagged']}" if d.get("Untagged") else f"deleted: {d.get('Deleted', '')}"
               for d in report.get("ImagesDeleted") or []]
    _section(ctx, "Deleted Images", deleted)
    report = _optional(ctx, "/build/prune", {"all": o["all"] or None, "filters": filters})
    reclaimed += report.get("SpaceReclaimed") or 0
    _section(ctx, "Deleted build cache objects", report.get("CachesDeleted"))
    ctx.out(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def _section(ctx: Context, title: str, items: list[str] | None) -> None:
    if items:
        ctx.out(f"{title}:\n" + "".join(i + "\n" for i in items) + "\n")


DF = Command("system df", "system df [OPTIONS]", "Show docker disk usage", _df, [
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("verbose", "v", help="Show detailed information on space usage"),
], max_args=0)
PRUNE = Command("system prune", "system prune [OPTIONS]", "Remove unused data", _prune, [
    Flag("all", "a", help="Remove all unused images not just dangling ones"),
    Flag("filter", "", "list", help='Provide filter values (e.g. "label=<key>=<value>")', metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
    Flag("volumes", "", help="Prune anonymous volumes"),
], max_args=0)
