"""The build context: unpacked safely from the request's tar stream as it arrives, then filtered by .dockerignore."""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import tarfile
from pathlib import Path

from dockyard.builder.ctxfiles import ContextFiles, MemberData
from dockyard.builder.tarstream import ChunkReader, data, members
from dockyard.errors import InvalidParameter
from dockyard.util.aio import run_blocking
from dockyard.util.dockerignore import IgnoreMatcher, read_patterns
from dockyard.util.tarsafe import SafeExtractor, clean_name

DOCKERIGNORE = ".dockerignore"


QUEUE_CHUNKS = 256


class ContextReceiver:
    """Unpacks a context tar (plain or gzip) into `dest` in one worker thread while the event loop hands it the
    request body chunk by chunk; regular files come from (or go to) `files`. Refuses `../`, absolute names,
    devices and escaping links."""

    def __init__(self, dest: Path, files: ContextFiles) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.dest = dest
        self.files = files
        self._chunks: "queue.Queue[bytes | None]" = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._done = asyncio.ensure_future(run_blocking(self._work))

    async def feed(self, chunk: bytes) -> None:
        """Hand the worker one chunk of the tar stream."""
        await self._put(chunk)

    async def finish(self) -> None:
        """End the stream and wait for the worker; raises what it failed with."""
        await self._put(None)
        await self._done

    async def _put(self, item: bytes | None) -> None:
        """Queue an item; waits (in a thread) only when the worker is behind."""
        try:
            self._chunks.put_nowait(item)
        except queue.Full:
            await run_blocking(self._chunks.put, item)

    def _work(self) -> None:
        """Read every member, then whatever follows the archive, so the feeder never waits forever."""
        reader = ChunkReader(self._chunks)
        try:
            self._extract(reader)
        finally:
            reader.drain()

    def _extract(self, reader: ChunkReader) -> None:
        with SafeExtractor(self.dest) as extractor:
            for member in members(reader):
                _check_member(member)
                name = clean_name(member.name)
                if member.islnk() and name != ".":
                    extractor.link(name, member.linkname)  # no attributes: the inode may be a kept file, shared
                elif member.isreg() and name != ".":
                    self.files.place(name, member, data(reader, member), extractor.cleared(name))
                else:
                    extractor.extract(MemberData(data(reader, member)), member, name)  # type: ignore[arg-type]
            extractor.finish()


def _check_member(member: tarfile.TarInfo) -> None:
    """Refuse entries a build context has no business carrying."""
    if member.name.startswith("/"):
        raise InvalidParameter(f"invalid build context entry {member.name!r}: absolute path")
    clean_name(member.name)
    if member.ischr() or member.isblk():
        raise InvalidParameter(f"invalid build context entry {member.name!r}: device files are not allowed")
    if member.islnk():
        clean_name(member.linkname)


def apply_dockerignore(root: Path, keep: tuple[str, ...] = ()) -> None:
    """Delete what the context's .dockerignore excludes (never the Dockerfile and .dockerignore in `keep`)."""
    ignore_file = root / DOCKERIGNORE
    if not ignore_file.is_file() or ignore_file.is_symlink():
        return
    matcher = IgnoreMatcher(read_patterns(ignore_file.read_text(errors="replace")))
    if not matcher.patterns:
        return
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        for name in list(dirs):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if matcher.excluded(rel) and not matcher.has_exceptions:
                shutil.rmtree(os.path.join(directory, name))
                dirs.remove(name)
        for name in files:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rel not in keep and matcher.excluded(rel):
                os.unlink(os.path.join(directory, name))
