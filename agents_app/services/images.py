"""The image catalog: label parsing, upserts from agents' local images, aliases.

Kernel images carry Backend.AI's labels: `ai.backend.kernelspec` (marks a kernel image),
`ai.backend.service-ports` ("name:protocol:port,..." where port may be "[p1,p2]"),
`ai.backend.resource.min.<slot>` and `ai.backend.resource.max.<slot>`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from agents_app.enums import AgentStatus
from agents_app.errors import InvalidImageLabels
from agents_app.imageref import normalize_architecture, split_image_ref
from agents_app.models import Agent, ContainerRegistry, Image, ImageAlias
from agents_app.schemas import KernelCommitted, LocalImage
from agents_app.selectors import image_resolve
from backendai_site.accounts.models import User
from backendai_site.accounts.permissions import superadmin_require
from backendai_site.common.errors import (
    Conflict,
    InvalidAPIParameters,
    InvalidResourceSlot,
    NotFound,
)
from backendai_site.common.resource_slot import ResourceSlot

log = logging.getLogger(__name__)

KERNELSPEC_LABEL = "ai.backend.kernelspec"
SERVICE_PORTS_LABEL = "ai.backend.service-ports"
MIN_RESOURCE_PREFIX = "ai.backend.resource.min."
MAX_RESOURCE_PREFIX = "ai.backend.resource.max."
SERVICE_PROTOCOLS = frozenset({"tcp", "http", "pty", "preopen", "internal"})
# The image scripts/build_kernel_image.sh builds, and the aliases users type for it.
DEFAULT_IMAGE_ALIASES: dict[str, str] = {
    "python": "backendai/python:3.11-debian",
    "python:3.11": "backendai/python:3.11-debian",
}

_PORT_ITEM_RE = re.compile(r"^(?P<name>[\w.-]+):(?P<proto>\w+):(?P<ports>\d+|\[[\d,\s]*\])$")


@dataclass(frozen=True, slots=True)
class ImageMetadata:
    is_kernel: bool
    service_ports: list[dict[str, Any]] = field(default_factory=list)
    min_resources: dict[str, str] = field(default_factory=dict)
    max_resources: dict[str, str] = field(default_factory=dict)


def parse_service_ports(value: str) -> list[dict[str, Any]]:
    """'jupyter:http:8080,ttyd:http:7681,multi:tcp:[9000,9001]' -> [{name, protocol, ports}]."""
    result: list[dict[str, Any]] = []
    # split on commas that are not inside a [..] port list
    items = re.findall(r"[^,\[]+(?:\[[^\]]*\])?", value)
    seen: set[str] = set()
    for raw in items:
        item = raw.strip().strip(",").strip()
        if not item:
            continue
        match = _PORT_ITEM_RE.match(item)
        if match is None:
            raise InvalidImageLabels(f"bad service port {item!r} in {SERVICE_PORTS_LABEL}")
        protocol = match["proto"].lower()
        if protocol not in SERVICE_PROTOCOLS:
            raise InvalidImageLabels(f"unknown service port protocol {protocol!r} in {item!r}")
        ports_text = match["ports"].strip("[]")
        ports = [int(p) for p in ports_text.split(",") if p.strip()]
        if not ports or any(not 0 < p < 65536 for p in ports):
            raise InvalidImageLabels(f"bad port number in {item!r}")
        if match["name"] in seen:
            raise InvalidImageLabels(f"duplicate service port name {match['name']!r}")
        seen.add(match["name"])
        result.append({"name": match["name"], "protocol": protocol, "ports": ports})
    return result


def parse_image_labels(labels: Mapping[str, str]) -> ImageMetadata:
    """The catalog fields Backend.AI derives from an image's labels."""
    ports = parse_service_ports(labels.get(SERVICE_PORTS_LABEL, ""))
    try:
        minimum = ResourceSlot.parse(
            {
                key.removeprefix(MIN_RESOURCE_PREFIX): value
                for key, value in labels.items()
                if key.startswith(MIN_RESOURCE_PREFIX)
            }
        )
        maximum = ResourceSlot.parse(
            {
                key.removeprefix(MAX_RESOURCE_PREFIX): value
                for key, value in labels.items()
                if key.startswith(MAX_RESOURCE_PREFIX)
            }
        )
    except InvalidResourceSlot as exc:
        raise InvalidImageLabels(f"bad resource label: {exc}") from None
    return ImageMetadata(
        is_kernel=KERNELSPEC_LABEL in labels,
        service_ports=ports,
        min_resources=minimum.to_json(),
        max_resources=maximum.to_json(),
    )


@dataclass(frozen=True, slots=True)
class ScanResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def image_upsert(
    *,
    name: str,
    tag: str,
    architecture: str,
    registry: ContainerRegistry | None,
    labels: Mapping[str, str],
    digest: str = "",
    size_bytes: int = 0,
) -> tuple[Image, bool]:
    """Create or refresh one catalog entry from its labels; returns (image, created)."""
    meta = parse_image_labels(labels)
    defaults = {
        "digest": digest,
        "size_bytes": size_bytes,
        "labels": dict(labels),
        "service_ports": meta.service_ports,
        "min_resources": meta.min_resources,
        "max_resources": meta.max_resources,
    }
    image, created = Image.objects.update_or_create(
        registry=registry, name=name, tag=tag, architecture=architecture, defaults=defaults
    )
    return image, created


