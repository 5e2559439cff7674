"""docker cp: copy files between a container and the local file system, with docker's path rules."""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Iterator

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.api import APIError
from dockyard.errors import DockyardError

STAT_HEADER = "x-docker-container-path-stat"
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_IRREGULAR = 1 << 31, 1 << 27, 1 << 26, 1 << 19
_MAX_LINKS = 10


class CopyInfo:
    """One side of a copy: path, whether it exists, whether it is a directory, and a rebase name."""

    def __init__(self, path: str, exists: bool = False, is_dir: bool = False, rebase_name: str = "") -> None:
        self.path = path
        self.exists = exists
        self.is_dir = is_dir
        self.rebase_name = rebase_name


# ----- path rules (docker's pkg/archive copy.go) ----------------------------------------------

def specifies_current_dir(path: str) -> bool:
    """The path ends with "/." (or is ".")."""
    return os.path.basename(path) == "."


def has_trailing_separator(path: str) -> bool:
    """The path ends with "/"."""
    return path.endswith("/")


def asserts_directory(path: str) -> bool:
    """The user said it must be a directory: trailing "/" or "/."."""
    return has_trailing_separator(path) or specifies_current_dir(path)


def preserve_trailing(cleaned: str, original: str) -> str:
    """Keep a trailing "/." or "/" the original path had after cleaning."""
    if specifies_current_dir(original) and not specifies_current_dir(cleaned):
        cleaned = cleaned.rstrip("/") + "/."
    if has_trailing_separator(original) and not has_trailing_separator(cleaned):
        cleaned += "/"
    return cleaned


def split_dir_entry(path: str) -> tuple[str, str]:
    """SplitPathDirEntry: ("/a", "b") for "/a/b/", ("/a/b", ".") for "/a/b/."."""
    cleaned = os.path.normpath(path)
    if specifies_current_dir(path):
        cleaned = os.path.join(cleaned, ".")
    return os.path.dirname(cleaned) or ".", os.path.basename(cleaned) or cleaned


def go_base(path: str) -> str:
    """Go's filepath.Base."""
    trimmed = path.rstrip("/")
    return os.path.basename(trimmed) if trimmed else "/"


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """GetRebaseName: keep the user's trailing "/." or "/", and the name they asked for."""
    resolved = preserve_trailing(resolved, path)
    return resolved, go_base(path) if go_base(path) != go_base(resolved) else ""


def local_path(path: str) -> str:
    """An absolute local path that keeps the user's trailing "/" or "/."."""
    return preserve_trailing(os.path.abspath(path), path)


def source_info(path: str, follow: bool) -> CopyInfo:
    """CopyInfoSourcePath: resolve the parent (or everything with -L), lstat the result."""
    rebase = ""
    if follow:
        resolved, rebase = rebase_name(path, os.path.realpath(path))
    else:
        directory, base = os.path.split(path)
        resolved = os.path.join(os.path.realpath(directory or "."), base)
        if has_trailing_separator(path) and go_base(path) != go_base(resolved):
            rebase = go_base(path)
    try:
        os.lstat(resolved)
    except OSError as exc:
        raise CommandError(f"lstat {resolved.rstrip('/')}: {os.strerror(exc.errno or 0).lower()}") from None
    return CopyInfo(resolved, True, os.path.isdir(resolved) and not os.path.islink(resolved), rebase)


def destination_info(path: str) -> CopyInfo:
    """CopyInfoDestinationPath: follow symlinks at the destination; a missing one needs an existing parent."""
    for _ in range(_MAX_LINKS + 1):
        try:
            os.lstat(path)
        except FileNotFoundError:
            parent, _base = split_dir_entry(path)
            if not os.path.exists(parent):
                raise CommandError(f"stat {parent}: no such file or directory") from None
            if not os.path.isdir(parent):
                raise CommandError("not a directory") from None
            return CopyInfo(path)
        if not os.path.islink(path):
            return CopyInfo(path, True, os.path.isdir(path))
        target = os.readlink(path)
        path = target if target.startswith("/") else os.path.join(split_dir_entry(path)[0], target)
    raise CommandError(f"too many symlinks in {path}")


