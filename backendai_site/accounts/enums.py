"""Roles, statuses and other vocabularies of the accounts app."""

from __future__ import annotations

from django.db import models


class UserRole(models.TextChoices):
    SUPERADMIN = "superadmin", "Super admin"
    ADMIN = "admin", "Domain admin"
    USER = "user", "User"
    MONITOR = "monitor", "Monitor"


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DELETED = "deleted", "Deleted"
    BEFORE_VERIFICATION = "before-verification", "Before verification"


class DefaultForUnspecified(models.TextChoices):
    LIMITED = "LIMITED", "Limited (0 for slots not listed)"
    UNLIMITED = "UNLIMITED", "Unlimited for slots not listed"


STAFF_ROLES = frozenset({UserRole.SUPERADMIN, UserRole.ADMIN, UserRole.MONITOR})
DEFAULT_NAME = "default"

# How far each role reaches, highest first: a role may grant only roles at or below its own.
ROLE_RANK = {
    UserRole.SUPERADMIN: 3,
    UserRole.ADMIN: 2,
    UserRole.MONITOR: 1,
    UserRole.USER: 0,
}
