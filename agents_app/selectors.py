"""Reads of the agents app."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import KeyPair, Project

from .enums import SlotType
from .errors import ProjectNotFound, ResourceGroupNotFound
from .imageref import split_image_ref
from .models import (
    AgentResource,
    ContainerRegistry,
    Image,
    ImageAlias,
    ResourceGroup,
    ResourcePreset,
)


def image_resolve(*, ref_or_alias: str, architecture: str = "x86_64") -> Image | None:
    """The catalog image named by an alias or a canonical ref ("name:tag" or "host/name:tag")."""
    alias = (
        ImageAlias.objects.select_related("image", "image__registry")
        .filter(alias=ref_or_alias)
        .first()
    )
    if alias is not None:
        return alias.image
    host, name, tag = split_image_ref(ref_or_alias)
    images = Image.objects.select_related("registry").filter(
        name=name, tag=tag, architecture=architecture
    )
    if host:
        return images.filter(registry__name=host).first() or (
            Image.objects.filter(
                registry=None, name=f"{host}/{name}", tag=tag, architecture=architecture
            ).first()
        )
    return images.filter(registry=None).first()


def project_for_keypair(*, keypair: KeyPair, ref: str | None) -> Project:
    """The active project named (or with the UUID) `ref` in the keypair owner's domain, which the
    owner is a member of (admins may use any project of their domain); `default` when absent."""
    user = keypair.user
    name = ref or "default"
    qs = Project.objects.filter(domain_id=user.domain_id, is_active=True)
    try:
        project = qs.filter(pk=uuid.UUID(name)).first()
    except ValueError:
        project = qs.filter(name=name).first()
    if project is None:
        raise ProjectNotFound(f"No project {name[:64]!r} in your domain.")
    is_admin = user.role in (UserRole.SUPERADMIN, UserRole.ADMIN)
    if not is_admin and not project.members.filter(pk=user.pk).exists():
        raise ProjectNotFound(f"You are not a member of project {name[:64]!r}.")
    return project


def resource_groups_usable(*, keypair: KeyPair, project: Project) -> QuerySet[ResourceGroup]:
    """The one rule for which resource groups a keypair may start sessions in for a project:
    active groups that are public or bound to its domain, the project or the keypair."""
    return (
        ResourceGroup.objects.filter(is_active=True)
        .filter(
            Q(is_public=True)
            | Q(domains=keypair.user.domain_id)
            | Q(projects=project.pk)
            | Q(keypairs=keypair.access_key)
        )
        .distinct()
        .order_by("name")
    )


def resource_group_usable_get(*, keypair: KeyPair, project: Project, name: str) -> ResourceGroup:
    group = resource_groups_usable(keypair=keypair, project=project).filter(name=name).first()
    if group is None:
        raise ResourceGroupNotFound(f"Resource group {name[:64]!r} is not available to you.")
    return group


def resource_presets_for(
    *, groups: QuerySet[ResourceGroup] | list[ResourceGroup] | None
) -> QuerySet[ResourcePreset]:
    """Presets offered everywhere plus those of `groups` (every preset when `groups` is None)."""
    qs = ResourcePreset.objects.select_related("resource_group").order_by("name", "pk")
    if groups is None:
        return qs
    return qs.filter(Q(resource_group=None) | Q(resource_group__in=groups))


def resource_preset_row(preset: ResourcePreset) -> dict[str, Any]:
    """A preset as the client reads it: slots as exact strings, shared memory as a byte string."""
    return {
        "id": str(preset.pk),
        "name": preset.name,
        "resource_slots": preset.slots.to_json(),
        "shared_memory": str(preset.shared_memory) if preset.shared_memory is not None else None,
        "scaling_group_name": preset.resource_group.name if preset.resource_group else None,
    }


def resource_slot_types() -> dict[str, str]:
    """Every slot name the platform knows (intrinsic ones and any an agent reported) -> its unit
    type (`count`, `bytes`, `unique`), in name order."""
    known = {"cpu": str(SlotType.COUNT), "mem": str(SlotType.BYTES)}
    for slot_name, slot_type in (
        AgentResource.objects.order_by().values_list("slot_name", "slot_type").distinct()
    ):
        known.setdefault(slot_name, str(slot_type))
    return dict(sorted(known.items()))


def container_registries_described() -> dict[str, dict[str, Any]]:
    """Active registries by name, in the reference's shape (`""` is the URL); no passwords."""
    return {
        registry.name: {
            "": registry.url,
            "type": registry.type,
            "project": registry.project,
            "username": registry.username,
            "ssl_verify": registry.ssl_verify,
        }
        for registry in ContainerRegistry.objects.filter(is_active=True).order_by("name")
    }
