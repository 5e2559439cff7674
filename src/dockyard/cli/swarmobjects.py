"""`node`, `secret` and `config` commands: list, inspect, update, promote/demote, create and remove, with docker's
flags, columns and exit codes."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.transport import quote

NODE_HEADERS = {"ID": "ID", "Self": "", "Hostname": "HOSTNAME", "Status": "STATUS", "Availability": "AVAILABILITY",
                "ManagerStatus": "MANAGER STATUS", "EngineVersion": "ENGINE VERSION", "TLSStatus": "TLS STATUS"}
NODE_DEFAULT = ("table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t"
                "{{.ManagerStatus}}\t{{.EngineVersion}}")
OBJECT_HEADERS = {"ID": "ID", "Name": "NAME", "Driver": "DRIVER", "CreatedAt": "CREATED", "UpdatedAt": "UPDATED",
                  "Labels": "LABELS"}
SECRET_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"
CONFIG_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"


def pretty(word: str) -> str:
    """The CLI's PrettyPrint: first letter upper case, the rest lower case (one letter alone: lower case)."""
    return word.lower() if len(word) < 2 else word[:1].upper() + word[1:].lower()


class NodeContext:
    """One `node ls` row (the node, and this node's id for the `*` column); each method is a --format field."""

    go_type = "*node.nodeContext"

    def __init__(self, node: dict[str, Any], self_id: str) -> None:
        self._n, self._self = node, self_id

    def Self(self) -> bool:
        return self._n["ID"] == self._self

    def ID(self) -> str:
        return self._n["ID"]

    def Hostname(self) -> str:
        return self._n.get("Description", {}).get("Hostname", "")

    def Status(self) -> str:
        return pretty(self._n.get("Status", {}).get("State", ""))

    def Availability(self) -> str:
        return pretty(self._n.get("Spec", {}).get("Availability", ""))

    def ManagerStatus(self) -> str:
        status = self._n.get("ManagerStatus")
        if not status:
            return ""
        return "Leader" if status.get("Leader") else pretty(status.get("Reachability", ""))

    def EngineVersion(self) -> str:
        return self._n.get("Description", {}).get("Engine", {}).get("EngineVersion", "")

    def TLSStatus(self) -> str:
        return "Unknown"

    def to_json(self) -> dict[str, Any]:
        """docker node ls --format json."""
        keys = ("Availability", "EngineVersion", "Hostname", "ID", "ManagerStatus", "Self", "Status", "TLSStatus")
        return {k: getattr(self, k)() for k in keys}


class ObjectContext:
    """One `secret ls` / `config ls` row."""

    go_type = "*formatter.secretContext"

    def __init__(self, obj: dict[str, Any]) -> None:
        self._o = obj

    def ID(self) -> str:
        return self._o["ID"]

    def Name(self) -> str:
        return self._o["Spec"].get("Name", "")

    def Driver(self) -> str:
        return (self._o["Spec"].get("Driver") or {}).get("Name", "")

    def CreatedAt(self) -> str:
        return _ago(self._o["CreatedAt"])

    def UpdatedAt(self) -> str:
        return _ago(self._o["UpdatedAt"])

    def Labels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in (self._o["Spec"].get("Labels") or {}).items())

    def Label(self, name: str) -> str:
        return (self._o["Spec"].get("Labels") or {}).get(name, "")

    def to_json(self) -> dict[str, Any]:
        """docker secret ls --format json."""
        return {k: getattr(self, k)() for k in ("CreatedAt", "Driver", "ID", "Labels", "Name", "UpdatedAt")}


def _ago(rfc3339: str) -> str:
    """"5 minutes ago"."""
    from dockyard.cli.formatters import since
    from dockyard.util.timeutil import parse_rfc3339
    return since(parse_rfc3339(rfc3339))


def _self_id(ctx: Context) -> str:
    """This node's id (for `self` and the `*` column)."""
    return ctx.api.get("/info")["Swarm"]["NodeID"]


def _node_ref(ctx: Context, ref: str) -> str:
    """`self` resolved as the CLI does."""
    return _self_id(ctx) if ref == "self" else ref


def _list(ctx: Context, o: dict[str, Any], path: str, rows: Callable[[list[dict[str, Any]]], list[Any]],
          default: str, headers: dict[str, str]) -> int:
    """A `ls` command: filters, quiet, format."""
    from dockyard.cli.formatters import filters_json
    from dockyard.cli.output import render
    found = ctx.api.get(path, {"filters": filters_json(o["filter"])}) or []
    fmt = "{{.ID}}" if o["quiet"] else o["format"] or ""
    ctx.out(render(fmt, rows(found), headers, default))
    return 0


