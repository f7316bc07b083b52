"""Reads of the accounts app."""

from __future__ import annotations

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
