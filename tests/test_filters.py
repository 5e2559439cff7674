"""Docker's filters parameter: both JSON shapes, errors, key checks, label matching."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidParameter
from dockyard.util.filters import check_keys, exact_match, fuzzy_match, match_label, parse_filters


def test_parse_both_shapes() -> None:
    assert parse_filters(None) == {} and parse_filters("") == {} and parse_filters("{}") == {}
    assert parse_filters('{"label":{"a=b":true,"c":true},"status":{"running":true}}') == {
        "label": ["a=b", "c"], "status": ["running"]}
    assert parse_filters('{"name":["web","db","web"]}') == {"name": ["web", "db"]}


@pytest.mark.parametrize("text", ["{", "[1]", '"x"', '{"a": "b"}', '{"a": [1]}', '{"a": {"b": "yes"}}'])
def test_parse_rejects_junk(text: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid filter"):
        parse_filters(text)


def test_check_keys() -> None:
    check_keys({"name": ["x"]}, ["name", "id"])
    with pytest.raises(InvalidParameter) as err:
        check_keys({"name": ["x"], "colour": ["red"]}, ["name"])
    assert err.value.message == "invalid filter 'colour'"


def test_matchers() -> None:
    assert match_label({"a": "1", "b": ""}, ["a", "a=1", "b="])
    assert not match_label({"a": "1"}, ["a=2"]) and not match_label(None, ["a"])
    assert match_label(None, [])
    assert exact_match({}, "k", "v") and exact_match({"k": ["v"]}, "k", "v") and not exact_match({"k": ["w"]}, "k", "v")
    assert fuzzy_match({"k": ["ab"]}, "k", "abc") and not fuzzy_match({"k": ["abd"]}, "k", "abc")