def _inspect(ctx: Context, o: dict[str, Any], paths: list[str], kind: str) -> int:
    """An `inspect` command; `--pretty` (which wins over --format, as docker's) prints the human-friendly form."""
    import functools
    from dockyard.cli.output import print_inspected
    if o.get("pretty"):
        from dockyard.cli import pretty
        printer = {"node": pretty.node, "secret": pretty.secret, "config": pretty.config}[kind]
        ctx.out("".join(printer(ctx.api.get(path)) for path in paths))
        return 0
    return print_inspected(ctx, o["format"], [functools.partial(ctx.api.get, path) for path in paths])


def remove_each(ctx: Context, kind: str, args: list[str], query: dict[str, Any] | None = None) -> int:
    """`rm`: each name printed once removed; errors to stderr, exit 1."""
    from dockyard.cli.containers import for_each

    def remove(name: str) -> str:
        ctx.api.delete(f"/{kind}/{quote(name)}", query)
        return name
    return for_each(ctx, args, remove)


# --- node -----------------------------------------------------------------------------------------------------

def _node_ls(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker node ls."""
    self_id = _self_id(ctx)

    def rows(nodes: list[dict[str, Any]]) -> list[Any]:
        ordered = sorted(nodes, key=lambda n: n.get("Description", {}).get("Hostname", ""))
        return [NodeContext(n, self_id) for n in ordered]
    return _list(ctx, o, "/nodes", rows, NODE_DEFAULT, NODE_HEADERS)


def _node_inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker node inspect [self|NODE...]."""
    return _inspect(ctx, o, [f"/nodes/{quote(_node_ref(ctx, ref))}" for ref in args], "node")


def _update_node(ctx: Context, ref: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Inspect a node, change its spec, send it back under its version; the node as it was."""
    node = ctx.api.get(f"/nodes/{quote(_node_ref(ctx, ref))}")
    spec = dict(node["Spec"])
    change(spec)
    ctx.api.post(f"/nodes/{quote(node['ID'])}/update", {"version": node["Version"]["Index"]}, spec)
    return node


def _node_update(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker node update [--availability] [--role] [--label-add] [--label-rm] NODE."""
    def change(spec: dict[str, Any]) -> None:
        if o["availability"]:
            spec["Availability"] = o["availability"]
        if o["role"]:
            spec["Role"] = o["role"]
        labels = dict(spec.get("Labels") or {})
        for item in o["label_add"]:
            key, _, value = item.partition("=")
            labels[key] = value
        for key in o["label_rm"]:
            if key not in labels:
                raise CommandError(f"key {key} doesn't exist in node's labels")
            del labels[key]
        spec["Labels"] = labels
    _update_node(ctx, args[0], change)
    ctx.out(args[0] + "\n")
    return 0


def _role_change(role: str, done: str, already: str) -> Callable[[Context, dict[str, Any], list[str]], int]:
    """docker node promote/demote."""
    def run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
        from dockyard.cli.context import daemon_error
        from dockyard.client.api import APIError
        errors = []
        for ref in args:
            try:
                node = ctx.api.get(f"/nodes/{quote(_node_ref(ctx, ref))}")
                if node["Spec"].get("Role") == role:
                    ctx.out(already.format(node["ID"]))
                    continue
                _update_node(ctx, ref, lambda spec: spec.__setitem__("Role", role))
                ctx.out(done.format(ref))
            except APIError as exc:
                errors.append(daemon_error(exc))
        if errors:
            raise CommandError("\n".join(errors))
        return 0
    return run


def _node_rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker node rm [-f] NODE..."""
    return remove_each(ctx, "nodes", args, {"force": "1" if o["force"] else None})


# --- secret / config ------------------------------------------------------------------------------------------

def _read_data(ctx: Context, kind: str, source: str | None) -> bytes:
    """The object's data from a file or stdin ("-"), refused when empty as the CLI does."""
    import sys
    if source is None:
        raise CommandError(f"{kind} file is required")
    if source == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise CommandError("error reading from STDIN: data is empty")
        return data
    try:
        with open(source, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise CommandError(f"error reading from {source}: {exc}") from None
    if not data:
        raise CommandError(f"error reading from {source}: data is empty")
    return data


def _creator(kind: str) -> Callable[[Context, dict[str, Any], list[str]], int]:
    """docker secret create / config create NAME [FILE|-]."""
    def run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
        import base64
        body: dict[str, Any] = {"Name": args[0], "Labels": dict(item.partition("=")[::2] for item in o["label"])}
        driver = o.get("driver")
        if driver:
            if len(args) > 1:
                raise CommandError("when using secret driver secret data must be empty")
            body["Driver"] = {"Name": driver}
        else:
            body["Data"] = base64.b64encode(_read_data(ctx, kind, args[1] if len(args) > 1 else None)).decode()
        if o["template_driver"]:
            body["Templating"] = {"Name": o["template_driver"]}
        ctx.out(ctx.api.post(f"/{kind}s/create", None, body)["ID"] + "\n")
        return 0
    return run


def _lister(kind: str, default: str) -> Callable[[Context, dict[str, Any], list[str]], int]:
    """docker secret ls / config ls."""
    def run(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
        def rows(found: list[dict[str, Any]]) -> list[Any]:
            return [ObjectContext(x) for x in sorted(found, key=lambda x: x["Spec"].get("Name", ""))]
        return _list(ctx, o, f"/{kind}s", rows, default, OBJECT_HEADERS)
    return run


def _inspector(kind: str) -> Callable[[Context, dict[str, Any], list[str]], int]:
    """docker secret inspect / config inspect."""
    def run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
        return _inspect(ctx, o, [f"/{kind}s/{quote(ref)}" for ref in args], kind)
    return run


def _remover(kind: str) -> Callable[[Context, dict[str, Any], list[str]], int]:
    """docker secret rm / config rm."""
    def run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
        return remove_each(ctx, f"{kind}s", args)
    return run


LS_FLAGS = [Flag("filter", "f", "list", help="Filter output based on conditions provided", metavar="filter"),
            Flag("format", "", "string", help="Format output using a custom template"),
            Flag("quiet", "q", help="Only display IDs")]
INSPECT_FLAGS = [Flag("format", "f", "string", help="Format output using a custom template"),
                 Flag("pretty", "", help="Print the information in a human friendly format")]
NODE_LS = Command("node ls", "node ls [OPTIONS]", "List nodes in the swarm", _node_ls, LS_FLAGS, max_args=0,
                  aliases="docker node ls, docker node list")
NODE_INSPECT = Command("node inspect", "node inspect [OPTIONS] self|NODE [NODE...]",
                       "Display detailed information on one or more nodes", _node_inspect, INSPECT_FLAGS, min_args=1)
NODE_UPDATE = Command("node update", "node update [OPTIONS] NODE", "Update a node", _node_update, [
    Flag("availability", "", "string", help='Availability of the node ("active", "pause", "drain")'),
    Flag("label-add", "", "list", help="Add or update a node label (key=value)", metavar="list"),
    Flag("label-rm", "", "list", help="Remove a node label if exists", metavar="list"),
    Flag("role", "", "string", help='Role of the node ("worker", "manager")'),
], min_args=1, max_args=1)
NODE_PROMOTE = Command("node promote", "node promote NODE [NODE...]", "Promote one or more nodes to manager in the "
                       "swarm", _role_change("manager", "Node {} promoted to a manager in the swarm.\n",
                                             "Node {} is already a manager.\n"), [], min_args=1)
NODE_DEMOTE = Command("node demote", "node demote NODE [NODE...]", "Demote one or more nodes from manager in the "
                      "swarm", _role_change("worker", "Manager {} demoted in the swarm.\n",
                                            "Node {} is already a worker.\n"), [], min_args=1)
NODE_RM = Command("node rm", "node rm [OPTIONS] NODE [NODE...]", "Remove one or more nodes from the swarm", _node_rm,
                  [Flag("force", "f", help="Force remove a node from the swarm")], min_args=1,
                  aliases="docker node rm, docker node remove")
SECRET_CREATE = Command("secret create", "secret create [OPTIONS] SECRET [file|-]",
                        "Create a secret from a file or STDIN as content", _creator("secret"), [
                            Flag("driver", "d", "string", help="Secret driver"),
                            Flag("label", "l", "list", help="Secret labels"),
                            Flag("template-driver", "", "string", help="Template driver")],
                        min_args=1, max_args=2)
CONFIG_CREATE = Command("config create", "config create [OPTIONS] CONFIG file|-",
                        "Create a config from a file or STDIN", _creator("config"), [
                            Flag("label", "l", "list", help="Config labels"),
                            Flag("template-driver", "", "string", help="Template driver")],
                        min_args=2, max_args=2)


def _object_commands(kind: str, default: str) -> tuple[Command, Command, Command]:
    """ls, inspect and rm of secrets or configs."""
    plural = kind + "s"
    upper = kind.upper()
    return (Command(f"{kind} ls", f"{kind} ls [OPTIONS]", f"List {plural}", _lister(kind, default), LS_FLAGS,
                    max_args=0, aliases=f"docker {kind} ls, docker {kind} list"),
            Command(f"{kind} inspect", f"{kind} inspect [OPTIONS] {upper} [{upper}...]",
                    f"Display detailed information on one or more {plural}", _inspector(kind), INSPECT_FLAGS,
                    min_args=1),
            Command(f"{kind} rm", f"{kind} rm {upper} [{upper}...]", f"Remove one or more {plural}", _remover(kind),
                    [], min_args=1, aliases=f"docker {kind} rm, docker {kind} remove"))


SECRET_LS, SECRET_INSPECT, SECRET_RM = _object_commands("secret", SECRET_DEFAULT)
CONFIG_LS, CONFIG_INSPECT, CONFIG_RM = _object_commands("config", CONFIG_DEFAULT)
