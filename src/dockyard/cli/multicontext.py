"""Beyond docker: `ps`, `images`, `info` and `events` against several contexts at once (`--context a --context
b`), asked concurrently and merged into one output with a CONTEXT column; a context whose daemon fails prints
its error and the others still print their rows."""

from __future__ import annotations

import io
import json
import threading
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable

    from dockyard.cli.flags import Command
    from dockyard.client.endpoint import Endpoint

from dockyard.cli.context import Context, run_guarded

INFO_HEADERS = {"Context": "CONTEXT", "Name": "NAME", "ServerVersion": "SERVER VERSION", "Containers": "CONTAINERS",
                "ContainersRunning": "RUNNING", "Images": "IMAGES", "OperatingSystem": "OPERATING SYSTEM"}
INFO_DEFAULT = ("table {{.Context}}\t{{.Name}}\t{{.ServerVersion}}\t{{.Containers}}\t{{.ContainersRunning}}\t"
                "{{.Images}}\t{{.OperatingSystem}}")


def extract_contexts(args: list[str]) -> tuple[list[str], list[str]]:
    """Pull `--context NAME`/`--context=NAME` out of a command's arguments (before a `--`)."""
    names, rest = [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--context" and i + 1 < len(args):
            names.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("--context="):
            names.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return names, rest


class _Lines(io.StringIO):
    """A stdout that hands every complete line to `sink` as it is written (for streams)."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__()
        self.sink = sink
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.sink(line)
        return len(text)


def run(cmd: Command, key: str, kind: str, opts: dict[str, Any], args: list[str],
        targets: list[tuple[str, Endpoint | str]], out: Context) -> int:
    """Run `cmd` ("ps", "images", "info" or "events" by `kind`) once per context, concurrently, and merge;
    `targets` pairs each name with its endpoint, or the message why it cannot be used."""
    user_format = opts.get("format") or ""
    results: dict[str, list[Any]] = {name: [] for name, _ in targets}
    errors: dict[str, str] = {}
    lock = threading.Lock()
    printer = _EventPrinter(out, user_format, bool(opts.get("until"))) if kind == "events" else None

    def one(name: str, endpoint: Endpoint | str) -> None:
        if isinstance(endpoint, str):
            errors[name] = endpoint
            return
        sink = (lambda line: printer.add(name, line)) if printer else (
            lambda line: results[name].append(json.loads(line)) if line.strip() else None)
        ctx = Context(endpoint, key)
        ctx.stdout, ctx.stderr = _Lines(sink), io.StringIO()
        mine = dict(opts, format="{{json .}}") if not opts.get("quiet") else opts
        if opts.get("quiet"):
            ctx.stdout = _Lines(lambda line: results[name].append(line) if line else None)
        status = run_guarded(cmd, ctx, mine, args)
        if status != 0:
            with lock:
                errors[name] = ctx.stderr.getvalue().strip() or f"exit status {status}"

    threads = [threading.Thread(target=one, args=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, message in errors.items():
        out.err(f"context {name}: {message}\n")
    if printer is not None:
        printer.finish()
    elif opts.get("quiet"):
        out.out("".join(f"{line}\n" for name, _ in targets for line in results[name]))
    else:
        _table(out, kind, user_format, [dict(row, Context=name) for name, _ in targets for row in results[name]])
    return 1 if errors else 0


def _table(out: Context, kind: str, user_format: str, rows: list[dict[str, Any]]) -> None:
    """Rows of every context in the command's table with CONTEXT first (or the user's --format)."""
    from dockyard.cli import formatters as fm
    from dockyard.cli.output import render
    headers, default = {"ps": (fm.CONTAINER_HEADERS, fm.PS_DEFAULT), "images": (fm.IMAGE_HEADERS, fm.IMAGES_DEFAULT),
                        "info": (INFO_HEADERS, INFO_DEFAULT)}[kind]
    if default.startswith("table {{.Context}}"):
        with_context = default
    else:
        with_context = "table {{.Context}}\t" + default[len("table "):]
    out.out(render(user_format, rows, {"Context": "CONTEXT", **headers}, with_context))


class _EventPrinter:
    """Events of several daemons, each with its context: printed as they come from the concurrent streams; a
    bounded replay (--until) is collected and printed in time order."""

    def __init__(self, out: Context, user_format: str, bounded: bool) -> None:
        from dockyard.util import gotemplate
        self.out = out
        self.template = (gotemplate.parse("{{json .}}" if user_format == "json" else user_format)
                         if user_format else None)
        self.bounded = bounded
        self.lock = threading.Lock()
        self.held: list[tuple[int, str]] = []

    def add(self, name: str, line: str) -> None:
        """One event line (JSON) of context `name`."""
        if not line.strip():
            return
        from dockyard.cli.system import format_event
        event = json.loads(line)
        event["Context"] = name
        text = self.template.execute(event) if self.template else f"{name}\t{format_event(event)}"
        with self.lock:
            if self.bounded:
                self.held.append((int(event.get("timeNano") or 0), text))
                return
            self.out.out(text + "\n")
            self.out.stdout.flush()

    def finish(self) -> None:
        """Print what a bounded replay collected, oldest first."""
        for _, text in sorted(self.held):
            self.out.out(text + "\n")
