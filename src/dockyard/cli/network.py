"""`dockyard network ...`: create, ls, inspect, rm, connect, disconnect, prune."""

from __future__ import annotations

import json
from typing import Any

from dockyard.cli.containers import confirm, for_each
from dockyard.cli.context import Context
from dockyard.cli.flags import Command, Flag
from dockyard.cli.output import render
from dockyard.client.transport import quote


class NetworkRow:
    """One line of `network ls`."""

    def __init__(self, n: dict[str, Any], trunc: bool) -> None:
        self.n, self.trunc = n, trunc

    def ID(self) -> str:
        return self.n["Id"][:12] if self.trunc else self.n["Id"]

    def Name(self) -> str:
        return self.n["Name"]

    def Driver(self) -> str:
        return self.n["Driver"]

    def Scope(self) -> str:
        return self.n["Scope"]


def _kv(items: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (item.partition("=") for item in items)}


def _create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker network create."""
    pool = {k: v for k, v in (("Subnet", o["subnet"]), ("Gateway", o["gateway"]), ("IPRange", o["ip_range"])) if v}
    body = {"Name": args[0], "Driver": o["driver"] or "bridge", "Internal": o["internal"],
            "Attachable": o["attachable"], "Labels": _kv(o["label"]), "Options": _kv(o["opt"]),
            "IPAM": {"Driver": "default", "Config": [pool] if pool else []}}
    ctx.out(ctx.api.post("/networks/create", body=body)["Id"] + "\n")
    return 0


def _ls(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker network ls."""
    from dockyard.cli.formatters import filters_json
    networks = sorted(ctx.api.get("/networks", {"filters": filters_json(o["filter"])}), key=lambda n: n["Name"])
    rows = [NetworkRow(n, not o["no_trunc"]) for n in networks]
    fmt = "{{.ID}}" if o["quiet"] else o["format"] or ""
    header = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE"}
    ctx.out(render(fmt, rows, header, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"))
    return 0


def _inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker network inspect."""
    from dockyard.util import gotemplate
    found = [ctx.api.get(f"/networks/{quote(name)}") for name in args]
    if o["format"]:
        tmpl = gotemplate.parse(o["format"])
        ctx.out("".join(tmpl.execute(n) + "\n" for n in found))
    else:
        ctx.out(json.dumps(found, indent=4) + "\n")
    return 0


def _rm(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker network rm."""
    def act(name: str) -> str:
        ctx.api.delete(f"/networks/{quote(name)}")
        return name
    return for_each(ctx, args, act)


def _connect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker network connect."""
    config: dict[str, Any] = {"Aliases": o["alias"] or None}
    if o["ip"]:
        config["IPAMConfig"] = {"IPv4Address": o["ip"]}
    ctx.api.post(f"/networks/{quote(args[0])}/connect", body={"Container": args[1], "EndpointConfig": config})
    return 0


def _disconnect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker network disconnect."""
    ctx.api.post(f"/networks/{quote(args[0])}/disconnect", body={"Container": args[1], "Force": o["force"]})
    return 0


def _prune(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker network prune."""
    from dockyard.cli.formatters import filters_json
    if not o["force"] and not confirm(ctx, "WARNING! This will remove all custom networks not used by at least "
                                            "one container."):
        return 0
    report = ctx.api.post("/networks/prune", {"filters": filters_json(o["filter"])}) or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        ctx.out("Deleted Networks:\n" + "".join(f"{n}\n" for n in deleted))
    return 0


CREATE = Command("network create", "network create [OPTIONS] NETWORK", "Create a network", _create, [
    Flag("attachable", "", help="Enable manual container attachment"),
    Flag("driver", "d", "string", "bridge", help="Driver to manage the Network"),
    Flag("gateway", "", "string", help="IPv4 or IPv6 Gateway for the master subnet"),
    Flag("internal", "", help="Restrict external access to the network"),
    Flag("ip-range", "", "string", help="Allocate container ip from a sub-range"),
    Flag("label", "", "list", help="Set metadata on a network"),
    Flag("opt", "o", "list", help="Set driver specific options"),
    Flag("subnet", "", "string", help="Subnet in CIDR format that represents a network segment"),
], min_args=1, max_args=1)
LS = Command("network ls", "network ls [OPTIONS]", "List networks", _ls, [
    Flag("filter", "f", "list", help='Provide filter values (e.g. "driver=bridge")'),
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("no-trunc", "", help="Do not truncate the output"),
    Flag("quiet", "q", help="Only display network IDs"),
], max_args=0, aliases="dockyard network ls, dockyard network list")
INSPECT = Command("network inspect", "network inspect [OPTIONS] NETWORK [NETWORK...]",
                  "Display detailed information on one or more networks", _inspect,
                  [Flag("format", "f", "string", help="Format output using a custom template")], min_args=1)
RM = Command("network rm", "network rm NETWORK [NETWORK...]", "Remove one or more networks", _rm, min_args=1,
             aliases="dockyard network rm, dockyard network remove")
CONNECT = Command("network connect", "network connect [OPTIONS] NETWORK CONTAINER", "Connect a container to a network",
                  _connect, [Flag("alias", "", "list", help="Add network-scoped alias for the container"),
                             Flag("ip", "", "string", help="IPv4 address (e.g., 172.30.100.104)")],
                  min_args=2, max_args=2)
DISCONNECT = Command("network disconnect", "network disconnect [OPTIONS] NETWORK CONTAINER",
                     "Disconnect a container from a network", _disconnect,
                     [Flag("force", "f", help="Force the container to disconnect from a network")],
                     min_args=2, max_args=2)
PRUNE = Command("network prune", "network prune [OPTIONS]", "Remove all unused networks", _prune, [
    Flag("filter", "", "list", help='Provide filter values (e.g. "until=<timestamp>")'),
    Flag("force", "f", help="Do not prompt for confirmation"),
], max_args=0)
