"""docker commit, diff, export and port."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError, Context, save_archive
from dockyard.cli.flags import Command, Flag

KINDS = {0: "C", 1: "A", 2: "D"}


def _path(name: str, verb: str) -> str:
    from dockyard.client.transport import quote
    return f"/containers/{quote(name)}/{verb}"


def _commit(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker commit CONTAINER [REPOSITORY[:TAG]]."""
    query: dict[str, Any] = {"container": args[0], "comment": o["message"] or None, "author": o["author"] or None,
                             "changes": o["change"] or None, "pause": "true" if o["pause"] else "false"}
    if len(args) > 1:
        from dockyard.cli.run import split_reference
        query["repo"], query["tag"] = split_reference(args[1])
    result = ctx.api.post("/commit", query)
    ctx.out(result["Id"] + "\n")
    return 0


COMMIT = Command("commit", "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                 "Create a new image from a container's changes", _commit, [
                     Flag("author", "a", "string", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
                     Flag("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
                     Flag("message", "m", "string", help="Commit message"),
                     Flag("pause", "p", "bool", True, help="Pause container during commit"),
                 ], min_args=1, max_args=2, aliases="dockyard container commit, dockyard commit")


def _diff(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker diff: one "K /path" line per change."""
    changes = ctx.api.get(_path(args[0], "changes")) or []
    ctx.out("".join(f"{KINDS.get(c['Kind'], '?')} {c['Path']}\n" for c in changes))
    return 0


DIFF = Command("diff", "diff CONTAINER", "Inspect changes to files or directories on a container's filesystem",
               _diff, [], min_args=1, max_args=1, aliases="dockyard container diff, dockyard diff")


def _export(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker export -o FILE | > stdout (refusing a terminal)."""
    target = o["output"]
    resp = ctx.api.request("GET", _path(args[0], "export"))
    save_archive(resp, target)
    return 0


EXPORT = Command("export", "export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive",
                 _export, [Flag("output", "o", "string", help="Write to a file, instead of STDOUT")],
                 min_args=1, max_args=1, aliases="dockyard container export, dockyard export")


def port_lines(ports: dict[str, Any], wanted: str | None, container: str) -> list[str]:
    """`docker port` lines: "80/tcp -> 0.0.0.0:8080" for all, "0.0.0.0:8080" for one asked port."""
    if wanted is not None:
        key = wanted if "/" in wanted else f"{wanted}/tcp"
        bindings = ports.get(key)
        if not bindings:
            raise CommandError(f"Error: No public port '{wanted}' published for {container}")
        return [_host_port(b) for b in bindings]
    lines = []
    for key in sorted(ports, key=_port_order):
        lines += [f"{key} -> {_host_port(b)}" for b in ports[key] or []]
    return lines


def _host_port(binding: dict[str, str]) -> str:
    """host:port, with brackets around an IPv6 address."""
    ip = binding.get("HostIp") or "0.0.0.0"
    return f"[{ip}]:{binding.get('HostPort', '')}" if ":" in ip else f"{ip}:{binding.get('HostPort', '')}"


def _port_order(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return (int(port) if port.isdigit() else 0, proto)


def _port(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker port CONTAINER [PRIVATE_PORT[/PROTO]]."""
    info = ctx.api.get(_path(args[0], "json"))
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    lines = port_lines(ports, args[1] if len(args) > 1 else None, args[0])
    ctx.out("".join(line + "\n" for line in lines))
    return 0


PORT = Command("port", "port CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container", _port, [],
               min_args=1, max_args=2, aliases="dockyard container port, dockyard port")
