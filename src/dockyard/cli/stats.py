"""docker stats: CPU, memory, network and block I/O, pids per container, once (--no-stream) or live."""

from __future__ import annotations

import sys
import time
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.api import APIError

STATS_DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                 "\t{{.PIDs}}")
STATS_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
                 "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                 "PIDs": "PIDS"}
_CLEAR = "\033[2J\033[H"


def cpu_percent(stats: dict[str, Any], previous: dict[str, Any] | None = None) -> float:
    """docker's calculateCPUPercentUnix against precpu_stats (or an earlier reading)."""
    cpu = stats.get("cpu_stats") or {}
    pre = (previous or {}).get("cpu_stats") if previous is not None else stats.get("precpu_stats")
    pre = pre or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * cpus * 100.0
    return 0.0


def memory_usage(stats: dict[str, Any]) -> float:
    """Usage without the inactive page cache (total_inactive_file on v1, inactive_file on v2)."""
    mem = stats.get("memory_stats") or {}
    usage = mem.get("usage", 0)
    extra = mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in extra and extra[key] < usage:
            return usage - extra[key]
    return usage


def io_totals(stats: dict[str, Any]) -> tuple[int, int, int, int]:
    """(rx, tx, block read, block write) bytes."""
    rx = sum(n.get("rx_bytes", 0) for n in (stats.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (stats.get("networks") or {}).values())
    entries = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(e["value"] for e in entries if e.get("op", "").lower() == "read")
    write = sum(e["value"] for e in entries if e.get("op", "").lower() == "write")
    return rx, tx, read, write


class StatsContext:
    """One `stats` row; each method is a --format field."""

    go_type = "*formatter.statsContext"

    def __init__(self, name: str, stats: dict[str, Any] | None, cpu: float, trunc: bool) -> None:
        self._name = name
        self._s = stats
        self._cpu = cpu
        self._trunc = trunc

    def Container(self) -> str:
        """The name or id the user gave."""
        return self._name

    def ID(self) -> str:
        """Container id."""
        ident = (self._s or {}).get("id", self._name)
        return ident[:12] if self._trunc else ident

    def Name(self) -> str:
        """Container name without "/"."""
        return ((self._s or {}).get("name") or "--").lstrip("/")

    def CPUPerc(self) -> str:
        """CPU use in percent of one CPU."""
        return "--" if self._s is None else f"{self._cpu:.2f}%"

    def MemUsage(self) -> str:
        """Usage / limit."""
        from dockyard.util.humanize import bytes_size
        if self._s is None:
            return "-- / --"
        limit = (self._s.get("memory_stats") or {}).get("limit", 0)
        return f"{bytes_size(memory_usage(self._s))} / {bytes_size(limit)}"

    def MemPerc(self) -> str:
        """Usage in percent of the limit."""
        if self._s is None:
            return "--"
        limit = (self._s.get("memory_stats") or {}).get("limit", 0)
        return f"{memory_usage(self._s) / limit * 100:.2f}%" if limit else "0.00%"

    def NetIO(self) -> str:
        """Received / sent."""
        from dockyard.util.humanize import human_size_precision
        if self._s is None:
            return "--"
        rx, tx, _, _ = io_totals(self._s)
        return f"{human_size_precision(rx, 3)} / {human_size_precision(tx, 3)}"

    def BlockIO(self) -> str:
        """Read / written."""
        from dockyard.util.humanize import human_size_precision
        if self._s is None:
            return "--"
        _, _, read, write = io_totals(self._s)
        return f"{human_size_precision(read, 3)} / {human_size_precision(write, 3)}"

    def PIDs(self) -> str:
        """Processes and threads."""
        return "--" if self._s is None else str((self._s.get("pids_stats") or {}).get("current", 0))


def _targets(ctx: Context, o: dict[str, Any], args: list[str]) -> list[str]:
    """The named containers, or every running one (every one with --all)."""
    if args:
        return list(args)
    return [c["Id"] for c in ctx.api.get("/containers/json", {"all": o["all"] or None}) or []]


def _fetch(ctx: Context, name: str, one_shot: bool) -> dict[str, Any] | None:
    """One stats reading; None when the container is gone or not running."""
    from dockyard.cli.context import daemon_error
    from dockyard.client.transport import quote
    try:
        stats = ctx.api.get(f"/containers/{quote(name)}/stats", {"stream": "false",
                                                                 "one-shot": "true" if one_shot else None})
    except APIError as exc:
        ctx.err(daemon_error(exc) + "\n")
        return None
    return None if stats.get("read", "").startswith("0001-") else stats


def _table(o: dict[str, Any], rows: list[StatsContext]) -> str:
    """The rows with --format or docker's default table."""
    from dockyard.cli.output import render
    return render(o["format"] or "", rows, STATS_HEADERS, STATS_DEFAULT)


def _stats(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker stats."""
    from concurrent.futures import ThreadPoolExecutor
    names = _targets(ctx, o, args)
    trunc = not o["no_trunc"]
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(names)))) as pool:
        if o["no_stream"]:
            readings = list(pool.map(lambda n: _fetch(ctx, n, False), names))
            rows = [StatsContext(n, s, cpu_percent(s) if s else 0.0, trunc) for n, s in zip(names, readings)]
            ctx.out(_table(o, rows))
            return 0
        previous: dict[str, dict[str, Any] | None] = {}
        while True:
            if not args:
                names = _targets(ctx, o, args)
            readings = list(pool.map(lambda n: _fetch(ctx, n, True), names))
            rows = []
            for name, reading in zip(names, readings):
                before = previous.get(name)
                rows.append(StatsContext(name, reading, cpu_percent(reading, before) if reading and before else 0.0,
                                         trunc))
                previous[name] = reading
            ctx.out((_CLEAR if sys.stdout.isatty() else "") + _table(o, rows))
            sys.stdout.flush()
            time.sleep(1.0)


STATS = Command("stats", "stats [OPTIONS] [CONTAINER...]",
                "Display a live stream of container(s) resource usage statistics", _stats, [
                    Flag("all", "a", help="Show all containers (default shows just running)"),
                    Flag("format", "", "string", help="Format output using a custom template"),
                    Flag("no-stream", "", help="Disable streaming stats and only pull the first result"),
                    Flag("no-trunc", "", help="Don't truncate output"),
                ], aliases="dockyard container stats, dockyard stats")
