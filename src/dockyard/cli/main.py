"""Entry point of the `dockyard` command line: global flags, then a lazy dispatch to one command module."""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import PROG, Command, Flag, HelpRequested, UsageError, check_arg_count, parse_args

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
    Flag("context", "c", "string", help="Name of the context to use to connect to the daemon"),
    Flag("tls", "", "bool", help="Use TLS; implied by --tlsverify"),
    Flag("version", "v", "bool", help="Print version information and quit"),
]
_V, _D = "dockyard.cli.volumes", "dockyard.cli.disk"
for _name in ("create", "ls", "list", "inspect", "rm", "remove", "prune"):
    COMMANDS["volume " + _name] = (_V, {"list": "LS", "remove": "RM"}.get(_name, _name.upper()))
COMMANDS.update({"system df": (_D, "DF"), "system prune": (_D, "PRUNE")})
_S, _O = "dockyard.cli.swarm", "dockyard.cli.swarmobjects"
for _name in ("init", "join", "join-token", "leave", "update", "unlock", "unlock-key"):
    COMMANDS["swarm " + _name] = (_S, _name.upper().replace("-", "_"))
for _group, _verbs in (("node", ("ls", "list", "inspect", "update", "promote", "demote", "rm", "remove")),
                       ("secret", ("create", "ls", "list", "inspect", "rm", "remove")),
                       ("config", ("create", "ls", "list", "inspect", "rm", "remove"))):
    for _name in _verbs:
        _attr = {"list": "LS", "remove": "RM"}.get(_name, _name.upper())
        COMMANDS[f"{_group} {_name}"] = (_O, f"{_group.upper()}_{_attr}")
for _name in ("create", "ls", "list", "ps", "inspect", "logs", "scale", "update", "rollback", "rm", "remove"):
    COMMANDS["service " + _name] = ("dockyard.cli.service", {"list": "LS", "remove": "RM"}.get(_name, _name.upper()))
GROUPS = ("container", "image", "system", "builder", "network", "volume", "swarm", "node", "secret", "config",
          "service")


def _usage() -> str:
    """Top-level help."""
    from dockyard.cli.helptext import usage

    return usage(PROG, COMMANDS, GROUPS)


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
    hosts = gopts["host"]
    host = hosts[-1] if isinstance(hosts, list) and hosts else None
    if gopts["debug"]:
        os.environ["DOCKYARD_DEBUG"] = "1"
    return run_command(cmd, key, cmd_args, host)


def run_command(cmd: Command, key: str, cmd_args: list[str], host: str | None) -> int:
    """Parse a command's flags and run it, mapping errors to docker's messages and exit codes."""
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
    ctx = Context(host, key)
    return run_guarded(cmd, ctx, opts, positional)
