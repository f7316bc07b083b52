"""Reads of the agents app."""

from __future__ import annotations

from .imageref import split_image_ref
from .models import Image, ImageAlias


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
