"""Reads of the accounts app."""

from __future__ import annotations

from .enums import UserRole
from .models import KeyPair, User


def keypair_get_for_auth(*, access_key: str) -> KeyPair | None:
    """The keypair with its user and domain in one query, or None."""
    return (
        KeyPair.objects.select_related("user", "user__domain", "resource_policy")
        .filter(access_key=access_key)
        .first()
    )


def user_get_by_login(*, domain_name: str, email: str) -> User | None:
    return (
        User.objects.select_related("domain")
        .filter(domain__name=domain_name, email__iexact=email)
        .first()
    )


def user_main_keypair(*, user: User) -> KeyPair | None:
    """The user's active keypair, preferring admin keypairs and then the oldest."""
    return (
        KeyPair.objects.filter(user=user, is_active=True)
        .order_by("-is_admin", "created_at")
        .first()
    )


def user_watched_domain_id(*, user: User) -> int | None:
    """The one domain a staff user's reach is confined to, or None for every domain.

    Superadmins and monitors a superadmin made global reach every domain; domain admins and
    every other monitor reach their own domain only. Plain users reach no domain as a whole
    (their own objects only), which callers check before asking this."""
    if user.role == UserRole.SUPERADMIN:
        return None
    if user.role == UserRole.MONITOR and user.monitors_all_domains:
        return None
    return user.domain_id
