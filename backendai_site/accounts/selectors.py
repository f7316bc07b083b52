"""Reads of the accounts app."""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from backendai_site.common.errors import NotFound

from .enums import STAFF_ROLES, UserRole
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


def users_visible_to(*, actor: User) -> QuerySet[User]:
    """Users an actor may read: staff those of the domain it watches (every domain for
    superadmins and global monitors), a plain user itself."""
    qs = User.objects.all()
    if actor.role not in STAFF_ROLES:
        return qs.filter(pk=actor.pk)
    domain_id = user_watched_domain_id(user=actor)
    return qs if domain_id is None else qs.filter(domain_id=domain_id)


def users_for_listing(qs: QuerySet[User]) -> QuerySet[User]:
    """`qs` with what a user row shows (domain, projects, keypairs) fetched in constant queries."""
    return qs.select_related("domain").prefetch_related(
        Prefetch("projects", queryset=Project.objects.order_by("name")),
        Prefetch("keypairs", queryset=KeyPair.objects.order_by("-is_admin", "created_at")),
    )


def users_with_main_key_and_projects(qs: QuerySet[User]) -> QuerySet[User]:
    """`qs` annotated with `main_access_key` (the keypair `user_main_keypair` picks) and
    `project_names` (sorted), each a subquery of the same statement."""
    main_key = (
        KeyPair.objects.filter(user=OuterRef("pk"), is_active=True)
        .order_by("-is_admin", "created_at")
        .values("access_key")[:1]
    )
    names = Project.objects.filter(members=OuterRef("pk")).order_by("name").values("name")
    return qs.annotate(main_access_key=Subquery(main_key), project_names=ArraySubquery(names))


def user_visible_get(*, actor: User, email: str) -> User:
    user = users_for_listing(users_visible_to(actor=actor)).filter(email__iexact=email).first()
    if user is None:
        raise NotFound(f"no user {email!r} visible to you")
    return user


def keypairs_visible_to(*, actor: User) -> QuerySet[KeyPair]:
    """Keypairs an actor may read, scoped like `users_visible_to`."""
    qs = KeyPair.objects.all()
    if actor.role not in STAFF_ROLES:
        return qs.filter(user=actor)
    domain_id = user_watched_domain_id(user=actor)
    return qs if domain_id is None else qs.filter(user__domain_id=domain_id)


def projects_visible_to(*, actor: User) -> QuerySet[Project]:
    """Projects an actor may read: staff those of the domain it watches, users their own."""
    qs = Project.objects.all()
    if actor.role not in STAFF_ROLES:
        return qs.filter(members=actor)
    domain_id = user_watched_domain_id(user=actor)
    return qs if domain_id is None else qs.filter(domain_id=domain_id)


def domains_visible_to(*, actor: User) -> QuerySet[Domain]:
    """Domains an actor may read: every one for superadmins and global monitors, else its own."""
    domain_id = user_watched_domain_id(user=actor) if actor.role in STAFF_ROLES else actor.domain_id
    qs = Domain.objects.all()
    return qs if domain_id is None else qs.filter(pk=domain_id)
