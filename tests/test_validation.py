"""backendai_site.common.validation and the bounds on error bodies (common/errors.py)."""

from __future__ import annotations

import json

import pytest

from backendai_site.common.errors import InvalidAPIParameters, clip_data
from backendai_site.common.validation import MAX_JSON_DEPTH, json_loads_bounded


class TestJsonLoadsBounded:
    def test_nesting_up_to_the_limit_is_parsed(self) -> None:
        text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH

        assert json_loads_bounded(text) == json.loads(text)

    def test_one_level_more_is_refused(self) -> None:
        depth = MAX_JSON_DEPTH + 1

        with pytest.raises(InvalidAPIParameters, match="deeper"):
            json_loads_bounded("[" * depth + "]" * depth)

    def test_brackets_inside_strings_do_not_count(self) -> None:
        text = json.dumps({"code": "[" * 1000 + '\\"{' * 100})

        assert json_loads_bounded(text)["code"].startswith("[[[")

    @pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "{nope"])
    def test_non_standard_constants_and_garbage_are_refused(self, text: str) -> None:
        with pytest.raises(InvalidAPIParameters, match="not valid JSON"):
            json_loads_bounded(text)


class TestClipData:
    def test_long_strings_many_items_and_deep_nesting_are_cut(self) -> None:
        deep: object = "x"
        for _ in range(10):
            deep = [deep]

        clipped = clip_data(
            {"long": "a" * 100_000, "many": list(range(1000)), "deep": deep, "big": 10**100}
        )

        assert len(json.dumps(clipped)) < 2048
        assert clipped["big"] == "(a very large number)"

    def test_an_error_body_stays_small_whatever_the_message(self) -> None:
        error = InvalidAPIParameters("m" * 1_000_000, data={"x": "y" * 1_000_000})

        assert len(json.dumps(error.as_problem())) < 4096