def prepare_copy(src: CopyInfo, dst: CopyInfo) -> tuple[str, str, str]:
    """PrepareArchiveCopy: (directory to extract into, old top name, new top name) — old == new: no rebase."""
    dst_dir, dst_base = split_dir_entry(dst.path)
    src_base = src.rebase_name or split_dir_entry(src.path)[1]
    if dst.exists and dst.is_dir:
        return dst.path, src_base, src_base
    if dst.exists and src.is_dir:
        raise CommandError("cannot copy directory")
    if not dst.exists and not src.is_dir and asserts_directory(dst.path):
        raise CommandError("no such directory")
    return dst_dir, src_base, dst_base


# ----- talking to the daemon -----------------------------------------------------------------------

def _quote(name: str) -> str:
    from dockyard.client.transport import quote
    return quote(name)


def container_stat(ctx: Context, container: str, path: str) -> dict[str, Any] | None:
    """HEAD /containers/{id}/archive: the decoded stat header, None when the path does not exist."""
    import base64
    import json

    try:
        resp = ctx.api.request("HEAD", f"/containers/{_quote(container)}/archive", {"path": path})
    except APIError as exc:
        if exc.status != 404:
            raise
        ctx.api.get(f"/containers/{_quote(container)}/json")  # raises "No such container" when that is why
        return None
    resp.close()
    return json.loads(base64.b64decode(resp.headers.get(STAT_HEADER, "") or "e30="))


class _BodyReader:
    """read(n) over a response's body chunks, for tarfile."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes; b"" at the end."""
        while n < 0 or len(self._pending) < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._pending += chunk
        size = len(self._pending) if n < 0 else n
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def copy_from_container(ctx: Context, container: str, src_path: str, dst_path: str, follow: bool) -> str:
    """GET the archive and extract it locally (or pass it to stdout for "-"); returns what was copied."""
    from pathlib import Path

    from dockyard.util.tartree import extract_tar, rebase
    rebase_to = ""
    if follow:
        found = container_stat(ctx, container, src_path)
        if found is not None and found["mode"] & _GO_SYMLINK:
            src_path, rebase_to = rebase_name(src_path, found["linkTarget"])
    resp = ctx.api.request("GET", f"/containers/{_quote(container)}/archive", {"path": src_path})
    try:
        if dst_path == "-":
            out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
            with out:
                for chunk in resp.chunks():
                    out.write(chunk)
            return "-"
        import base64
        import json
        found = json.loads(base64.b64decode(resp.headers.get(STAT_HEADER, "e30=")))
        src = CopyInfo(src_path, True, bool(found.get("mode", 0) & _GO_DIR), rebase_to)
        dst = destination_info(local_path(dst_path))
        dst_dir, old, new = prepare_copy(src, dst)
        archive_top = split_dir_entry(src_path)[1]

        def rename(name: str) -> str:
            """The server's top name, then the -L rebase, then the destination's name."""
            name = rebase(name, archive_top, src.rebase_name) if src.rebase_name else name
            return rebase(name, old, new) if old != new else name

        try:
            extract_tar(_BodyReader(resp.chunks()), Path(dst_dir), no_overwrite_dir_non_dir=True,
                        owner=(os.getuid(), os.getgid()), rename=rename)
        except DockyardError as exc:  # a hostile or broken archive: nothing was written outside dst_dir
            raise CommandError(exc.message) from None
        except OSError as exc:
            raise CommandError(str(exc)) from None
    finally:
        resp.close()
    return dst_path


