"""Writes of templates and dotfiles. Callers authorize first through `selectors` (the scope
resolvers and `template_get(..., action=MANAGE)`); these functions validate and write."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from backendai_site.accounts.models import Domain, KeyPair, Project, User

from .enums import DotfileScope, TemplateType
from .errors import (
    DotfileAlreadyExists,
    DotfileLimitExceeded,
    DotfileNotFound,
    InvalidTaskTemplate,
    ScopeNotFound,
)
from .models import Dotfile, SessionTemplate
from .schemas import (
    MAX_DOTFILES_BYTES,
    MAX_DOTFILES_PER_SCOPE,
    TemplateCreateBody,
    dotfile_path_check,
    dotfile_permission_parse,
    template_payload_parse,
)
from .selectors import DotfileOwner, acting_user_resolve, template_project_resolve

log = logging.getLogger(__name__)


# --- templates -------------------------------------------------------------------------------


def template_create(*, requester: KeyPair, body: TemplateCreateBody) -> list[SessionTemplate]:
    """Store every template of the payload for the owner (the requester, or whom an admin's
    `owner_access_key` names), in the owner's domain and, when `group_name` is given, its
    project (whose members may then see and use it)."""
    owner = acting_user_resolve(requester=requester, owner_access_key=body.owner_access_key)
    domain = owner.domain
    if body.domain_name and body.domain_name != domain.name:
        raise ScopeNotFound(f"The template owner belongs to domain {domain.name!r}.")
    project = template_project_resolve(owner=owner, domain=domain, group=body.group_name)
    entries = template_payload_parse(body.payload)
    with transaction.atomic():
        created = [
            SessionTemplate.objects.create(
                name=entry.name,
                type=TemplateType.TASK,
                domain=domain,
                project=project,
                user=owner,
                template=entry.template,
            )
            for entry in entries
        ]
    log.info(
        "task templates created",
        extra={"templates": [str(t.pk) for t in created], "owner": str(owner.pk)},
    )
    return created


def template_update(*, template: SessionTemplate, payload: str) -> SessionTemplate:
    """Replace a template's document (and name) with the one template of `payload`."""
    entries = template_payload_parse(payload)
    if len(entries) != 1:
        raise InvalidTaskTemplate("An update payload holds exactly one template.")
    template.name = entries[0].name
    template.template = entries[0].template
    template.save(update_fields=["name", "template", "modified_at"])
    return template


def template_delete(*, template: SessionTemplate) -> None:
    """Deactivate (the reference keeps deleted templates as inactive rows)."""
    SessionTemplate.objects.filter(pk=template.pk).update(is_active=False)


# --- dotfiles --------------------------------------------------------------------------------


def _lock_scope(owner: DotfileOwner) -> None:
    """Serialize writes to one scope's dotfiles so the size limit holds under concurrency."""
    match owner.scope:
        case DotfileScope.USER:
            assert owner.user is not None
            User.objects.select_for_update().filter(pk=owner.user.pk).first()
        case DotfileScope.PROJECT:
            assert owner.project is not None
            Project.objects.select_for_update().filter(pk=owner.project.pk).first()
        case DotfileScope.DOMAIN:
            assert owner.domain is not None
            Domain.objects.select_for_update().filter(pk=owner.domain.pk).first()


def _check_limits(owner: DotfileOwner, *, path: str, data: str) -> None:
    others = list(owner.dotfiles().exclude(path=path).values_list("data", flat=True))
    if len(others) + 1 > MAX_DOTFILES_PER_SCOPE:
        raise DotfileLimitExceeded(f"At most {MAX_DOTFILES_PER_SCOPE} dotfiles per scope.")
    total = sum(len(d.encode()) for d in others) + len(data.encode()) + len(path.encode())
    if total > MAX_DOTFILES_BYTES:
        raise DotfileLimitExceeded(
            f"The dotfiles of this scope would take {total} bytes (at most {MAX_DOTFILES_BYTES})."
        )


def dotfile_create(
    *, owner: DotfileOwner, path: str, data: str, permission: str | int | None
) -> Dotfile:
    clean = dotfile_path_check(path)
    mode = dotfile_permission_parse(permission)
    try:
        with transaction.atomic():
            _lock_scope(owner)
            if owner.dotfiles().filter(path=clean).exists():
                raise DotfileAlreadyExists(f"Dotfile {clean!r} already exists.")
            _check_limits(owner, path=clean, data=data)
            return Dotfile.objects.create(
                scope=owner.scope,
                user=owner.user,
                project=owner.project,
                domain=owner.domain,
                path=clean,
                data=data,
                permission=mode,
            )
    except IntegrityError:
        raise DotfileAlreadyExists(f"Dotfile {clean!r} already exists.") from None


def dotfile_get(*, owner: DotfileOwner, path: str) -> Dotfile:
    found = owner.dotfiles().filter(path=dotfile_path_check(path)).first()
    if found is None:
        raise DotfileNotFound(f"No dotfile {path!r}.")
    return found


def dotfile_update(
    *, owner: DotfileOwner, path: str, data: str, permission: str | int | None
) -> Dotfile:
    clean = dotfile_path_check(path)
    mode = dotfile_permission_parse(permission)
    with transaction.atomic():
        _lock_scope(owner)
        found = owner.dotfiles().select_for_update().filter(path=clean).first()
        if found is None:
            raise DotfileNotFound(f"No dotfile {path!r}.")
        _check_limits(owner, path=clean, data=data)
        found.data = data
        found.permission = mode
        found.save(update_fields=["data", "permission", "modified_at"])
        return found


def dotfile_delete(*, owner: DotfileOwner, path: str) -> None:
    deleted, _ = owner.dotfiles().filter(path=dotfile_path_check(path)).delete()
    if not deleted:
        raise DotfileNotFound(f"No dotfile {path!r}.")
