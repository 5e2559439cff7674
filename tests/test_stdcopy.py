"""stdcopy framing and incremental demultiplexing."""

from __future__ import annotations

import random

import pytest

from dockyard.util.stdcopy import STDERR, STDOUT, Demuxer, frame


def test_frame_header() -> None:
    assert frame(STDOUT, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(STDERR, b"x" * 300)[:8] == b"\x02\x00\x00\x00\x00\x00\x01\x2c"
    assert frame(STDOUT, b"") == b""
    with pytest.raises(ValueError):
        frame(7, b"x")


def test_demux_any_split() -> None:
    rng = random.Random(7)
    frames = [(rng.choice([STDOUT, STDERR]), rng.randbytes(rng.randint(1, 5000))) for _ in range(50)]
    wire = b"".join(frame(s, d) for s, d in frames)
    demux, got, pos = Demuxer(), [], 0
    while pos < len(wire):
        step = rng.randint(1, 3000)
        got += demux.feed(wire[pos:pos + step])
        pos += step
    assert got == frames and demux.pending == 0
    assert Demuxer().feed(wire[:5]) == []


def test_demux_rejects_bad_stream() -> None:
    with pytest.raises(ValueError):
        Demuxer().feed(b"\x09\x00\x00\x00\x00\x00\x00\x01x")
