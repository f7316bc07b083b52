"""Administration of users and keypairs (the admin GraphQL's mutations), scoped by the actor's role.

A superadmin manages everyone; a domain admin manages the users of its own domain and may grant
only `admin`, `monitor` or `user` (a monitor it makes watches that domain alone: only a
superadmin makes monitors global); monitors and users change nothing here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from backendai_site.common.errors import Conflict, InvalidAPIParameters, NotFound, PermissionDenied

from .enums import DEFAULT_NAME, UserRole, UserStatus
from .models import (
    Domain,
    KeyPair,
    KeypairResourcePolicy,
    Project,
    ProjectMembership,
    User,
    UserResourcePolicy,
)
from .services import IssuedKeypair, keypair_issue

log = logging.getLogger(__name__)

GRANTABLE_ROLES: dict[str, frozenset[str]] = {
    UserRole.SUPERADMIN: frozenset(UserRole.values),
    UserRole.ADMIN: frozenset({UserRole.ADMIN, UserRole.MONITOR, UserRole.USER}),
}
# Reference fields this site has no behaviour for: accepted only at their "off" value, so a value
# the caller means is refused instead of silently dropped.
UNSUPPORTED_OFF_VALUES: dict[str, Any] = {
    "allowed_client_ip": None,
    "totp_activated": False,
    "sudo_session_enabled": False,
    "container_uid": None,
    "container_main_gid": None,
    "container_gids": None,
}


@dataclass(frozen=True, slots=True)
class UserChanges:
    """The fields of a UserInput or ModifyUserInput the client sent (unset ones omitted)."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.values


def require_manager(actor: User) -> None:
    """Only superadmins and domain admins change accounts."""
    if actor.role not in GRANTABLE_ROLES:
        raise PermissionDenied(f"a {actor.role} may not change accounts")


def require_manages(actor: User, user: User) -> None:
    """`actor` may change `user`: superadmin anyone; domain admin non-superadmins of its domain."""
    require_manager(actor)
    if actor.role == UserRole.SUPERADMIN:
        return
    if user.domain_id != actor.domain_id or user.role not in GRANTABLE_ROLES[actor.role]:
        raise PermissionDenied(f"you may not change the user {user.email}")


def require_domain(actor: User, domain: Domain) -> None:
    if actor.role != UserRole.SUPERADMIN and domain.pk != actor.domain_id:
        raise PermissionDenied(f"you may not manage the domain {domain.name}")


def _grantable(actor: User, role: str) -> str:
    if role not in UserRole.values:
        raise InvalidAPIParameters(
            f"unknown role {role!r}; use one of {', '.join(UserRole.values)}"
        )
    if role not in GRANTABLE_ROLES[actor.role]:
        raise PermissionDenied(f"a {actor.role} may not grant the role {role}")
    return role


def _status(value: str) -> str:
    if value not in UserStatus.values:
        choices = ", ".join(UserStatus.values)
        raise InvalidAPIParameters(f"unknown status {value!r}; use one of {choices}")
    return value


def _refuse_unsupported(changes: UserChanges) -> None:
    for name, off in UNSUPPORTED_OFF_VALUES.items():
        if changes.has(name) and changes.get(name) not in (off, [] if off is None else off):
            raise InvalidAPIParameters(f"{name} is not supported by this server")


def _domain(actor: User, name: str) -> Domain:
    domain = Domain.objects.filter(name=name).first()
    if domain is None:
        raise NotFound(f"no domain {name!r}")
    require_domain(actor, domain)
    return domain


def _projects(domain: Domain, ids: list[str]) -> list[Project]:
    try:
        projects = list(Project.objects.filter(domain=domain, pk__in=ids))
    except Exception as exc:  # a malformed UUID is the caller's error, not ours
        raise InvalidAPIParameters(f"bad project id in {ids}") from exc
    if len(projects) != len(set(ids)):
        raise NotFound(f"some of the projects {ids} are not in the domain {domain.name}")
    return projects


@transaction.atomic
def user_admin_create(*, actor: User, email: str, changes: UserChanges) -> User:
    """`create_user`: a user in a domain the actor manages, with a first keypair (as the
    reference does, so the new user can use the API at once)."""
    require_manager(actor)
    _refuse_unsupported(changes)
    domain = _domain(actor, changes.get("domain_name") or "")
    role = _grantable(actor, changes.get("role") or UserRole.USER)
    status = _status(changes.get("status") or UserStatus.ACTIVE)
    password = changes.get("password")
    if not password:
        raise InvalidAPIParameters("a new user needs a password")
    projects = _projects(domain, [str(i) for i in changes.get("group_ids") or []])
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict(f"a user {email} already exists")
    username = changes.get("username") or email
    if User.objects.filter(username=username).exists():
        raise Conflict(f"the username {username} is taken")
    user = User.objects.create_user(
        email=email,
        password=password,
        username=username,
        full_name=changes.get("full_name") or "",
        description=changes.get("description") or "",
        role=role,
        status=status,
        need_password_change=bool(changes.get("need_password_change")),
        domain=domain,
        resource_policy=UserResourcePolicy.objects.get(name=DEFAULT_NAME),
    )
    for project in projects:
        ProjectMembership.objects.create(project=project, user=user)
    keypair_issue(user=user)
    log.info("user created", extra={"user_id": str(user.pk), "by": str(actor.pk)})
    return user


SIMPLE_FIELDS = ("username", "full_name", "description", "need_password_change")


