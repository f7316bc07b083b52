"""Writes of the accounts app: users, keypairs and the bootstrap of a fresh site."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backendai_site.common.errors import InvalidAPIParameters, LoginFailed, LoginThrottled
from backendai_site.common.ratelimit import rolling_hit, rolling_peek, rolling_reset
from backendai_site.config import get_config

from .crypto import decrypt_secret, encrypt_secret, generate_access_key, generate_secret_key
from .enums import DEFAULT_NAME, UserRole, UserStatus
from .models import (
    Domain,
    KeyPair,
    KeypairResourcePolicy,
    Project,
    ProjectMembership,
    ProjectResourcePolicy,
    User,
    UserResourcePolicy,
)
from .selectors import user_get_by_login, user_main_keypair

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedKeypair:
    """A newly issued keypair and its secret, which is shown only this once."""

    keypair: KeyPair
    secret_key: str


@dataclass(frozen=True, slots=True)
class DefaultTenancy:
    domain: Domain
    project: Project
    keypair_policy: KeypairResourcePolicy
    user_policy: UserResourcePolicy
    project_policy: ProjectResourcePolicy


def keypair_issue(
    *,
    user: User,
    is_admin: bool | None = None,
    resource_policy: KeypairResourcePolicy | None = None,
    rate_limit: int | None = None,
) -> IssuedKeypair:
    """Create a keypair for `user`; the returned secret is not retrievable from the admin."""
    if is_admin is None:
        is_admin = user.role in (UserRole.SUPERADMIN, UserRole.ADMIN)
    if resource_policy is None:
        resource_policy = KeypairResourcePolicy.objects.get(name=DEFAULT_NAME)
    secret_key = generate_secret_key()
    fields: dict[str, Any] = {}
    if rate_limit is not None:
        fields["rate_limit"] = rate_limit
    while True:
        access_key = generate_access_key()
        if not KeyPair.objects.filter(access_key=access_key).exists():
            break
    keypair = KeyPair.objects.create(
        access_key=access_key,
        secret_key_encrypted=encrypt_secret(secret_key),
        user=user,
        is_admin=is_admin,
        resource_policy=resource_policy,
        **fields,
    )
    log.info("keypair issued", extra={"access_key": access_key, "user_id": str(user.id)})
    return IssuedKeypair(keypair=keypair, secret_key=secret_key)


def keypair_secret(*, keypair: KeyPair) -> str:
    """The plain secret key (for signature checks and the authorize endpoint)."""
    return decrypt_secret(keypair.secret_key_encrypted)


def keypair_revoke(*, keypair: KeyPair) -> None:
    keypair.is_active = False
    keypair.save(update_fields=["is_active", "modified_at"])
    log.info("keypair revoked", extra={"access_key": keypair.access_key})


def keypair_mark_used(*, access_key: str) -> None:
    """Record a use with one UPDATE (no read, no full-row save)."""
    KeyPair.objects.filter(access_key=access_key).update(
        last_used=timezone.now(), num_queries=F("num_queries") + 1
    )


def user_set_status(*, user: User, status: UserStatus) -> None:
    user.status = status
    user.save(update_fields=["status", "modified_at"])
    log.info("user status changed", extra={"user_id": str(user.id), "status": str(status)})


def user_password_set_temporary(*, user: User) -> str:
    """Give `user` a random password that it must change at its next login; returns it (the
    console shows it once: it is not stored anywhere readable)."""
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.need_password_change = True
    user.save(update_fields=["password", "need_password_change", "modified_at"])
    log.info("temporary password set", extra={"user_id": str(user.pk)})
    return password


def user_create(
    *,
    email: str,
    password: str | None,
    domain: Domain,
    role: UserRole = UserRole.USER,
    username: str | None = None,
    full_name: str = "",
    resource_policy: UserResourcePolicy | None = None,
    projects: list[Project] | None = None,
) -> User:
    """Create a user in `domain` and add them to `projects`."""
    if resource_policy is None:
        resource_policy = UserResourcePolicy.objects.get(name=DEFAULT_NAME)
    for project in projects or []:
        if project.domain_id != domain.pk:
            raise InvalidAPIParameters(f"project {project.name} is not in domain {domain.name}")
    user = User.objects.create_user(
        email=email,
        password=password,
        username=username or email,
        full_name=full_name,
        role=role,
        domain=domain,
        resource_policy=resource_policy,
    )
    for project in projects or []:
        ProjectMembership.objects.get_or_create(project=project, user=user)
    return user


def superadmin_create(*, email: str, password: str | None = None, **fields: Any) -> User:
    defaults = default_tenancy_ensure()
    fields.pop("role", None)
    return user_create(
        email=email,
        password=password,
        domain=defaults.domain,
        role=UserRole.SUPERADMIN,
        projects=[defaults.project],
        **fields,
    )


@transaction.atomic
def default_tenancy_ensure() -> DefaultTenancy:
    """Create the `default` domain, project and policies when missing (idempotent)."""
    domain, _ = Domain.objects.get_or_create(name=DEFAULT_NAME)
    keypair_policy, _ = KeypairResourcePolicy.objects.get_or_create(
        name=DEFAULT_NAME,
        defaults={"default_for_unspecified": "UNLIMITED", "max_concurrent_sessions": 30},
    )
    user_policy, _ = UserResourcePolicy.objects.get_or_create(name=DEFAULT_NAME)
    project_policy, _ = ProjectResourcePolicy.objects.get_or_create(name=DEFAULT_NAME)
    project, _ = Project.objects.get_or_create(
        domain=domain, name=DEFAULT_NAME, defaults={"resource_policy": project_policy}
    )
    return DefaultTenancy(
        domain=domain,
        project=project,
        keypair_policy=keypair_policy,
        user_policy=user_policy,
        project_policy=project_policy,
    )


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    email: str
    password: str | None  # None when the superadmin already existed
    access_key: str
    secret_key: str


@transaction.atomic
def site_bootstrap(*, admin_email: str) -> BootstrapResult:
    """Defaults plus a superadmin with a generated password and a keypair (idempotent).

    On a second run the existing superadmin and its keypair are kept; the secret key is read back
    from its encrypted form so the credentials file can be rewritten.
    """
    defaults = default_tenancy_ensure()
    user = User.objects.filter(email__iexact=admin_email).first()
    password: str | None = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = user_create(
            email=admin_email,
            password=password,
            domain=defaults.domain,
            role=UserRole.SUPERADMIN,
            username="admin",
            projects=[defaults.project],
        )
    keypair = KeyPair.objects.filter(user=user, is_active=True, is_admin=True).first()
    if keypair is None:
        issued = keypair_issue(user=user, is_admin=True)
        return BootstrapResult(admin_email, password, issued.keypair.access_key, issued.secret_key)
    return BootstrapResult(
        admin_email, password, keypair.access_key, keypair_secret(keypair=keypair)
    )


@dataclass(frozen=True, slots=True)
class AuthorizedLogin:
    user: User
    keypair: KeyPair
    secret_key: str


def _password_login_check(
    *, domain_name: str, email: str, password: str, client: str, need_keypair: bool
) -> User:
    """The one throttled password check of the API logins (`/auth/authorize`,
    `/auth/update-password-no-auth`): failures are counted per account and client address
    together in Redis, so both endpoints share one budget; past `login_max_failures` in the
    rate-limit window that pair is refused without checking."""
    config = get_config()
    window = config.rate_limit_window_seconds
    limit = config.login_max_failures
    key = f"bai:loginfail:{domain_name}:{email.lower()}:{client}"
    failures = rolling_peek(key=key, limit=limit, window_seconds=window)
    if failures.used >= limit:
        raise LoginThrottled(retry_after=failures.retry_after)
    user = user_get_by_login(domain_name=domain_name, email=email)
    has_keypair = user is not None and (not need_keypair or user_main_keypair(user=user))
    if user is None or not user.is_active or not user.check_password(password) or not has_keypair:
        rolling_hit(key=key, limit=limit, window_seconds=window)
        log.info("login failed", extra={"domain": domain_name, "email": email, "client": client})
        raise LoginFailed()
    rolling_reset(key=key)
    return user


def user_authorize(*, domain_name: str, email: str, password: str, client: str) -> AuthorizedLogin:
    """Check a domain/e-mail/password login and hand back the user's keypair.

    The same account from elsewhere and other accounts from the same address still log in
    while one pair is throttled (`_password_login_check`)."""
    user = _password_login_check(
        domain_name=domain_name, email=email, password=password, client=client, need_keypair=True
    )
    keypair = user_main_keypair(user=user)
    assert keypair is not None
    return AuthorizedLogin(user=user, keypair=keypair, secret_key=keypair_secret(keypair=keypair))


def user_password_update_no_auth(
    *, domain_name: str, email: str, current_password: str, new_password: str, client: str
) -> datetime:
    """`POST /auth/update-password-no-auth`: a user who knows its (possibly expired) password
    sets a new one without a keypair. Throttled with the logins; returns when it changed."""
    user = _password_login_check(
        domain_name=domain_name,
        email=email,
        password=current_password,
        client=client,
        need_keypair=False,
    )
    if new_password == current_password:
        raise InvalidAPIParameters("The new password must differ from the current one.")
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise InvalidAPIParameters(" ".join(exc.messages)) from None
    user.set_password(new_password)
    user.need_password_change = False
    user.save(update_fields=["password", "need_password_change", "modified_at"])
    log.info("password changed without auth", extra={"user_id": str(user.pk), "client": client})
    return user.modified_at