def images_upsert_local(
    *, local_images: Iterable[LocalImage], registries: Mapping[str, ContainerRegistry]
) -> ScanResult:
    """Upsert kernel images reported by agents (others are skipped)."""
    created = updated = skipped = 0
    errors: list[str] = []
    for local in local_images:
        if KERNELSPEC_LABEL not in local.labels:
            skipped += 1
            continue
        host, name, tag = split_image_ref(local.ref)
        registry = registries.get(host) if host else None
        if host and registry is None:
            name = f"{host}/{name}"  # a registry we do not manage: keep the full path
        try:
            _, was_created = image_upsert(
                name=name,
                tag=tag,
                architecture=normalize_architecture(local.architecture),
                registry=registry,
                labels=local.labels,
                digest=local.digest,
                size_bytes=local.size_bytes,
            )
        except InvalidImageLabels as exc:
            errors.append(f"{local.ref}: {exc}")
            continue
        if was_created:
            created += 1
        else:
            updated += 1
    return ScanResult(created=created, updated=updated, skipped=skipped, errors=errors)


def images_rescan_from_agents(*, agent_ids: Iterable[str] | None = None) -> ScanResult:
    """Update the catalog from the local images the (alive) agents last reported."""
    agents = Agent.objects.filter(status=AgentStatus.ALIVE)
    if agent_ids is not None:
        agents = agents.filter(pk__in=list(agent_ids))
    reported: dict[tuple[str, str], LocalImage] = {}
    for images in agents.values_list("local_images", flat=True):
        for raw in images or []:
            local = LocalImage.model_validate(raw)
            reported[(local.ref, local.architecture)] = local
    registries = {registry.name: registry for registry in ContainerRegistry.objects.all()}
    with transaction.atomic():
        result = images_upsert_local(local_images=reported.values(), registries=registries)
        image_aliases_ensure_defaults()
    log.info(
        "images rescanned from agents",
        extra={
            "images_created": result.created,
            "images_updated": result.updated,
            "scan_errors": result.errors,
        },
    )
    return result


def image_record_committed(*, agent_id: str, image: LocalImage) -> None:
    """Put an image an agent just committed into the catalog (its next heartbeat reports it
    too; this does not wait for it). An image without the kernel labels is refused."""
    registries = {registry.name: registry for registry in ContainerRegistry.objects.all()}
    with transaction.atomic():
        result = images_upsert_local(local_images=[image], registries=registries)
    if result.errors or result.skipped:
        raise InvalidImageLabels(f"committed image {image.ref} not catalogued: {result.errors}")
    log.info("committed image catalogued", extra={"agent_id": agent_id, "image": image.ref})


def kernel_committed_record(event: KernelCommitted) -> KernelCommitted:
    """Catalogue a finished commit's image before anyone hears of it, so whoever does can use it;
    an image the catalog refuses turns the event into a failure with the reason."""
    if not event.ok or event.image is None:
        return event
    try:
        image_record_committed(agent_id=event.agent_id, image=event.image)
    except InvalidImageLabels as exc:  # the commit happened, but no session can use it
        return event.model_copy(update={"ok": False, "error": str(exc)})
    return event


def image_alias_set(*, alias: str, image: Image) -> ImageAlias:
    obj, _ = ImageAlias.objects.update_or_create(alias=alias, defaults={"image": image})
    return obj


def image_aliases_ensure_defaults() -> list[str]:
    """Point the default aliases at their images when those exist and the alias is free."""
    made: list[str] = []
    for alias, ref in DEFAULT_IMAGE_ALIASES.items():
        if ImageAlias.objects.filter(alias=alias).exists():
            continue
        _, name, tag = split_image_ref(ref)
        image = Image.objects.filter(registry=None, name=name, tag=tag).first()
        if image is not None:
            image_alias_set(alias=alias, image=image)
            made.append(alias)
    return made


def image_by_ref(*, reference: str, architecture: str) -> Image:
    """A catalog image by canonical reference or alias, or NotFound."""
    image = image_resolve(ref_or_alias=reference, architecture=normalize_architecture(architecture))
    if image is None:
        raise NotFound(f"no image {reference!r} for {architecture}")
    return image


def image_by_id(image_id: str) -> Image:
    image = Image.objects.filter(pk=int(image_id)).first() if image_id.isdigit() else None
    if image is None:
        raise NotFound(f"no image with id {image_id!r}")
    return image


def image_admin_alias(*, actor: User, alias: str, target: str, architecture: str) -> ImageAlias:
    """`alias_image`: point `alias` at the image `target` names (re-pointing an existing alias)."""
    superadmin_require(actor, to="manage images")
    if not alias.strip():
        raise InvalidAPIParameters("an alias cannot be empty")
    return image_alias_set(
        alias=alias, image=image_by_ref(reference=target, architecture=architecture)
    )


def image_admin_dealias(*, actor: User, alias: str) -> None:
    superadmin_require(actor, to="manage images")
    deleted, _ = ImageAlias.objects.filter(alias=alias).delete()
    if not deleted:
        raise NotFound(f"no alias {alias!r}")


def image_admin_forget(*, actor: User, image: Image) -> None:
    """`forget_image`/`purge_image_by_id`: drop the catalog entry and its aliases. The catalog has
    no "deleted" state, so forgetting and purging both remove the row; an image some session
    (even a finished one) was started from stays, since the session history points at it."""
    superadmin_require(actor, to="manage images")
    try:
        with transaction.atomic():
            image.delete()
    except ProtectedError as exc:
        raise Conflict(f"sessions were started from {image.name}:{image.tag}; it stays") from exc
    log.info("image forgotten", extra={"image": f"{image.name}:{image.tag}", "by": str(actor.pk)})
