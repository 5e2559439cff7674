"""go-units compatible human units."""

from __future__ import annotations

import pytest

from dockyard.util.humanize import (bytes_size, human_duration, human_size, human_size_precision, parse_duration,
                                    parse_size, time_ago)


@pytest.mark.parametrize("secs,text", [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (14 * 86400, "2 weeks"),
    (60 * 86400, "2 months"), (730 * 86400, "2 years"),
])
def test_human_duration(secs: float, text: str) -> None:
    assert human_duration(secs) == text


def test_sizes() -> None:
    assert human_size(4270000) == "4.27MB"
    assert human_size(187654321) == "187.7MB"
    assert human_size_precision(187654321, 3) == "188MB"
    assert human_size_precision(1234, 3) == "1.23kB"
    assert human_size(0) == "0B"
    assert bytes_size(1536) == "1.5KiB"


def test_parse_size_and_duration() -> None:
    assert parse_size("64m") == 64 << 20
    assert parse_size("1.5g") == int(1.5 * (1 << 30))
    assert parse_size("100") == 100
    with pytest.raises(ValueError, match="invalid size: 'abc'"):
        parse_size("abc")
    assert parse_duration("1h30m") == 5400
    assert parse_duration("300ms") == pytest.approx(0.3)
    assert parse_duration("-1.5s") == -1.5
    with pytest.raises(ValueError):
        parse_duration("10")
    assert time_ago(1000, now=1000 + 7200) == "2 hours ago"
