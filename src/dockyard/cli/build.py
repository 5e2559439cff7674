"""`dockyard build` (classic builder API, progress like docker's) and `dockyard builder prune`."""

from __future__ import annotations

import json
import os
import secrets
import sys
import tarfile
import tempfile
from typing import IO, Any, Iterator

from dockyard.cli.containers import confirm, print_reclaimed
from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag

_CHUNK = 1 << 20


def _build_args(values: list[str]) -> dict[str, str | None]:
    """--build-arg K=V, or K alone to take the value from the environment (skipped when unset)."""
    out: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def _labels(values: list[str]) -> dict[str, str]:
    return {k: v for k, _, v in (item.partition("=") for item in values)}


def context_tar(path: str, dockerfile: str) -> tuple[IO[bytes], str]:
    """Tar the context directory (minus .dockerignore'd paths) into a temp file; returns it and the Dockerfile name."""
    from dockyard.util.dockerignore import IgnoreMatcher, read_patterns
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise CommandError(f'unable to prepare context: path "{path}" not found')
    ignore = os.path.join(root, ".dockerignore")
    patterns = read_patterns(open(ignore).read()) if os.path.isfile(ignore) else []
    matcher = IgnoreMatcher(patterns)
    df_path = os.path.abspath(dockerfile) if dockerfile else os.path.join(root, "Dockerfile")
    if dockerfile and not os.path.isabs(dockerfile) and not os.path.exists(df_path):
        df_path = os.path.join(root, dockerfile)
    if not os.path.isfile(df_path):
        raise CommandError(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                           f"lstat {df_path}: no such file or directory")
    inside = os.path.commonpath([root, df_path]) == root
    df_name = os.path.relpath(df_path, root) if inside else f".dockerfile.{secrets.token_hex(10)}"
    out = tempfile.TemporaryFile()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, dirs, files in os.walk(root):
            rel_dir = os.path.relpath(directory, root)
            for name in sorted(dirs) + sorted(files):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if rel != df_name and matcher.excluded(rel) and not matcher.has_exceptions:
                    if name in dirs:
                        dirs.remove(name)
                    continue
                if name in files and rel not in (df_name, ".dockerignore") and matcher.excluded(rel):
                    continue
                info = tar.gettarinfo(os.path.join(directory, name), arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                _add(tar, info, os.path.join(directory, name))
        if not inside:
            _add(tar, tar.gettarinfo(df_path, arcname=df_name), df_path)
    out.seek(0)
    return out, df_name


def _add(tar: tarfile.TarFile, info: tarfile.TarInfo, path: str) -> None:
    if info.isreg():
        with open(path, "rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    while chunk := source.read(_CHUNK):
        yield chunk


def _build(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker build [OPTIONS] PATH | -"""
    from dockyard.client.api import json_stream
    from dockyard.util.humanize import human_size
    if args[0] == "-":
        source: IO[bytes] = sys.stdin.buffer
        df_name = o["file"] or "Dockerfile"
    else:
        source, df_name = context_tar(args[0], o["file"] or "")
        size = source.seek(0, os.SEEK_END)
        source.seek(0)
        if not o["quiet"]:
            ctx.out(f"Sending build context to Docker daemon  {human_size(size)}\n")
    query = {"t": o["tag"] or None, "dockerfile": df_name, "buildargs": json.dumps(_build_args(o["build_arg"])),
             "target": o["target"] or None, "nocache": o["no_cache"] or None, "q": o["quiet"] or None,
             "labels": json.dumps(_labels(o["label"])), "networkmode": o["network"] or None,
             "extrahosts": ",".join(o["add_host"]) or None, "cachefrom": json.dumps(o["cache_from"]),
             "platform": o["platform"] or None, "pull": o["pull"] or None, "rm": 1}
    resp = ctx.api.request_stream("POST", "/build", query, _chunks(source),
                                  {"Content-Type": "application/x-tar"})
    for msg in json_stream(resp):
        if "errorDetail" in msg or "error" in msg:
            detail = msg.get("errorDetail") or {}
            raise CommandError(detail.get("message") or msg.get("error") or "build failed",
                               int(detail.get("code") or 1))
        if msg.get("stream"):  # with -q the daemon's only stream line is the image id, as docker's
            ctx.out(msg["stream"])
            ctx.stdout.flush()
    return 0


BUILD = Command("build", "build [OPTIONS] PATH | URL | -", "Build an image from a Dockerfile", _build, [
    Flag("add-host", "", "list", help="Add a custom host-to-IP mapping (host:ip)"),
    Flag("build-arg", "", "list", help="Set build-time variables"),
    Flag("cache-from", "", "list", help="Images to consider as cache sources"),
    Flag("file", "f", "string", help="Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
    Flag("label", "", "list", help="Set metadata for an image"),
    Flag("network", "", "string", help="Set the networking mode for the RUN instructions during build"),
    Flag("no-cache", "", help="Do not use cache when building the image"),
    Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
    Flag("pull", "", help="Always attempt to pull a newer version of the image"),
    Flag("quiet", "q", help="Suppress the build output and print image ID on success"),
    Flag("tag", "t", "list", help='Name and optionally a tag in the "name:tag" format'),
    Flag("target", "", "string", help="Set the target build stage to build."),
], min_args=1, max_args=1, aliases="dockyard image build, dockyard build, dockyard builder build")


def _prune(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker builder prune."""
    if not o["force"] and not confirm(ctx, "WARNING! This will remove all dangling build cache."):
        return 0
    report = ctx.api.post("/build/prune", {"all": o["all"] or None}) or {}
    print_reclaimed(ctx, "Deleted build cache objects", report.get("CachesDeleted") or [],
                    int(report.get("SpaceReclaimed") or 0))
    return 0


PRUNE = Command("builder prune", "builder prune", "Remove build cache", _prune, [
    Flag("all", "a", help="Remove all unused build cache, not just dangling ones"),
    Flag("force", "f", help="Do not prompt for confirmation"),
], max_args=0)
