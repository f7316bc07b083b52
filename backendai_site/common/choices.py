"""`TextChoices` without Django: a `StrEnum` whose members carry a label.

Django's own `models.TextChoices` lives in `django.db.models`, which processes that never touch
the database (the agent daemon) must not import. Members are declared the same way
(`ALIVE = "ALIVE", "Alive"`) and the class offers what model fields and filters read:
`choices`, `values`, `labels`, and each member's `label`.
"""

from __future__ import annotations

from enum import EnumType, StrEnum
from typing import Any, Self


class _TextChoicesType(EnumType):
    def _members(cls) -> list[TextChoices]:
        return list(dict.fromkeys(cls.__members__.values()))  # aliases once, as iteration does

    @property
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls._members()]

    @property
    def values(cls) -> list[str]:
        return [member.value for member in cls._members()]

    @property
    def labels(cls) -> list[str]:
        return [member.label for member in cls._members()]


class TextChoices(StrEnum, metaclass=_TextChoicesType):
    """A string enum with human labels (the value's title case when none is given)."""

    _label: str

    def __new__(cls, value: str, label: str | None = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label if label is not None else value.replace("_", " ").title()
        return member

    @property
    def label(self) -> str:
        return self._label

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self
