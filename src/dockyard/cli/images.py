"""Image commands: images, history, tag, rmi, import, save, load, image prune."""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

from dockyard.cli.containers import FILTER, confirm, for_each, print_reclaimed
from dockyard.cli.context import CommandError, Context, save_archive
from dockyard.cli.flags import Command, Flag
from dockyard.client.transport import quote


def _images(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker images."""
    from dockyard.cli import formatters as fm
    from dockyard.cli.output import render
    filters = list(o["filter"]) + ([f"reference={args[0]}"] if args else [])
    images = ctx.api.get("/images/json", {"all": o["all"] or None, "filters": fm.filters_json(filters)}) or []
    fmt = o["format"] or ("{{.ID}}" if o["quiet"] else "")
    rows = fm.image_rows(images, o["digests"], not o["no_trunc"])
    default = fm.IMAGES_DIGESTS if o["digests"] else fm.IMAGES_DEFAULT
    ctx.out(render(fmt, rows, fm.IMAGE_HEADERS, default))
    return 0


IMAGES = Command("images", "images [OPTIONS] [REPOSITORY[:TAG]]", "List images", _images, [
    Flag("all", "a", help="Show all images (default hides intermediate images)"),
    Flag("digests", "", help="Show digests"),
    FILTER,
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("no-trunc", "", help="Don't truncate output"),
    Flag("quiet", "q", help="Only show image IDs"),
], max_args=1, aliases="dockyard image ls, dockyard image list, dockyard images")


def _history(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker history."""
    from dockyard.cli import formatters as fm
    from dockyard.cli.output import render
    layers = ctx.api.get(f"/images/{quote(args[0])}/history") or []
    fmt = o["format"] or ("{{.ID}}" if o["quiet"] else "")
    rows = [fm.HistoryContext(h, not o["no_trunc"], o["human"]) for h in layers]
    ctx.out(render(fmt, rows, fm.HISTORY_HEADERS, fm.HISTORY_DEFAULT))
    return 0


HISTORY = Command("history", "history [OPTIONS] IMAGE", "Show the history of an image", _history, [
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("human", "H", "bool", True, help="Print sizes and dates in human readable format"),
    Flag("no-trunc", "", help="Don't truncate output"),
    Flag("quiet", "q", help="Only show image IDs"),
], min_args=1, max_args=1)


def _tag(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker tag SOURCE TARGET."""
    from dockyard.cli.run import split_reference
    repo, tag = split_reference(args[1])
    ctx.api.post(f"/images/{quote(args[0])}/tag", {"repo": repo, "tag": tag})
    return 0


TAG = Command("tag", "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", _tag, min_args=2, max_args=2)


def _rmi(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker rmi: print Untagged:/Deleted: lines per image."""
    def act(name: str) -> str | None:
        report = ctx.api.delete(f"/images/{quote(name)}", {"force": o["force"] or None,
                                                            "noprune": o["no_prune"] or None}) or []
        lines = [f"Untagged: {r['Untagged']}" if r.get("Untagged") else f"Deleted: {r['Deleted']}"
                 for r in report if r.get("Untagged") or r.get("Deleted")]
        return "\n".join(lines) if lines else None
    return for_each(ctx, args, act)


RMI = Command("rmi", "rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", _rmi, [
    Flag("force", "f", help="Force removal of the image"),
    Flag("no-prune", "", help="Do not delete untagged parents"),
], min_args=1, aliases="dockyard image rm, dockyard image remove, dockyard rmi")


def _file_chunks(path: str) -> Iterator[bytes]:
    """Read a file (or stdin for "-") in chunks."""
    if path == "-":
        from dockyard.client.stdcopy import stdin_chunks
        yield from stdin_chunks()
        return
    with open(path, "rb") as fh:
        while data := fh.read(65536):
            yield data


def _progress_lines(ctx: Context, resp: Any, quiet: bool) -> str:
    """Print JSON progress messages' stream/status, raising on an error message; returns the last id."""
    from dockyard.client.api import APIError, json_stream
    last = ""
    try:
        for msg in json_stream(resp):
            if msg.get("errorDetail") or msg.get("error"):
                raise APIError(500, msg.get("error") or msg["errorDetail"].get("message", ""))
            text = msg.get("stream") or msg.get("status") or ""
            last = text.strip() or last
            if not quiet and text and not msg.get("progressDetail"):
                ctx.out(text if text.endswith("\n") else text + "\n")
    finally:
        resp.close()
    return last


def _import(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker import FILE|URL|- [REPOSITORY[:TAG]]."""
    from dockyard.cli.run import split_reference
    source = args[0]
    query: dict[str, Any] = {"changes": o["change"] or None, "message": o["message"] or None,
                             "platform": o["platform"] or None}
    if len(args) > 1:
        query["repo"], query["tag"] = split_reference(args[1])
    if source.startswith(("http://", "https://")):
        query["fromSrc"] = source
        resp = ctx.api.request("POST", "/images/create", query)
    else:
        if source != "-" and not os.path.exists(source):
            raise CommandError(f"open {source}: no such file or directory")
        query["fromSrc"] = "-"
        resp = ctx.api.request_stream("POST", "/images/create", query, _file_chunks(source),
                                      {"Content-Type": "application/x-tar"})
    _progress_lines(ctx, resp, False)
    return 0


IMPORT = Command("import", "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                 "Import the contents from a tarball to create a filesystem image", _import, [
                     Flag("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
                     Flag("message", "m", "string", help="Set commit message for imported image"),
                     Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
                 ], min_args=1, max_args=2)


def _save(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker save -o FILE | > stdout (refusing a terminal)."""
    resp = ctx.api.request("GET", "/images/get", {"names": args})
    target = o["output"]
    save_archive(resp, target)
    return 0


SAVE = Command("save", "save [OPTIONS] IMAGE [IMAGE...]",
               "Save one or more images to a tar archive (streamed to STDOUT by default)", _save,
               [Flag("output", "o", "string", help="Write to a file, instead of STDOUT")], min_args=1)


def _load(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker load -i FILE | < stdin."""
    source = o["input"] or "-"
    if source == "-" and sys.stdin.isatty():
        raise CommandError("requested load from stdin, but stdin is empty")
    if source != "-" and not os.path.exists(source):
        raise CommandError(f"open {source}: no such file or directory")
    resp = ctx.api.request_stream("POST", "/images/load", {"quiet": o["quiet"] or None}, _file_chunks(source),
                                  {"Content-Type": "application/x-tar"})
    _progress_lines(ctx, resp, False)
    return 0


LOAD = Command("load", "load [OPTIONS]", "Load an image from a tar archive or STDIN", _load, [
    Flag("input", "i", "string", help="Read from tar archive file, instead of STDIN"),
    Flag("quiet", "q", help="Suppress the load output"),
], max_args=0)


def _prune(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker image prune."""
    from dockyard.cli.formatters import filters_json
    filters = list(o["filter"]) + (["dangling=false"] if o["all"] else ["dangling=true"])
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if o["all"] else "WARNING! This will remove all dangling images.")
    if not o["force"] and not confirm(ctx, warning):
        return 0
    report = ctx.api.post("/images/prune", {"filters": filters_json(filters)}) or {}
    lines = [f"untagged: {r['Untagged']}" if r.get("Untagged") else f"deleted: {r['Deleted']}"
             for r in report.get("ImagesDeleted") or [] if r.get("Untagged") or r.get("Deleted")]
    print_reclaimed(ctx, "Deleted Images", lines, report.get("SpaceReclaimed") or 0)
    return 0


PRUNE = Command("image prune", "image prune [OPTIONS]", "Remove unused images", _prune, [
    Flag("all", "a", help="Remove all unused images, not just dangling ones"),
    Flag("filter", "", "list", help='Provide filter values (e.g. "until=<timestamp>")', metavar="filter"),
    Flag("force", "f", help="Do not prompt for confirmation"),
], max_args=0)
