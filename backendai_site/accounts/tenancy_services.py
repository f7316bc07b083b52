"""Administration of domains and projects (the admin GraphQL's mutations), scoped by role.

Domains are the superadmin's alone. A domain admin manages the projects of its own domain and
their membership (only users of that domain); monitors and users change nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction

from backendai_site.common.errors import Conflict, InvalidAPIParameters, NotFound, PermissionDenied
from backendai_site.common.vfolder_host_permissions import host_permissions_parse

from .enums import DEFAULT_NAME, UserRole
from .models import Domain, Project, ProjectMembership, ProjectResourcePolicy, User
from .permissions import superadmin_require
from .user_services import require_domain, require_manager

log = logging.getLogger(__name__)

DOMAIN_FIELDS = frozenset(
    {"name", "description", "is_active", "total_resource_slots", "allowed_vfolder_hosts",
     "allowed_docker_registries", "integration_id"}
)  # fmt: skip
PROJECT_FIELDS = frozenset(
    {"name", "description", "is_active", "domain_name", "total_resource_slots",
     "allowed_vfolder_hosts", "integration_id", "resource_policy"}
)  # fmt: skip


def _json_object(name: str, value: Any) -> dict[str, Any]:
    """Slots and host permissions arrive as JSON text (the CLI's `--total-resource-slots`)."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except json.JSONDecodeError as exc:
        raise InvalidAPIParameters(f"{name} is not valid JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise InvalidAPIParameters(f"{name} must be a JSON object")
    return parsed


def _apply(target: Domain | Project, changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidAPIParameters(f"cannot set {', '.join(sorted(unknown))}")
    if changes.get("integration_id") is not None:
        raise InvalidAPIParameters("integration_id is not supported by this server")
    for name in ("name", "description"):
        if name in changes:
            if not isinstance(changes[name], str) or (name == "name" and not changes[name]):
                raise InvalidAPIParameters(f"{name} must be a non-empty string")
            setattr(target, name, changes[name])
    if "is_active" in changes:
        target.is_active = bool(changes["is_active"])
    for name in ("total_resource_slots", "allowed_vfolder_hosts"):
        if changes.get(name) is not None:
            value = _json_object(name, changes[name])
            if name == "allowed_vfolder_hosts":
                host_permissions_parse(value)  # a 400 naming an unknown permission or bad shape
            setattr(target, name, value)
    if changes.get("allowed_docker_registries") is not None and isinstance(target, Domain):
        registries = changes["allowed_docker_registries"]
        if not isinstance(registries, list) or not all(isinstance(r, str) for r in registries):
            raise InvalidAPIParameters("allowed_docker_registries must be a list of names")
        target.allowed_docker_registries = registries


def _save(target: Domain | Project, what: str) -> None:
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:
        raise Conflict(f"a {what} named {target.name} already exists") from exc


def domain_create(*, actor: User, name: str, changes: dict[str, Any]) -> Domain:
    superadmin_require(actor, to="manage domains")
    if Domain.objects.filter(name=name).exists():
        raise Conflict(f"a domain named {name} already exists")
    domain = Domain(name=name)
    _apply(domain, changes, DOMAIN_FIELDS - {"name"})
    _save(domain, "domain")
    log.info("domain created", extra={"domain": name, "by": str(actor.pk)})
    return domain


def domain_get(name: str) -> Domain:
    domain = Domain.objects.filter(name=name).first()
    if domain is None:
        raise NotFound(f"no domain {name!r}")
    return domain


def domain_modify(*, actor: User, name: str, changes: dict[str, Any]) -> Domain:
    superadmin_require(actor, to="manage domains")
    domain = domain_get(name)
    _apply(domain, changes, DOMAIN_FIELDS)
    _save(domain, "domain")
    return domain


def domain_deactivate(*, actor: User, name: str) -> None:
    """`delete_domain`: the domain stays, inactive."""
    superadmin_require(actor, to="manage domains")
    domain = domain_get(name)
    if domain.name == DEFAULT_NAME:
        raise PermissionDenied("the default domain cannot be deleted")
    domain.is_active = False
    domain.save(update_fields=["is_active", "modified_at"])


def domain_purge(*, actor: User, name: str) -> None:
    """`purge_domain`: only an empty domain (no users, no projects) is removed."""
    superadmin_require(actor, to="manage domains")
    domain = domain_get(name)
    if domain.name == DEFAULT_NAME:
        raise PermissionDenied("the default domain cannot be purged")
    users, projects = domain.users.count(), domain.projects.count()
    if users or projects:
        raise Conflict(
            f"the domain {domain.name} still has {users} user(s) and {projects} project(s)"
        )
    domain.delete()
    log.info("domain purged", extra={"domain": domain.name, "by": str(actor.pk)})


def _project_policy(name: str | None) -> ProjectResourcePolicy:
    policy = ProjectResourcePolicy.objects.filter(name=name or DEFAULT_NAME).first()
    if policy is None:
        raise NotFound(f"no project resource policy {name!r}")
    return policy


def project_create(*, actor: User, name: str, changes: dict[str, Any]) -> Project:
    require_manager(actor)
    domain = domain_get(changes.get("domain_name") or "")
    require_domain(actor, domain)
    if Project.objects.filter(domain=domain, name=name).exists():
        raise Conflict(f"a project named {name} already exists in {domain.name}")
    project = Project(
        name=name, domain=domain, resource_policy=_project_policy(changes.get("resource_policy"))
    )
    rest = {k: v for k, v in changes.items() if k != "resource_policy"}
    _apply(project, rest, PROJECT_FIELDS - {"name", "resource_policy"})
    _save(project, "project")
    log.info("project created", extra={"project_id": str(project.pk), "by": str(actor.pk)})
    return project


def project_manage_get(*, actor: User, project_id: UUID) -> Project:
    """A project the actor may change, or NotFound for what it may not even see."""
    require_manager(actor)
    qs = Project.objects.select_related("domain")
    if actor.role != UserRole.SUPERADMIN:
        qs = qs.filter(domain_id=actor.domain_id)
    project = qs.filter(pk=project_id).first()
    if project is None:
        raise NotFound(f"no project {project_id} you manage")
    return project


@transaction.atomic
def project_modify(*, actor: User, project: Project, changes: dict[str, Any]) -> Project:
    """`modify_group`: fields, and members added or removed (`user_update_mode`, `user_uuids`)."""
    changes = dict(changes)
    mode = changes.pop("user_update_mode", None)
    uuids = changes.pop("user_uuids", None)
    if "domain_name" in changes:
        raise InvalidAPIParameters("a project cannot move to another domain")
    if changes.get("resource_policy") is not None:
        project.resource_policy = _project_policy(changes.pop("resource_policy"))
    _apply(project, changes, PROJECT_FIELDS)
    _save(project, "project")
    if mode is not None or uuids is not None:
        _members(project, mode, uuids or [])
    return project


def _members(project: Project, mode: str | None, uuids: list[str]) -> None:
    if mode not in ("add", "remove"):
        raise InvalidAPIParameters("user_update_mode must be 'add' or 'remove'")
    try:
        ids = {UUID(str(u)) for u in uuids}
    except ValueError as exc:
        raise InvalidAPIParameters(f"bad user UUID in {uuids}") from exc
    users = list(User.objects.filter(pk__in=ids, domain_id=project.domain_id))
    if len(users) != len(ids):
        raise NotFound(f"some of the users are not in the domain {project.domain.name}")
    if mode == "add":
        for user in users:
            ProjectMembership.objects.get_or_create(project=project, user=user)
    else:
        ProjectMembership.objects.filter(project=project, user__in=users).delete()


def project_deactivate(*, actor: User, project: Project) -> None:
    """`delete_group`: the project stays, inactive."""
    require_manager(actor)
    project.is_active = False
    project.save(update_fields=["is_active", "modified_at"])
