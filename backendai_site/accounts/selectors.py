"""Reads of the accounts app."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from backendai_site.common.errors import NotFound

from .enums import UserRole
from .models import Domain, KeyPair, Project, User


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


def users_visible_to(*, actor: User) -> QuerySet[User]:
    """Users an actor may read: all (superadmin, monitor), its domain's (domain admin), itself."""
    qs = User.objects.all()
    match actor.role:
        case UserRole.SUPERADMIN | UserRole.MONITOR:
            return qs
        case UserRole.ADMIN:
            return qs.filter(domain_id=actor.domain_id)
    return qs.filter(pk=actor.pk)


def users_for_listing(qs: QuerySet[User]) -> QuerySet[User]:
    """`qs` with what a user row shows (domain, projects, keypairs) fetched in constant queries."""
    return qs.select_related("domain").prefetch_related(
        Prefetch("projects", queryset=Project.objects.order_by("name")),
        Prefetch("keypairs", queryset=KeyPair.objects.order_by("-is_admin", "created_at")),
    )


def user_visible_get(*, actor: User, email: str) -> User:
    user = users_for_listing(users_visible_to(actor=actor)).filter(email__iexact=email).first()
    if user is None:
        raise NotFound(f"no user {email!r} visible to you")
    return user


def keypairs_visible_to(*, actor: User) -> QuerySet[KeyPair]:
    """Keypairs an actor may read, scoped like `users_visible_to`."""
    qs = KeyPair.objects.all()
    match actor.role:
        case UserRole.SUPERADMIN | UserRole.MONITOR:
            return qs
        case UserRole.ADMIN:
            return qs.filter(user__domain_id=actor.domain_id)
    return qs.filter(user=actor)


def projects_visible_to(*, actor: User) -> QuerySet[Project]:
    """Projects an actor may read: all, its domain's (domain admin), its own (members)."""
    qs = Project.objects.all()
    match actor.role:
        case UserRole.SUPERADMIN | UserRole.MONITOR:
            return qs
        case UserRole.ADMIN:
            return qs.filter(domain_id=actor.domain_id)
    return qs.filter(members=actor)


def domains_visible_to(*, actor: User) -> QuerySet[Domain]:
    """Domains an actor may read: all (superadmin, monitor), else its own."""
    if actor.role in (UserRole.SUPERADMIN, UserRole.MONITOR):
        return Domain.objects.all()
    return Domain.objects.filter(pk=actor.domain_id)
