"""ResourceSlot (backendai_site/common/resource_slot.py): parsing, arithmetic, order, JSON."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backendai_site.common.errors import InvalidAPIParameters, InvalidResourceSlot
from backendai_site.common.resource_slot import (
    ResourceSlot,
    format_binary_size,
    parse_binary_size,
)

slot_names = st.sampled_from(["cpu", "mem", "cuda.device", "cuda.shares", "tpu.device"])
amounts = st.decimals(
    min_value=0, max_value=10**15, places=3, allow_nan=False, allow_infinity=False
)
slots = st.dictionaries(slot_names, amounts).map(ResourceSlot)


class TestParseBinarySize:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("4g", 4 * 1024**3),
            ("512m", 512 * 1024**2),
            ("1.5k", 1536),
            ("1024", 1024),
            ("2G", 2 * 1024**3),
            ("1gib", 1024**3),
            ("3 TB", 3 * 1024**4),
            ("1p", 1024**5),
            ("0.3k", 307),  # truncated to whole bytes like BinarySize
        ],
    )
    def test_parses_suffixes_as_powers_of_1024(self, text: str, expected: int) -> None:
        assert parse_binary_size(text) == Decimal(expected)

    @pytest.mark.parametrize("text", ["", "g", "4x", "-1g", "1.2.3", "nan", "4 g b c"])
    def test_rejects_nonsense(self, text: str) -> None:
        with pytest.raises(InvalidResourceSlot):
            parse_binary_size(text)

    @given(st.integers(min_value=0, max_value=2**62))
    def test_format_round_trips(self, value: int) -> None:
        assert parse_binary_size(format_binary_size(value)) == value


class TestResourceSlotParse:
    def test_parses_user_input_per_slot_kind(self) -> None:
        slot = ResourceSlot.parse({"cpu": "1.5", "mem": "4g", "cuda.shares": 0.5, "cuda.device": 2})

        assert slot == ResourceSlot(
            {
                "cpu": Decimal("1.5"),
                "mem": Decimal(4 * 1024**3),
                "cuda.shares": Decimal("0.5"),
                "cuda.device": Decimal(2),
            }
        )

    @pytest.mark.parametrize(
        "raw",
        [
            {"cpu": "4g"},
            {"cpu": "-1"},
            {"cpu": "abc"},
            {"cpu": True},
            {"cpu": None},
            {"cpu": "Infinity"},
            {"mem": "lots"},
            {"Bad Name": "1"},
            {"": "1"},
        ],
    )
    def test_rejects_nonsense_with_a_domain_error(self, raw: dict[str, object]) -> None:
        with pytest.raises(InvalidAPIParameters) as excinfo:
            ResourceSlot.parse(raw)

        assert excinfo.value.as_problem()["type"].endswith("invalid-api-params")

    def test_rejects_a_non_mapping(self) -> None:
        with pytest.raises(InvalidResourceSlot):
            ResourceSlot.parse(["cpu", "1"])  # type: ignore[arg-type]


class TestResourceSlotAlgebra:
    def test_missing_slots_count_as_zero(self) -> None:
        small = ResourceSlot.parse({"cpu": "1"})
        big = ResourceSlot.parse({"cpu": "2", "mem": "1g"})

        assert small <= big
        assert not big <= small
        assert big >= small
        assert ResourceSlot.parse({"cpu": "1", "mem": "0"}) == small

    def test_incomparable_slots_are_neither_le_nor_ge(self) -> None:
        cpu_heavy = ResourceSlot.parse({"cpu": "4", "mem": "1g"})
        mem_heavy = ResourceSlot.parse({"cpu": "1", "mem": "8g"})

        assert not cpu_heavy <= mem_heavy
        assert not cpu_heavy >= mem_heavy

    @given(slots, slots)
    def test_addition_commutes_and_subtraction_undoes_it(
        self, a: ResourceSlot, b: ResourceSlot
    ) -> None:
        assert a + b == b + a
        assert (a + b) - b == a

    @given(slots, slots)
    def test_adding_a_nonnegative_amount_never_shrinks(
        self, a: ResourceSlot, b: ResourceSlot
    ) -> None:
        assert a <= a + b
        assert a + b >= b

    @given(slots, slots)
    def test_equality_matches_the_partial_order(self, a: ResourceSlot, b: ResourceSlot) -> None:
        assert (a == b) == (a <= b and a >= b)
        if a == b:
            assert hash(a) == hash(b)


class TestResourceSlotJson:
    @given(slots)
    def test_json_round_trip_is_exact(self, slot: ResourceSlot) -> None:
        wire = json.loads(json.dumps(slot.to_json()))

        assert all(isinstance(value, str) for value in wire.values())
        assert ResourceSlot.from_json(wire) == slot

    def test_json_has_no_exponents(self) -> None:
        slot = ResourceSlot.parse({"mem": "4g", "cpu": "2.50"})

        assert slot.to_json() == {"cpu": "2.5", "mem": "4294967296"}
        assert slot.to_humanized() == {"cpu": "2.5", "mem": "4g"}

    def test_from_json_rejects_garbage(self) -> None:
        with pytest.raises(InvalidResourceSlot):
            ResourceSlot.from_json({"cpu": "two"})
