"""A small pflag-style option parser (docker's flag syntax and error wording) and command specs."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable

PROG = "dockyard"


class UsageError(Exception):
    """Bad command line: printed with the usage line, exit status 125 (or `status`)."""

    def __init__(self, message: str, status: int = 125) -> None:
        super().__init__(message)
        self.status = status


class HelpRequested(Exception):
    """-h/--help was given."""


BOOL_KINDS = ("bool", "optbool")


class Flag:
    """One option: kind is bool, optbool (a bool that stays None unless given, for "was it changed"), string, int
    or list (repeatable)."""

    def __init__(self, long: str, short: str = "", kind: str = "bool", default: Any = None, help: str = "",
                 metavar: str = "") -> None:
        self.long = long
        self.short = short
        self.kind = kind
        self.default = default
        self.help = help
        self.metavar = metavar

    @property
    def dest(self) -> str:
        """Key in the parsed options dict."""
        return self.long.replace("-", "_")


class Command:
    """A CLI command: usage, flags, argument bounds and the function that runs it.

    run_style_errors: run/create print "dockyard: <err>" plus a hint and exit 125, as docker does.
    """

    def __init__(self, name: str, usage: str, description: str, run: Callable[..., int],
                 flags: list[Flag] | None = None, min_args: int = 0, max_args: int | None = None,
                 interspersed: bool = True, aliases: str = "", run_style_errors: bool = False) -> None:
        self.name = name
        self.usage = usage
        self.description = description
        self.run = run
        self.flags = flags or []
        self.min_args = min_args
        self.max_args = max_args
        self.interspersed = interspersed
        self.aliases = aliases
        self.run_style_errors = run_style_errors

    def usage_line(self) -> str:
        """"Usage:  dockyard ps [OPTIONS]"."""
        return f"Usage:  {PROG} {self.usage}"

    def help_text(self) -> str:
        """Docker-style --help output."""
        lines = [self.usage_line(), "", self.description, ""]
        if self.aliases:
            lines += ["Aliases:", "  " + self.aliases, ""]
        if self.flags:
            lines.append("Options:")
            rows = []
            for f in self.flags:
                left = (f"-{f.short}, " if f.short else "    ") + f"--{f.long}"
                if f.kind not in BOOL_KINDS:
                    left += " " + (f.metavar or {"int": "int", "list": "list"}.get(f.kind, "string"))
                text = f.help
                if f.default not in (None, False, "", []):
                    text += f" (default {f.default})"
                rows.append((left, text))
            width = max(len(r[0]) for r in rows) + 3
            lines += [f"  {left.ljust(width)}{text}" for left, text in rows]
        return "\n".join(lines) + "\n"


def _defaults(flags: list[Flag]) -> dict[str, Any]:
    """Initial option values."""
    out: dict[str, Any] = {}
    for f in flags:
        if f.kind == "list":
            out[f.dest] = list(f.default or [])
        elif f.kind == "bool":
            out[f.dest] = bool(f.default)
        else:
            out[f.dest] = f.default
    return out


def _convert(flag: Flag, value: str, shown: str) -> Any:
    """Convert a flag's text to its kind, with pflag's error wording."""
    if flag.kind == "int":
        try:
            return int(value, 0)
        except ValueError:
            raise UsageError(f'invalid argument "{value}" for "{shown}" flag: strconv.ParseInt: '
                             f'parsing "{value}": invalid syntax') from None
    if flag.kind in BOOL_KINDS:
        low = value.lower()
        if low in ("1", "t", "true"):
            return True
        if low in ("0", "f", "false"):
            return False
        raise UsageError(f'invalid argument "{value}" for "{shown}" flag: strconv.ParseBool: '
                         f'parsing "{value}": invalid syntax')
    return value


def parse_args(flags: list[Flag], argv: list[str], interspersed: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Parse argv like pflag: --long[=v], -s v, -abc, -n5, "--" ends options."""
    by_long = {f.long: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    opts = _defaults(flags)
    positional: list[str] = []
    i = 0

    def store(flag: Flag, value: Any) -> None:
        if flag.kind == "list":
            opts[flag.dest].append(value)
        else:
            opts[flag.dest] = value

    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional += argv[i:]
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            if name == "help":
                raise HelpRequested()
            flag = by_long.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if flag.kind in BOOL_KINDS:
                store(flag, _convert(flag, value, "--" + name) if eq else True)
                continue
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}")
                value = argv[i]
                i += 1
            store(flag, _convert(flag, value, "--" + name))
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                ch = arg[j]
                j += 1
                if ch == "h" and "h" not in by_short:
                    raise HelpRequested()
                flag = by_short.get(ch)
                if flag is None:
                    raise UsageError(f"unknown shorthand flag: '{ch}' in {arg}")
                shown = f"-{ch}, --{flag.long}"
                if flag.kind in BOOL_KINDS:
                    if j < len(arg) and arg[j] == "=":
                        store(flag, _convert(flag, arg[j + 1:], shown))
                        break
                    store(flag, True)
                    continue
                value = arg[j:]
                if value.startswith("="):
                    value = value[1:]
                if not value and j >= len(arg):
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: '{ch}' in -{ch}")
                    value = argv[i]
                    i += 1
                store(flag, _convert(flag, value, shown))
                break
            continue
        positional.append(arg)
        if not interspersed:
            positional += argv[i:]
            break
    return opts, positional


def check_arg_count(cmd: Command, args: list[str]) -> None:
    """Raise UsageError (status 1) with docker's "requires ..." wording."""
    n = len(args)
    if cmd.max_args == 0 and n > 0:
        raise UsageError(f"'{PROG} {cmd.name}' accepts no arguments", 1)
    if cmd.min_args == cmd.max_args and n != cmd.min_args:
        plural = "argument" if cmd.min_args == 1 else "arguments"
        raise UsageError(f"'{PROG} {cmd.name}' requires {cmd.min_args} {plural}", 1)
    if n < cmd.min_args:
        plural = "argument" if cmd.min_args == 1 else "arguments"
        raise UsageError(f"'{PROG} {cmd.name}' requires at least {cmd.min_args} {plural}", 1)
    if cmd.max_args is not None and n > cmd.max_args:
        plural = "argument" if cmd.max_args == 1 else "arguments"
        raise UsageError(f"'{PROG} {cmd.name}' requires at most {cmd.max_args} {plural}", 1)
