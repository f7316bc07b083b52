"""Who may see and change which templates and dotfiles (one rule per kind, every view asks it),
and the dotfiles a new session receives.

Templates: VIEW for the owner, members of the template's project, and staff by role (domain
admins and monitors their domain, global monitors and superadmins every domain); MANAGE for the
owner, the domain's admins and superadmins. Dotfiles: user dotfiles belong to their user (admins
may act for a user of their domain with `owner_access_key`); project dotfiles are read by the
project's members and staff of its domain, domain dotfiles by the domain's users; only the
domain's admins and superadmins change either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, KeyPair, Project, ProjectMembership, User
from backendai_site.accounts.selectors import user_watched_domain_id

from .enums import DotfileScope, ScopeAction
from .errors import (
    OwnerNotPermitted,
    ScopeActionNotPermitted,
    ScopeNotFound,
    TaskTemplateNotFound,
)
from .models import Dotfile, SessionTemplate

STAFF_ROLES = frozenset({UserRole.SUPERADMIN, UserRole.ADMIN, UserRole.MONITOR})
SCOPE_PRIORITY = {DotfileScope.USER: 0, DotfileScope.PROJECT: 1, DotfileScope.DOMAIN: 2}


def acting_user_resolve(*, requester: KeyPair, owner_access_key: str | None) -> User:
    """The user a request acts for: the requester's, or (admins only) the owner of
    `owner_access_key`: superadmins anyone's, domain admins their domain's."""
    if not owner_access_key or owner_access_key == requester.access_key:
        return requester.user
    owner = (
        KeyPair.objects.select_related("user", "user__domain")
        .filter(access_key=owner_access_key)
        .first()
    )
    role = requester.user.role
    if owner is not None and (
        role == UserRole.SUPERADMIN
        or (role == UserRole.ADMIN and owner.user.domain_id == requester.user.domain_id)
    ):
        return owner.user
    raise OwnerNotPermitted()


def _member_projects(user: User) -> QuerySet[ProjectMembership, uuid.UUID]:
    return ProjectMembership.objects.filter(user=user).values_list("project_id", flat=True)


# --- templates -------------------------------------------------------------------------------


def templates_for(
    *, user: User, action: ScopeAction, by_role: bool = True
) -> QuerySet[SessionTemplate]:
    """Active templates `user` may `action`. `by_role=False` narrows staff to what a plain user
    sees (their own and their projects'), as `session-template list` without `--list-all`."""
    qs = SessionTemplate.objects.filter(is_active=True)
    personal = Q(user=user)
    if action == ScopeAction.VIEW:
        personal |= Q(project__in=_member_projects(user))
    if not by_role or user.role not in STAFF_ROLES:
        return qs.filter(personal)
    if user.role == UserRole.MONITOR and action == ScopeAction.MANAGE:
        return qs.filter(personal)
    domain_id = user_watched_domain_id(user=user)
    return qs if domain_id is None else qs.filter(personal | Q(domain_id=domain_id))


def template_get(*, user: User, template_id: str, action: ScopeAction) -> SessionTemplate:
    """The template `template_id` (hex or dashed UUID): 404 when `user` may not see it, 403
    (scope-action-not-permitted) when it may see but not `action` it."""
    try:
        pk = uuid.UUID(template_id)
    except ValueError:
        raise TaskTemplateNotFound() from None
    template = (
        templates_for(user=user, action=ScopeAction.VIEW)
        .select_related("user", "project", "domain")
        .filter(pk=pk)
        .first()
    )
    if template is None:
        raise TaskTemplateNotFound()
    if action != ScopeAction.VIEW and not (
        templates_for(user=user, action=action).filter(pk=pk).exists()
    ):
        raise ScopeActionNotPermitted("Only the owner or an admin may change this template.")
    return template


def template_project_resolve(*, owner: User, domain: Domain, group: str | None) -> Project | None:
    """The project of a new template: `group` (a name or id) in the owner's domain, of which the
    owner is a member (admins need not be); None makes a template of the owner alone."""
    if not group:
        return None
    qs = Project.objects.filter(domain=domain, is_active=True)
    try:
        project = qs.filter(pk=uuid.UUID(group)).first()
    except ValueError:
        project = qs.filter(name=group).first()
    is_admin = owner.role in (UserRole.SUPERADMIN, UserRole.ADMIN)
    if project is None or (
        not is_admin and not ProjectMembership.objects.filter(project=project, user=owner).exists()
    ):
        raise ScopeNotFound(f"No project {group!r} of yours in domain {domain.name!r}.")
    return project


# --- dotfiles --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DotfileOwner:
    """One scope's dotfiles: exactly one of user, project, domain."""

    scope: DotfileScope
    user: User | None = None
    project: Project | None = None
    domain: Domain | None = None

    def dotfiles(self) -> QuerySet[Dotfile]:
        match self.scope:
            case DotfileScope.USER:
                return Dotfile.objects.filter(scope=self.scope, user=self.user)
            case DotfileScope.PROJECT:
                return Dotfile.objects.filter(scope=self.scope, project=self.project)
        return Dotfile.objects.filter(scope=self.scope, domain=self.domain)


def _may_manage_domain(user: User, domain_id: int) -> bool:
    return user.role == UserRole.SUPERADMIN or (
        user.role == UserRole.ADMIN and user.domain_id == domain_id
    )


def _sees_domain(user: User, domain_id: int) -> bool:
    watched = user_watched_domain_id(user=user) if user.role in STAFF_ROLES else user.domain_id
    return watched is None or watched == domain_id


def _domain_resolve(*, requester: User, name: str | None) -> Domain:
    if not name:
        return requester.domain
    domain = Domain.objects.filter(name=name, is_active=True).first()
    if domain is None or not _sees_domain(requester, domain.pk):
        raise ScopeNotFound(f"No domain {name!r}.")
    return domain


def user_dotfile_owner(*, requester: KeyPair, owner_access_key: str | None) -> DotfileOwner:
    user = acting_user_resolve(requester=requester, owner_access_key=owner_access_key)
    return DotfileOwner(scope=DotfileScope.USER, user=user)


def project_dotfile_owner(
    *, requester: User, group: str, domain: str | None, action: ScopeAction
) -> DotfileOwner:
    """A project by id, or by name in `domain` (the requester's when not given)."""
    try:
        by_id: uuid.UUID | None = uuid.UUID(group)
    except ValueError:
        by_id = None
    qs = Project.objects.filter(is_active=True).select_related("domain")
    if by_id is not None:
        project = qs.filter(pk=by_id).first()
    else:
        project = qs.filter(
            domain=_domain_resolve(requester=requester, name=domain), name=group
        ).first()
    visible = project is not None and (
        (requester.role in STAFF_ROLES and _sees_domain(requester, project.domain_id))
        or ProjectMembership.objects.filter(project=project, user=requester).exists()
    )
    if project is None or not visible:
        raise ScopeNotFound(f"No project {group!r}.")
    if action == ScopeAction.MANAGE and not _may_manage_domain(requester, project.domain_id):
        raise ScopeActionNotPermitted("Only admins change a project's dotfiles.")
    return DotfileOwner(scope=DotfileScope.PROJECT, project=project)


def domain_dotfile_owner(*, requester: User, domain: str, action: ScopeAction) -> DotfileOwner:
    found = _domain_resolve(requester=requester, name=domain)
    if action == ScopeAction.MANAGE and not _may_manage_domain(requester, found.pk):
        raise ScopeActionNotPermitted("Only admins change a domain's dotfiles.")
    return DotfileOwner(scope=DotfileScope.DOMAIN, domain=found)


@dataclass(frozen=True, slots=True)
class SessionDotfile:
    path: str
    data: str
    permission: int


def dotfiles_for_session(
    *, user_id: uuid.UUID, project_id: uuid.UUID, domain_id: int
) -> list[SessionDotfile]:
    """The dotfiles a new session of this owner, project and domain receives (one query): for
    a path set in several scopes, the user's wins over the project's, which wins over the
    domain's."""
    rows = Dotfile.objects.filter(
        Q(scope=DotfileScope.USER, user_id=user_id)
        | Q(scope=DotfileScope.PROJECT, project_id=project_id)
        | Q(scope=DotfileScope.DOMAIN, domain_id=domain_id)
    ).values_list("scope", "path", "data", "permission")
    chosen: dict[str, tuple[int, SessionDotfile]] = {}
    for scope, path, data, permission in rows:
        rank = SCOPE_PRIORITY[DotfileScope(scope)]
        if path not in chosen or rank < chosen[path][0]:
            chosen[path] = (rank, SessionDotfile(path=path, data=data, permission=permission))
    return [chosen[path][1] for path in sorted(chosen)]