def _tar_chunks(src: CopyInfo, top: str) -> Iterator[bytes]:
    """The local source as a tar stream named `top`, written by a thread into a pipe."""
    import threading
    from pathlib import Path

    from dockyard.util.tartree import TreeWriter
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        """Write the tar."""
        try:
            with os.fdopen(write_fd, "wb") as out:
                writer = TreeWriter(out)
                writer.add_tree(Path(src.path.rstrip("/") if src.path != "/" else "/"), top)
                writer.close()
        except BaseException as exc:  # reported once the stream ends
            failure.append(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb") as pipe:
        while data := pipe.read(1 << 20):
            yield data
    thread.join()
    if failure:
        raise CommandError(str(failure[0]))


def copy_to_container(ctx: Context, src_path: str, container: str, dst_path: str, follow: bool,
                      archive_mode: bool) -> str:
    """Stat the destination, tar the local source with the right top name, PUT it into the right directory."""
    dst = CopyInfo(dst_path)
    found = container_stat(ctx, container, dst_path)
    if found is not None and found["mode"] & _GO_SYMLINK:
        target = found["linkTarget"]
        dst.path = target if target.startswith("/") else os.path.join(split_dir_entry(dst_path)[0], target)
        found = container_stat(ctx, container, dst.path)
    if found is not None:
        mode = found["mode"]
        if mode & (_GO_DEVICE | _GO_IRREGULAR):
            kind = "a device" if mode & _GO_DEVICE else "an irregular file"
            raise CommandError(f'destination "{container}:{dst_path}" must be a directory or a regular file: '
                               f"got {kind}")
        dst.exists, dst.is_dir = True, bool(mode & _GO_DIR)
    if src_path == "-":
        if not dst.is_dir:
            raise CommandError(f'destination "{container}:{dst_path}" must be a directory')
        from dockyard.client.stdcopy import stdin_chunks
        body, dst_dir = stdin_chunks(1 << 20), dst.path  # a tar stream
    else:
        src = source_info(local_path(src_path), follow)
        dst_dir, old, new = prepare_copy(src, dst)
        body = _tar_chunks(src, new if old != new else (src.rebase_name or split_dir_entry(src.path)[1]))
    query = {"path": dst_dir, "noOverwriteDirNonDir": "true", "copyUIDGID": "true" if archive_mode else None}
    resp = ctx.api.request_stream("PUT", f"/containers/{_quote(container)}/archive", query, body,
                                  {"Content-Type": "application/x-tar"})
    resp.read()
    resp.close()
    return f"{container}:{dst_path}"


def split_arg(arg: str) -> tuple[str, str]:
    """("container", "path") for CONTAINER:PATH, ("", path) for a local path (absolute or starting with ".")."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return container, path


def _cp(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker cp."""
    (src_container, src_path), (dst_container, dst_path) = split_arg(args[0]), split_arg(args[1])
    if not src_path:
        raise CommandError("source can not be empty")
    if not dst_path:
        raise CommandError("destination can not be empty")
    if src_container and dst_container:
        raise CommandError("copying between containers is not supported")
    if not src_container and not dst_container:
        raise CommandError("must specify at least one container source")
    if src_container:
        copied = copy_from_container(ctx, src_container, src_path, dst_path, o["follow_link"])
    else:
        copied = copy_to_container(ctx, src_path, dst_container, dst_path, o["follow_link"], o["archive"])
    if not o["quiet"] and sys.stderr.isatty() and copied != "-":
        ctx.err(f"Successfully copied to {copied}\n")
    return 0


CP = Command("cp", "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
             "Copy files/folders between a container and the local filesystem", _cp, [
                 Flag("archive", "a", help="Archive mode (copy all uid/gid information)"),
                 Flag("follow-link", "L", help="Always follow symbol link in SRC_PATH"),
                 Flag("quiet", "q", help="Suppress progress output during copy. Progress output is automatically "
                      "suppressed if no terminal is attached"),
             ], min_args=2, max_args=2, aliases="dockyard container cp, dockyard cp")
