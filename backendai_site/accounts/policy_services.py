"""Resource policies (keypair, user, project) for the admin GraphQL: validated with pydantic,
changed only by superadmins, and never deleted while something still uses them."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, QuerySet
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from backendai_site.common.errors import Conflict, InvalidAPIParameters, NotFound, PermissionDenied
from backendai_site.common.vfolder_host_permissions import host_permissions_parse

from .enums import DEFAULT_NAME, DefaultForUnspecified, UserRole
from .models import KeypairResourcePolicy, ProjectResourcePolicy, User, UserResourcePolicy
from .permissions import superadmin_require

log = logging.getLogger(__name__)

Policy = KeypairResourcePolicy | UserResourcePolicy | ProjectResourcePolicy


def _json_text(value: Any) -> Any:
    """Slot maps and host permissions arrive as JSON text from the CLI."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from exc
    return value


JsonObject = Annotated[dict[str, Any], BeforeValidator(_json_text)]
Count = Annotated[int, Field(ge=0)]


class _Changes(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeypairPolicyChanges(_Changes):
    default_for_unspecified: DefaultForUnspecified | None = None
    total_resource_slots: JsonObject | None = None
    max_session_lifetime: Count | None = None
    max_concurrent_sessions: Count | None = None
    max_concurrent_sftp_sessions: Count | None = None
    max_containers_per_session: Annotated[int, Field(ge=1)] | None = None
    idle_timeout: Count | None = None
    allowed_vfolder_hosts: JsonObject | None = None
    max_pending_session_count: Count | None = None
    max_pending_session_resource_slots: JsonObject | None = None


class UserPolicyChanges(_Changes):
    total_resource_slots: JsonObject | None = None
    max_vfolder_count: Count | None = None
    max_quota_scope_size: Annotated[int, Field(ge=-1)] | None = None
    max_session_count_per_model_session: Count | None = None
    max_customized_image_count: Count | None = None


class ProjectPolicyChanges(_Changes):
    max_vfolder_count: Count | None = None
    max_quota_scope_size: Annotated[int, Field(ge=-1)] | None = None
    max_network_count: Count | None = None


CHANGES: dict[type[models.Model], type[_Changes]] = {
    KeypairResourcePolicy: KeypairPolicyChanges,
    UserResourcePolicy: UserPolicyChanges,
    ProjectResourcePolicy: ProjectPolicyChanges,
}
# Nullable columns: an explicit null there means "no limit", elsewhere null means "unchanged".
NULLABLE = frozenset({"max_pending_session_count", "max_pending_session_resource_slots"})


# How a policy reaches the user it applies to.
APPLIES_TO: dict[type[models.Model], str] = {
    KeypairResourcePolicy: "keypairs__user",
    UserResourcePolicy: "users",
    ProjectResourcePolicy: "projects__members",
}


def policies_visible_to(*, actor: User, model: type[Policy]) -> QuerySet[Any]:
    """Staff read every policy; a user reads the ones that apply to it."""
    qs: QuerySet[Any] = model.objects.all()
    if actor.role != UserRole.USER:
        return qs
    return qs.filter(**{APPLIES_TO[model]: actor}).distinct()


def _validated(model: type[Policy], values: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = CHANGES[model].model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidAPIParameters(f"{where}: {first['msg']}") from exc
    hosts = getattr(parsed, "allowed_vfolder_hosts", None)
    if hosts is not None:
        host_permissions_parse(hosts)  # a 400 naming an unknown permission or bad shape
    return {
        name: getattr(parsed, name)
        for name in values
        if getattr(parsed, name) is not None or name in NULLABLE
    }


def policy_get(model: type[Policy], name: str) -> Policy:
    policy: Policy | None = model.objects.filter(name=name).first()
    if policy is None:
        raise NotFound(f"no {model._meta.verbose_name} {name!r}")
    return policy


def policy_create(*, actor: User, model: type[Policy], name: str, values: dict[str, Any]) -> Policy:
    superadmin_require(actor, to="manage resource policies")
    if not name:
        raise InvalidAPIParameters("a policy needs a name")
    policy = model(name=name, **_validated(model, values))
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:
        raise Conflict(f"a {model._meta.verbose_name} named {name} already exists") from exc
    log.info("resource policy created", extra={"policy": name, "by": str(actor.pk)})
    return policy


def policy_modify(*, actor: User, model: type[Policy], name: str, values: dict[str, Any]) -> Policy:
    superadmin_require(actor, to="manage resource policies")
    policy = policy_get(model, name)
    for field, value in _validated(model, values).items():
        setattr(policy, field, value)
    policy.save()
    return policy


def policy_delete(*, actor: User, model: type[Policy], name: str) -> None:
    """Refused for `default` and for a policy some keypair, user or project still uses."""
    superadmin_require(actor, to="manage resource policies")
    policy = policy_get(model, name)
    if name == DEFAULT_NAME:
        raise PermissionDenied("the default policy cannot be deleted")
    try:
        with transaction.atomic():
            policy.delete()
    except ProtectedError as exc:
        raise Conflict(f"the policy {name} is still in use") from exc
    log.info("resource policy deleted", extra={"policy": name, "by": str(actor.pk)})
