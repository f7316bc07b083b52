"""ResourceSlot: an exact, immutable amount of every resource slot (cpu, mem, cuda.shares, ...).

Values are `Decimal`. A slot missing from a ResourceSlot counts as zero, so `{"cpu": 1}` equals
`{"cpu": 1, "mem": 0}`, and `a <= b` means "every slot of `a` fits in the same slot of `b`".
User input follows Backend.AI's conventions: counts are decimals ("1", "0.5"); byte slots (`mem`
and any `*.mem`) also take binary size suffixes k/m/g/t/p/e (powers of 1024, an optional trailing
"b"/"ib" is accepted) and are truncated to whole bytes like Backend.AI's `BinarySize`. JSON keeps
values as strings so nothing is lost to floats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from backendai_site.common.errors import InvalidResourceSlot

__all__ = [
    "ResourceSlot",
    "format_binary_size",
    "is_bytes_slot",
    "parse_binary_size",
]

_SUFFIXES = "kmgtpe"
_SIZE_RE = re.compile(
    r"^\s*(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[kmgtpe])?(?:i?b)?\s*$",
    re.IGNORECASE,
)
_SLOT_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$")


def is_bytes_slot(slot_name: str) -> bool:
    """True for slots measured in bytes (`mem`, `cuda.mem`, ...), which accept size suffixes."""
    return slot_name == "mem" or slot_name.endswith(".mem")


def parse_binary_size(value: str | int | Decimal) -> Decimal:
    """Bytes from "4g", "512m", "1.5k", "1024" or an int; truncated to whole bytes."""
    if isinstance(value, bool):
        raise InvalidResourceSlot(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidResourceSlot(f"a size cannot be negative: {value}")
        return Decimal(value)
    if isinstance(value, Decimal):
        return Decimal(int(_check_decimal(value, str(value))))
    match = _SIZE_RE.match(value)
    if match is None:
        raise InvalidResourceSlot(f"not a size: {value!r} (expected e.g. 4g, 512m, 1024)")
    number = Decimal(match["num"])
    unit = match["unit"]
    multiplier = 1024 ** (_SUFFIXES.index(unit.lower()) + 1) if unit else 1
    return Decimal(int(number * multiplier))


def format_binary_size(value: Decimal | int) -> str:
    """The shortest exact suffix form: 4294967296 -> "4g", 1536 -> "1.5k"."""
    amount = Decimal(value)
    for index in range(len(_SUFFIXES), 0, -1):
        unit = Decimal(1024**index)
        if abs(amount) >= unit:
            scaled = amount / unit
            if scaled * unit == amount:
                return f"{_plain(scaled)}{_SUFFIXES[index - 1]}"
    return _plain(amount)


def _plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 4.0E+9 -> "4000000000", 1.50 -> "1.5"."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def _check_decimal(value: Decimal, shown: str) -> Decimal:
    if not value.is_finite():
        raise InvalidResourceSlot(f"not a finite amount: {shown!r}")
    if value < 0:
        raise InvalidResourceSlot(f"a resource amount cannot be negative: {shown!r}")
    return value


def _parse_count(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidResourceSlot(f"not an amount: {value!r}")
    if isinstance(value, Decimal):
        return _check_decimal(value, str(value))
    if isinstance(value, int):
        return _check_decimal(Decimal(value), str(value))
    if isinstance(value, float):
        return _check_decimal(Decimal(repr(value)), repr(value))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidResourceSlot(f"not an amount: {value!r}") from None
        return _check_decimal(parsed, value)
    raise InvalidResourceSlot(f"not an amount: {value!r}")


def parse_slot_value(slot_name: str, value: Any) -> Decimal:
    """One user-given amount for `slot_name`, with size suffixes for byte slots."""
    if is_bytes_slot(slot_name) and isinstance(value, str):
        return parse_binary_size(value)
    amount = _parse_count(value)
    return Decimal(int(amount)) if is_bytes_slot(slot_name) else amount


def _check_slot_name(name: Any) -> str:
    if not isinstance(name, str) or not _SLOT_NAME_RE.match(name):
        raise InvalidResourceSlot(
            f"not a slot name: {name!r} (expected e.g. cpu, mem, cuda.shares)"
        )
    return name


class ResourceSlot(Mapping[str, Decimal]):
    """An immutable mapping of slot name to Decimal amount; missing slots count as zero."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Decimal] | Iterable[tuple[str, Decimal]] = ()) -> None:
        items = data.items() if isinstance(data, Mapping) else data
        checked: dict[str, Decimal] = {}
        for name, amount in items:
            if not isinstance(amount, Decimal):
                raise TypeError(
                    f"ResourceSlot values must be Decimal (use ResourceSlot.parse): {name}"
                )
            checked[_check_slot_name(name)] = amount
        self._data = checked

    # construction ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> ResourceSlot:
        """From user input: {"cpu": "2", "mem": "4g", "cuda.shares": 0.5}. Raises on nonsense."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InvalidResourceSlot(f"resource slots must be an object, not {type(raw).__name__}")
        return cls(
            (_check_slot_name(name), parse_slot_value(name, value)) for name, value in raw.items()
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> ResourceSlot:
        """From the stored/wire form written by `to_json` (strings; numbers are accepted)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InvalidResourceSlot(f"resource slots must be an object, not {type(raw).__name__}")
        return cls(
            (_check_slot_name(name), _parse_json_value(value)) for name, value in raw.items()
        )

    def to_json(self) -> dict[str, str]:
        """Exact strings, slots sorted by name: {"cpu": "2", "mem": "4294967296"}."""
        return {name: _plain(self._data[name]) for name in sorted(self._data)}

    def to_humanized(self) -> dict[str, str]:
        """For people: byte slots with suffixes ("4g"), other slots as plain decimals."""
        return {
            name: format_binary_size(amount) if is_bytes_slot(name) else _plain(amount)
            for name, amount in sorted(self._data.items())
        }

    # mapping -----------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Decimal:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def get_or_zero(self, key: str) -> Decimal:
        return self._data.get(key, Decimal(0))

    def __repr__(self) -> str:
        return f"ResourceSlot({self.to_json()!r})"

    # arithmetic --------------------------------------------------------------------------------
    def _keys_with(self, other: Mapping[str, Decimal]) -> list[str]:
        return sorted(set(self._data) | set(other))

    def __add__(self, other: Mapping[str, Decimal]) -> ResourceSlot:
        if not isinstance(other, ResourceSlot):
            return NotImplemented
        return ResourceSlot(
            (k, self.get_or_zero(k) + other.get_or_zero(k)) for k in self._keys_with(other)
        )

    def __sub__(self, other: Mapping[str, Decimal]) -> ResourceSlot:
        if not isinstance(other, ResourceSlot):
            return NotImplemented
        return ResourceSlot(
            (k, self.get_or_zero(k) - other.get_or_zero(k)) for k in self._keys_with(other)
        )

    # comparison: per slot, missing = 0 (a partial order, so < and > are not defined) --------------
    def __le__(self, other: object) -> bool:
        if not isinstance(other, ResourceSlot):
            return NotImplemented
        return all(self.get_or_zero(k) <= other.get_or_zero(k) for k in self._keys_with(other))

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, ResourceSlot):
            return NotImplemented
        return all(self.get_or_zero(k) >= other.get_or_zero(k) for k in self._keys_with(other))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceSlot):
            return NotImplemented
        return all(self.get_or_zero(k) == other.get_or_zero(k) for k in self._keys_with(other))

    def __hash__(self) -> int:
        return hash(frozenset((k, v) for k, v in self._data.items() if v != 0))

    def is_nonnegative(self) -> bool:
        return all(amount >= 0 for amount in self._data.values())

    def only(self, slot_names: Iterable[str]) -> ResourceSlot:
        """The slots named in `slot_names` (others dropped)."""
        wanted = set(slot_names)
        return ResourceSlot((k, v) for k, v in self._data.items() if k in wanted)


def _parse_json_value(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidResourceSlot(f"not an amount: {value!r}")
    try:
        if isinstance(value, str | int):
            parsed = Decimal(value)
        elif isinstance(value, float):
            parsed = Decimal(repr(value))
        elif isinstance(value, Decimal):
            parsed = value
        else:
            raise InvalidResourceSlot(f"not an amount: {value!r}")
    except InvalidOperation:
        raise InvalidResourceSlot(f"not an amount: {value!r}") from None
    if not parsed.is_finite():
        raise InvalidResourceSlot(f"not a finite amount: {value!r}")
    return parsed
