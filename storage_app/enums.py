"""Choices of the storage app; the status enum owns the trash states and their moves."""

from __future__ import annotations

from django.db import models


class VFolderStatus(models.TextChoices):
    READY = "ready"
    PERFORMING = "performing"
    CLONING = "cloning"
    DELETE_PENDING = "delete-pending"  # in the trash bin: restorable
    DELETE_ONGOING = "delete-ongoing"  # purge in progress
    DELETE_COMPLETE = "delete-complete"  # purged: bytes gone, row kept for history
    DELETE_ERROR = "delete-error"

    @classmethod
    def live(cls) -> frozenset[str]:
        """Folders that count towards quotas and names (not purged)."""
        return frozenset({cls.READY, cls.PERFORMING, cls.CLONING, cls.DELETE_PENDING})

    @classmethod
    def usable(cls) -> frozenset[str]:
        """Folders whose files may be read, written and mounted."""
        return frozenset({cls.READY})

    @classmethod
    def allowed_moves(cls) -> dict[str, frozenset[str]]:
        return {
            cls.READY: frozenset({cls.DELETE_PENDING, cls.PERFORMING, cls.CLONING}),
            cls.PERFORMING: frozenset({cls.READY}),
            cls.CLONING: frozenset({cls.READY, cls.DELETE_ERROR}),
            cls.DELETE_PENDING: frozenset({cls.READY, cls.DELETE_ONGOING}),
            cls.DELETE_ONGOING: frozenset({cls.DELETE_COMPLETE, cls.DELETE_ERROR}),
            cls.DELETE_ERROR: frozenset({cls.DELETE_ONGOING}),
            cls.DELETE_COMPLETE: frozenset(),
        }


class VFolderUsageMode(models.TextChoices):
    GENERAL = "general"
    DATA = "data"
    MODEL = "model"


class VFolderPermissionMode(models.TextChoices):
    READ_ONLY = "ro"
    READ_WRITE = "rw"
    RW_DELETE = "wd"

    @classmethod
    def rank(cls, value: str) -> int:
        ranks: dict[str, int] = {"ro": 1, "rw": 2, "wd": 3}
        return ranks.get(str(value), 0)


class VFolderOwnership(models.TextChoices):
    USER = "user"
    PROJECT = "group"  # the wire name Backend.AI uses for projects


class InvitationState(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELED = "canceled"