@transaction.atomic
def user_admin_modify(*, actor: User, user: User, changes: UserChanges) -> User:
    """`modify_user`: the fields given, within what the actor may grant."""
    require_manages(actor, user)
    _refuse_unsupported(changes)
    for name in SIMPLE_FIELDS:
        if changes.has(name):
            if changes.get(name) is None:
                raise InvalidAPIParameters(f"{name} cannot be null")
            setattr(user, name, changes.get(name))
    if changes.has("role"):
        user.role = _grantable(actor, changes.get("role"))
    if changes.has("status"):
        user.status = _status(changes.get("status"))
    if changes.has("domain_name"):
        user.domain = _domain(actor, changes.get("domain_name"))
    if changes.get("password"):
        user.set_password(changes.get("password"))
    if changes.has("main_access_key"):
        _make_main(user, changes.get("main_access_key"))
    try:
        user.save()
    except IntegrityError as exc:
        raise Conflict(f"the username {user.username} is taken") from exc
    if changes.has("group_ids"):
        projects = _projects(user.domain, [str(i) for i in changes.get("group_ids") or []])
        ProjectMembership.objects.filter(user=user).exclude(project__in=projects).delete()
        for project in projects:
            ProjectMembership.objects.get_or_create(project=project, user=user)
    log.info("user modified", extra={"user_id": str(user.pk), "by": str(actor.pk)})
    return user


def _make_main(user: User, access_key: str) -> None:
    """The main keypair is the one preferred by `user_main_keypair`: mark it admin-first."""
    keypair = KeyPair.objects.filter(user=user, access_key=access_key, is_active=True).first()
    if keypair is None:
        raise NotFound(f"{user.email} has no active keypair {access_key}")
    KeyPair.objects.filter(user=user).exclude(pk=keypair.pk).update(is_admin=False)
    if user.role in (UserRole.SUPERADMIN, UserRole.ADMIN) and not keypair.is_admin:
        keypair.is_admin = True
        keypair.save(update_fields=["is_admin", "modified_at"])


@transaction.atomic
def user_admin_delete(*, actor: User, user: User) -> None:
    """`delete_user`: mark the user deleted and deactivate its keypairs (the rows stay)."""
    require_manages(actor, user)
    if user.pk == actor.pk:
        raise PermissionDenied("you may not delete yourself")
    user.status = UserStatus.DELETED
    user.save(update_fields=["status", "modified_at"])
    user.keypairs.update(is_active=False)
    log.info("user deleted", extra={"user_id": str(user.pk), "by": str(actor.pk)})


def user_admin_require_purgeable(*, actor: User, user: User) -> None:
    require_manages(actor, user)
    if user.pk == actor.pk:
        raise PermissionDenied("you may not purge yourself")


def keypair_policy_get(name: str) -> KeypairResourcePolicy:
    policy = KeypairResourcePolicy.objects.filter(name=name).first()
    if policy is None:
        raise NotFound(f"no keypair resource policy {name!r}")
    return policy


def _rate_limit(value: Any) -> int:
    if not isinstance(value, int) or value < 1:
        raise InvalidAPIParameters("rate_limit must be a positive integer")
    return value


@transaction.atomic
def keypair_admin_create(
    *,
    actor: User,
    user: User,
    is_active: bool = True,
    is_admin: bool = False,
    resource_policy: str | None = None,
    rate_limit: int | None = None,
) -> IssuedKeypair:
    """`create_keypair`: a new keypair for a user the actor manages; its secret is returned once."""
    require_manages(actor, user)
    issued = keypair_issue(
        user=user,
        is_admin=is_admin,
        resource_policy=keypair_policy_get(resource_policy or DEFAULT_NAME),
        rate_limit=None if rate_limit is None else _rate_limit(rate_limit),
    )
    if not is_active:
        issued.keypair.is_active = False
        issued.keypair.save(update_fields=["is_active", "modified_at"])
    log.info("keypair created", extra={"access_key": issued.keypair.pk, "by": str(actor.pk)})
    return issued


@transaction.atomic
def keypair_admin_modify(
    *, actor: User, keypair: KeyPair, changes: dict[str, Any], acting_access_key: str
) -> KeyPair:
    """`modify_keypair`: activation, admin flag, policy and rate limit of a managed user's key."""
    require_manages(actor, keypair.user)
    unknown = set(changes) - {"is_active", "is_admin", "resource_policy", "rate_limit"}
    if unknown:
        raise InvalidAPIParameters(f"cannot change {', '.join(sorted(unknown))} of a keypair")
    for name in ("is_active", "is_admin"):
        if name in changes:
            if not isinstance(changes[name], bool):
                raise InvalidAPIParameters(f"{name} must be true or false")
            setattr(keypair, name, changes[name])
    if keypair.pk == acting_access_key and not keypair.is_active:
        raise PermissionDenied("you may not deactivate the keypair you are signing with")
    if "resource_policy" in changes:
        keypair.resource_policy = keypair_policy_get(str(changes["resource_policy"]))
    if "rate_limit" in changes:
        keypair.rate_limit = _rate_limit(changes["rate_limit"])
    keypair.save()
    log.info("keypair modified", extra={"access_key": keypair.pk, "by": str(actor.pk)})
    return keypair


def keypair_admin_delete(*, actor: User, keypair: KeyPair, acting_access_key: str) -> None:
    """`delete_keypair`: refused for the key the request is signed with and for keys that own
    sessions (their history keeps the key; deactivate it instead)."""
    require_manages(actor, keypair.user)
    if keypair.pk == acting_access_key:
        raise PermissionDenied("you may not delete the keypair you are signing with")
    try:
        with transaction.atomic():
            keypair.delete()
    except ProtectedError as exc:
        raise Conflict(
            f"the keypair {keypair.pk} owns sessions; deactivate it instead of deleting it"
        ) from exc
    log.info("keypair deleted", extra={"access_key": keypair.pk, "by": str(actor.pk)})
