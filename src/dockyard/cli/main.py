"""Entry point of the `dockyard` command line: global flags, then a lazy dispatch to one command module."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import PROG, Command, Flag, HelpRequested, UsageError, check_arg_count, parse_args

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.client.endpoint import Endpoint

# command path -> (module, attribute); only the chosen module is imported.
_C = "dockyard.cli.containers"
_R = "dockyard.cli.run"
_I = "dockyard.cli.images"
_S = "dockyard.cli.system"
_REG = "dockyard.cli.registry"
COMMANDS: dict[str, tuple[str, str]] = {
    "ps": (_C, "PS"), "create": (_R, "CREATE"), "run": (_R, "RUN"), "start": (_R, "START"),
    "attach": (_R, "ATTACH"), "stop": (_C, "STOP"), "kill": (_C, "KILL"), "restart": (_C, "RESTART"),
    "pause": (_C, "PAUSE"), "unpause": (_C, "UNPAUSE"), "wait": (_C, "WAIT"), "rm": (_C, "RM"),
    "rename": (_C, "RENAME"), "logs": (_C, "LOGS"), "top": (_C, "TOP"),
    "images": (_I, "IMAGES"), "history": (_I, "HISTORY"), "tag": (_I, "TAG"), "rmi": (_I, "RMI"),
    "import": (_I, "IMPORT"), "save": (_I, "SAVE"), "load": (_I, "LOAD"),
    "version": (_S, "VERSION"), "info": (_S, "INFO"), "events": (_S, "EVENTS"), "inspect": (_S, "INSPECT"),
    "container ls": (_C, "PS"), "container list": (_C, "PS"), "container ps": (_C, "PS"),
    "container inspect": (_S, "CONTAINER_INSPECT"), "container prune": (_C, "PRUNE"),
    "container rm": (_C, "RM"), "container remove": (_C, "RM"),
    "image ls": (_I, "IMAGES"), "image list": (_I, "IMAGES"), "image inspect": (_S, "IMAGE_INSPECT"),
    "image rm": (_I, "RMI"), "image remove": (_I, "RMI"), "image prune": (_I, "PRUNE"),
    "system info": (_S, "INFO"), "system events": (_S, "EVENTS"),
    "build": ("dockyard.cli.build", "BUILD"), "image build": ("dockyard.cli.build", "BUILD"),
    "builder build": ("dockyard.cli.build", "BUILD"), "builder prune": ("dockyard.cli.build", "PRUNE"),
    "pull": (_REG, "PULL"), "push": (_REG, "PUSH"), "login": (_REG, "LOGIN"), "logout": (_REG, "LOGOUT"),
    "search": (_REG, "SEARCH"), "image pull": (_REG, "PULL"), "image push": (_REG, "PUSH"),
    "update": ("dockyard.cli.limits", "UPDATE"), "container update": ("dockyard.cli.limits", "UPDATE"),
    "exec": ("dockyard.cli.exec", "EXEC"), "container exec": ("dockyard.cli.exec", "EXEC"),
}
for _name in ("create", "run", "start", "attach", "stop", "kill", "restart", "pause", "unpause", "wait",
              "rename", "logs", "top"):
    COMMANDS["container " + _name] = COMMANDS[_name]
for _name in ("history", "tag", "import", "save", "load"):
    COMMANDS["image " + _name] = COMMANDS[_name]
_X = "dockyard.cli.container_extra"
for _name, _target in (("cp", ("dockyard.cli.cp", "CP")), ("stats", ("dockyard.cli.stats", "STATS")),
                       ("commit", (_X, "COMMIT")), ("diff", (_X, "DIFF")), ("export", (_X, "EXPORT")),
                       ("port", (_X, "PORT"))):
    COMMANDS[_name] = COMMANDS["container " + _name] = _target

_N = "dockyard.cli.network"
for _name in ("create", "ls", "list", "inspect", "rm", "remove", "connect", "disconnect", "prune"):
    COMMANDS["network " + _name] = (_N, {"list": "LS", "remove": "RM"}.get(_name, _name.upper()))

GLOBAL_FLAGS = [
    Flag("host", "H", "list", help="Daemon socket to connect to"),
    Flag("debug", "D", "bool", help="Enable debug mode"),
    Flag("log-level", "l", "string", "info", help='Set the logging level ("debug", "info", "warn", "error", "fatal")'),
    Flag("config", "", "string", help="Location of client config files"),
    Flag("context", "c", "list", help="Name of the context to use to connect to the daemon (several: ps, images, "
         "info and events ask each and merge the answers)"),
    Flag("tls", "", "bool", help="Use TLS; implied by --tlsverify"),
    Flag("tlsverify", "", "bool", help="Use TLS and verify the remote"),
    Flag("tlscacert", "", "string", help='Trust certs signed only by this CA (default "~/.docker/ca.pem")'),
    Flag("tlscert", "", "string", help='Path to TLS certificate file (default "~/.docker/cert.pem")'),
    Flag("tlskey", "", "string", help='Path to TLS key file (default "~/.docker/key.pem")'),
    Flag("version", "v", "bool", help="Print version information and quit"),
]
_V, _D = "dockyard.cli.volumes", "dockyard.cli.disk"
for _name in ("create", "ls", "list", "inspect", "rm", "remove", "prune"):
    COMMANDS["volume " + _name] = (_V, {"list": "LS", "remove": "RM"}.get(_name, _name.upper()))
COMMANDS.update({"system df": (_D, "DF"), "system prune": (_D, "PRUNE"),
                 "system dial-stdio": ("dockyard.cli.dialstdio", "DIAL_STDIO")})
COMMANDS["tls create"] = ("dockyard.cli.tlscmd", "CREATE")
for _name in ("create", "ls", "list", "use", "show", "inspect", "update", "rm", "remove", "export", "import"):
    COMMANDS["context " + _name] = ("dockyard.cli.contexts", {"list": "LS", "remove": "RM"}.get(_name, _name.upper()))
# Commands that take several --context (Dockyard's own): command key -> what is merged.
MULTI_CONTEXT = {"ps": "ps", "container ls": "ps", "container list": "ps", "container ps": "ps", "images": "images",
                 "image ls": "images", "image list": "images", "info": "info", "system info": "info",
                 "events": "events", "system events": "events"}
_S, _O = "dockyard.cli.swarm", "dockyard.cli.swarmobjects"
for _name in ("init", "join", "join-token", "leave", "update", "unlock", "unlock-key", "ca"):
    COMMANDS["swarm " + _name] = (_S, _name.upper().replace("-", "_"))
for _group, _verbs in (("node", ("ls", "list", "inspect", "update", "promote", "demote", "rm", "remove")),
                       ("secret", ("create", "ls", "list", "inspect", "rm", "remove")),
                       ("config", ("create", "ls", "list", "inspect", "rm", "remove"))):
    for _name in _verbs:
        _attr = {"list": "LS", "remove": "RM"}.get(_name, _name.upper())
        COMMANDS[f"{_group} {_name}"] = (_O, f"{_group.upper()}_{_attr}")
for _name in ("create", "ls", "list", "ps", "inspect", "logs", "scale", "update", "rollback", "rm", "remove"):
    COMMANDS["service " + _name] = ("dockyard.cli.service", {"list": "LS", "remove": "RM"}.get(_name, _name.upper()))
GROUPS = ("container", "image", "system", "builder", "network", "volume", "tls", "context", "swarm", "node",
          "secret", "config", "service")


def _usage() -> str:
    """Top-level help, with the CLI plugins found (marked "*" as docker does)."""
    from dockyard.cli import plugins
    from dockyard.cli.helptext import usage

    builtin = {name.split(" ", 1)[0] for name in COMMANDS} | set(GROUPS) | {"daemon", "registry"}
    return usage(PROG, COMMANDS, GROUPS, plugins.listing(builtin))


def _split_globals(argv: list[str]) -> tuple[dict[str, object], list[str]]:
    """Parse global flags up to the command word."""
    opts, rest = parse_args(GLOBAL_FLAGS, argv, interspersed=False)
    return opts, rest


def _find(rest: list[str]) -> tuple[str, list[str]] | None:
    """Resolve "ps ..." or "container ls ..." to a command key and its arguments."""
    if not rest:
        return None
    if rest[0] in GROUPS and len(rest) > 1 and f"{rest[0]} {rest[1]}" in COMMANDS:
        return f"{rest[0]} {rest[1]}", rest[2:]
    if rest[0] in COMMANDS:
        return rest[0], rest[1:]
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        gopts, rest = _split_globals(args)
    except HelpRequested:
        sys.stdout.write(_usage())
        return 0
    except UsageError as exc:
        sys.stderr.write(f"{exc}\nSee '{PROG} --help'.\n")
        return 125
    if gopts["version"]:
        from dockyard import __version__
        sys.stdout.write(f"Dockyard version {__version__}\n")
        return 0
    if rest and rest[0] in GROUPS and (len(rest) == 1 or rest[1] in ("--help", "-h")):
        from dockyard.cli.helptext import group_usage

        sys.stdout.write(group_usage(PROG, rest[0], COMMANDS))
        return 0
    found = _find(rest)
    if found is None and rest and rest[0] not in GROUPS and not rest[0].startswith("-"):
        from dockyard.cli import plugins
        plugin = plugins.find(rest[0])
        if plugin is not None:
            plugins.run(plugin, args)
    if found is None:
        if not rest:
            sys.stdout.write(_usage())
            return 0
        if rest[0] in GROUPS:
            sys.stderr.write(f"{PROG}: unknown command: {PROG} {' '.join(rest[:2])}\n\n"
                             f"Run '{PROG} {rest[0]} --help' for more information\n")
        else:
            sys.stderr.write(f"{PROG}: unknown command: {PROG} {rest[0]}\n\n"
                             f"Run '{PROG} --help' for more information\n")
        return 1
    key, cmd_args = found
    module_name, attr = COMMANDS[key]
    module = __import__(module_name, fromlist=[attr])
    cmd: Command = getattr(module, attr)
    if gopts["debug"]:
        os.environ["DOCKYARD_DEBUG"] = "1"
    consumed = args[:len(args) - len(rest)]
    if gopts["config"]:
        os.environ["DOCKER_CONFIG"] = str(gopts["config"])
    if gopts["context"] and gopts["host"]:
        sys.stderr.write("conflicting options: cannot specify both --host and --context\n")
        return 1
    contexts: list[str] = list(gopts["context"])  # type: ignore[call-overload]
    if len(contexts) > 1 and key not in MULTI_CONTEXT:
        sys.stderr.write("only ps, images, info and events accept several --context\n")
        return 1
    if key in MULTI_CONTEXT and (len(contexts) > 1 or any(a.startswith("--context") for a in cmd_args)):
        from dockyard.cli.multicontext import extract_contexts
        more, cmd_args = extract_contexts(cmd_args)
        return run_command(cmd, key, cmd_args, None, contexts=contexts + more)
    try:
        endpoint = _endpoint(gopts, any(a.startswith("--tlsverify") for a in consumed))
    except ValueError as problem:
        sys.stderr.write(f"Failed to initialize: unable to resolve docker endpoint: {problem}\n")
        return 1
    return run_command(cmd, key, cmd_args, endpoint, contexts=contexts)


def _endpoint(gopts: dict[str, object], verify_given: bool) -> "Endpoint":
    """The daemon to talk to: a context (--context, DOCKER_CONTEXT, config.json's currentContext) or -H (or
    DOCKER_HOST, or the default socket) with the --tls* flags; ValueError says why it cannot be used."""
    from dockyard.cli.contexts import current_name
    from dockyard.client.api import resolve_host
    from dockyard.client.endpoint import Endpoint, TLSFlags, missing_file, tcp_default_port, tls_options

    hosts = gopts["host"]
    name = current_name(gopts["context"][-1] if gopts["context"] else None, bool(hosts))  # type: ignore[index]
    if name != "default":
        from dockyard.client.contextstore import ContextError, ContextStore, endpoint_of
        try:
            return endpoint_of(ContextStore(), name)
        except ContextError as bad:
            raise ValueError(str(bad)) from None
    flags = TLSFlags(bool(gopts["tls"]), bool(gopts["tlsverify"]) if verify_given else None,
                     gopts["tlscacert"] or None, gopts["tlscert"] or None,  # type: ignore[arg-type]
                     gopts["tlskey"] or None)  # type: ignore[arg-type]
    tls = tls_options(flags)
    problem = missing_file(tls) if tls is not None else None
    if problem:
        raise ValueError(problem)
    host = resolve_host(hosts[-1] if isinstance(hosts, list) and hosts else None, tls is not None)
    return Endpoint(tcp_default_port(host, tls is not None), tls)


def context_endpoint(name: str) -> "Endpoint | str":
    """The endpoint of a named context (the default one from -H-less settings), or why it cannot be used."""
    from dockyard.client.api import resolve_host
    from dockyard.client.contextstore import ContextError, ContextStore, endpoint_of
    from dockyard.client.endpoint import Endpoint
    if name == "default":
        return Endpoint(resolve_host(None), None, name)
    try:
        return endpoint_of(ContextStore(), name)
    except ContextError as bad:
        return str(bad)


def run_command(cmd: Command, key: str, cmd_args: list[str], endpoint: "Endpoint | None",
                contexts: list[str] | None = None) -> int:
    """Parse a command's flags and run it (against each of several `contexts` when `endpoint` is None), mapping
    errors to docker's messages and exit codes."""
    from dockyard.cli.context import Context, run_guarded
    try:
        opts, positional = parse_args(cmd.flags, cmd_args, cmd.interspersed)
        check_arg_count(cmd, positional)
    except HelpRequested:
        sys.stdout.write(cmd.help_text())
        return 0
    except UsageError as exc:
        prefix = f"{PROG}: " if exc.status == 1 else ""
        sys.stderr.write(f"{prefix}{exc}\n\n{cmd.usage_line()}\n\n"
                         f"{'See' if exc.status == 1 else 'Run'} '{PROG} {key} --help' for more information\n")
        return exc.status
    ctx = Context(endpoint, key)
    ctx.context_flag = contexts[-1] if contexts else None
    if endpoint is None and contexts:
        from dockyard.cli import multicontext
        return multicontext.run(cmd, key, MULTI_CONTEXT[key], opts, positional,
                                [(n, context_endpoint(n)) for n in contexts], ctx)
    return run_guarded(cmd, ctx, opts, positional)
