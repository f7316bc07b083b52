"""Administration of resource groups (the admin GraphQL's scaling-group mutations): superadmins
only; a group with agents or sessions is never deleted."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from pydantic import ValidationError

from agents_app.enums import SchedulerKind
from agents_app.models import ResourceGroup, ResourceGroupForDomain
from agents_app.schemas import ResourceGroupOpts
from backendai_site.accounts.enums import STAFF_ROLES
from backendai_site.accounts.models import Domain, User
from backendai_site.accounts.permissions import superadmin_require
from backendai_site.accounts.selectors import user_watched_domain_id
from backendai_site.common.errors import Conflict, InvalidAPIParameters, NotFound, PermissionDenied

log = logging.getLogger(__name__)

EDITABLE = frozenset({"description", "is_active", "is_public", "scheduler", "scheduler_opts"})
# Reference fields with no behaviour here: accepted at their off/default value only.
FIXED = {"driver": ("static", None), "driver_opts": (None, "{}"), "use_host_network": (False, None),
         "wsproxy_addr": (None, ""), "wsproxy_api_token": (None, "")}  # fmt: skip


def resource_groups_visible_to(*, actor: User) -> QuerySet[ResourceGroup]:
    """Staff read the groups of the domain they watch (every group for superadmins and global
    monitors); plain users are refused."""
    if actor.role not in STAFF_ROLES:
        raise PermissionDenied("reading resource groups needs an admin or monitor role")
    domain_id = user_watched_domain_id(user=actor)
    qs = ResourceGroup.objects.all()
    return qs if domain_id is None else qs.filter(domains=domain_id)


def _apply(group: ResourceGroup, changes: dict[str, Any]) -> None:
    for name, allowed in FIXED.items():
        if name in changes and changes[name] not in allowed:
            raise InvalidAPIParameters(f"{name} is not supported by this server")
    for name in set(changes) & EDITABLE:
        value = changes[name]
        if value is None:
            continue
        if name == "scheduler" and value not in SchedulerKind.values:
            choices = ", ".join(SchedulerKind.values)
            raise InvalidAPIParameters(f"unknown scheduler {value!r}; use one of {choices}")
        if name == "scheduler_opts":
            value = _scheduler_opts(value)
        setattr(group, name, value)
    unknown = set(changes) - EDITABLE - set(FIXED)
    if unknown:
        raise InvalidAPIParameters(f"cannot set {', '.join(sorted(unknown))}")


def _scheduler_opts(value: Any) -> dict[str, Any]:
    try:
        raw = json.loads(value) if isinstance(value, str) else value
        return ResourceGroupOpts.model_validate(raw).model_dump(mode="json")
    except json.JSONDecodeError as exc:
        raise InvalidAPIParameters(f"scheduler_opts is not valid JSON: {exc.msg}") from exc
    except ValidationError as exc:
        raise InvalidAPIParameters(f"invalid scheduler_opts: {exc.errors()[0]['msg']}") from exc


def resource_group_get(name: str) -> ResourceGroup:
    group = ResourceGroup.objects.filter(name=name).first()
    if group is None:
        raise NotFound(f"no resource group {name!r}")
    return group


def resource_group_create(*, actor: User, name: str, changes: dict[str, Any]) -> ResourceGroup:
    superadmin_require(actor, to="manage resource groups")
    group = ResourceGroup(name=name)
    _apply(group, changes)
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError as exc:
        raise Conflict(f"a resource group named {name} already exists") from exc
    log.info("resource group created", extra={"resource_group": name, "by": str(actor.pk)})
    return group


def resource_group_modify(*, actor: User, name: str, changes: dict[str, Any]) -> ResourceGroup:
    superadmin_require(actor, to="manage resource groups")
    group = resource_group_get(name)
    _apply(group, changes)
    group.save()
    return group


def resource_group_delete(*, actor: User, name: str) -> None:
    superadmin_require(actor, to="manage resource groups")
    group = resource_group_get(name)
    try:
        with transaction.atomic():
            group.delete()
    except ProtectedError as exc:
        raise Conflict(f"the resource group {name} still has agents or sessions") from exc
    log.info("resource group deleted", extra={"resource_group": name, "by": str(actor.pk)})


def resource_group_associate_domain(
    *, actor: User, name: str, domain_name: str, associate: bool
) -> None:
    """Let a domain use a resource group (or stop it)."""
    superadmin_require(actor, to="manage resource groups")
    group = resource_group_get(name)
    domain = Domain.objects.filter(name=domain_name).first()
    if domain is None:
        raise NotFound(f"no domain {domain_name!r}")
    if associate:
        ResourceGroupForDomain.objects.get_or_create(resource_group=group, domain=domain)
    else:
        ResourceGroupForDomain.objects.filter(resource_group=group, domain=domain).delete()
