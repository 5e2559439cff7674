"""A tar reader over chunks handed in from another thread: headers parsed, member data passed on without copies."""

from __future__ import annotations

import queue
import tarfile
import zlib
from typing import Iterator

from dockyard.errors import InvalidParameter

BLOCK = 512
_GZIP_MAGIC = b"\x1f\x8b"
_PAX_INT = {"uid", "gid", "size"}
_SPECIAL = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK)


class ChunkReader:
    """Bytes from a queue of chunks (None ends the stream), gunzipped when the stream starts as gzip."""

    def __init__(self, chunks: "queue.Queue[bytes | None]") -> None:
        self._chunks = chunks
        self._current = memoryview(b"")
        self._inflate: "zlib._Decompress | None" = None
        self._started = False
        self.eof = False

    def _refill(self) -> bool:
        """Take the next non-empty chunk; False at the end of the stream."""
        while not self.eof:
            chunk = self._chunks.get()
            if chunk is None:
                self.eof = True
                if self._inflate is not None and not self._inflate.eof:
                    raise InvalidParameter("failed to read the build context: truncated gzip stream")
                return False
            if not self._started:
                self._started = True
                if chunk.startswith(_GZIP_MAGIC):
                    self._inflate = zlib.decompressobj(wbits=31)
            if self._inflate is not None:
                try:
                    chunk = self._inflate.decompress(chunk)
                except zlib.error as exc:
                    raise InvalidParameter(f"failed to read the build context: {exc}") from exc
            if chunk:
                self._current = memoryview(chunk)
                return True
        return False

    def pieces(self, size: int) -> Iterator[memoryview]:
        """Exactly `size` bytes as views into the received chunks; an error if the stream ends first."""
        while size:
            if not self._current and not self._refill():
                raise InvalidParameter("failed to read the build context: unexpected EOF")
            piece = self._current[:size]
            self._current = self._current[len(piece):]
            size -= len(piece)
            yield piece

    def read_block(self) -> bytes | None:
        """One 512-byte block, or None at a clean end of the stream."""
        if not self._current and not self._refill():
            return None
        return b"".join(self.pieces(BLOCK))

    def drain(self) -> None:
        """Consume whatever is left, up to the end of the stream, without looking at it."""
        self._current = memoryview(b"")
        while not self.eof:
            self.eof = self._chunks.get() is None


def members(reader: ChunkReader) -> Iterator[tarfile.TarInfo]:
    """Every member's header (PAX and GNU long names applied); the caller reads `member.size` bytes of data
    with `data(reader, member)` before asking for the next one."""
    overrides: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    while (block := reader.read_block()) is not None:
        if block == bytes(BLOCK):
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise InvalidParameter(f"failed to read the build context: {exc}") from exc
        if info.type in _SPECIAL:
            body = b"".join(data(reader, info))
            if info.type == tarfile.GNUTYPE_LONGNAME:
                overrides["path"] = _nul_terminated(body)
            elif info.type == tarfile.GNUTYPE_LONGLINK:
                overrides["linkpath"] = _nul_terminated(body)
            elif info.type == tarfile.XGLTYPE:
                global_pax.update(_pax_records(body))
            else:
                overrides.update(_pax_records(body))
            continue
        if info.type == tarfile.GNUTYPE_SPARSE:
            raise InvalidParameter(f"failed to read the build context: sparse file {info.name!r}")
        _apply_pax(info, {**global_pax, **overrides})
        overrides = {}
        yield info


def data(reader: ChunkReader, member: tarfile.TarInfo) -> Iterator[memoryview]:
    """A member's data as views, then its padding skipped."""
    size = member.size if member.type in (*_SPECIAL, *tarfile.REGULAR_TYPES) else 0
    yield from reader.pieces(size)
    for _ in reader.pieces(-size % BLOCK):
        pass


def _nul_terminated(body: bytes) -> str:
    """A GNU long name or link target: the text up to its first NUL, as tarfile reads one."""
    return body.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_records(body: bytes) -> dict[str, str]:
    """Decode "<length> <key>=<value>\\n" records."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(body) and body[pos:pos + 1] != b"\0":
        space = body.find(b" ", pos)
        try:
            length = int(body[pos:space])
        except ValueError:
            raise InvalidParameter("failed to read the build context: malformed PAX header") from None
        if space < 0 or length <= space - pos or pos + length > len(body):
            raise InvalidParameter("failed to read the build context: malformed PAX header")
        key, _, value = body[space + 1:pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _apply_pax(info: tarfile.TarInfo, pax: dict[str, str]) -> None:
    """Let PAX (and GNU long name) values override the ustar header's fields."""
    if not pax:
        return
    info.pax_headers = dict(pax)
    try:
        for key, value in pax.items():
            if key == "path":
                info.name = value
            elif key == "linkpath":
                info.linkname = value
            elif key in _PAX_INT:
                setattr(info, key, int(value))
            elif key == "mtime":
                info.mtime = float(value)
            elif key in ("uname", "gname"):
                setattr(info, key, value)
    except ValueError:
        raise InvalidParameter(f"failed to read the build context: bad PAX value for {info.name!r}") from None
    if info.type == tarfile.AREGTYPE and info.name.endswith("/"):
        info.type = tarfile.DIRTYPE
