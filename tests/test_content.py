"""Content store: ingest, verification, atomic placement, deletion."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from dockyard.content.store import ContentStore
from dockyard.errors import InvalidParameter, NotFound


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_ingest_stream_and_read_back(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    data = b"x" * (3 << 20)
    digest, size = store.ingest(io.BytesIO(data), expected=_digest(data))
    assert (digest, size) == (_digest(data), len(data))
    assert store.exists(digest)
    assert store.path(digest) == tmp_path / "blobs" / "sha256" / digest.split(":")[1]
    with store.open(digest) as handle:
        assert handle.read() == data
    assert list(store.digests()) == [digest]
    assert list((tmp_path / "ingest").iterdir()) == []


def test_ingest_iterable_and_json(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    digest, size = store.ingest([b'{"a":', b" 1}"])
    assert size == 8 and store.read_json(digest) == {"a": 1}


def test_digest_mismatch_leaves_nothing(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(InvalidParameter, match="unexpected commit digest"):
        store.ingest(io.BytesIO(b"hello"), expected=_digest(b"other"))
    assert list(store.digests()) == []
    assert list((tmp_path / "ingest").iterdir()) == []


def test_size_mismatch_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    writer = store.begin()
    writer.write(b"abc")
    with pytest.raises(InvalidParameter, match="unexpected commit size"):
        writer.commit(expected_size=4)
    assert not store.exists(_digest(b"abc"))


def test_delete_and_not_found(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    digest, _ = store.ingest([b"data"])
    store.delete(digest)
    assert not store.exists(digest)
    with pytest.raises(NotFound):
        store.delete(digest)
    with pytest.raises(NotFound):
        store.open(digest)
    with pytest.raises(InvalidParameter):
        store.path("sha256:../../etc/passwd")


def test_stale_ingest_files_removed_on_open(tmp_path: Path) -> None:
    ContentStore(tmp_path)
    (tmp_path / "ingest" / "leftover").write_bytes(b"partial")
    ContentStore(tmp_path)
    assert list((tmp_path / "ingest").iterdir()) == []
