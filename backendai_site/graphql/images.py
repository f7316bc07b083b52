"""Image administration in the admin GraphQL: `image(id:)`/`image(reference:, architecture:)`,
`alias_image`, `dealias_image`, `forget_image`, `forget_image_by_id`, `purge_image_by_id`
and `rescan_images` (docs/compat/graphql-admin.md, docs/compat/image-rescan.md). The `images`
list stays in schema.py."""

from __future__ import annotations

from typing import Any

import graphene
from graphql import GraphQLError

from agents_app.models import Image
from agents_app.services.image_rescan import images_rescan_start
from agents_app.services.images import (
    image_admin_alias,
    image_admin_dealias,
    image_admin_forget,
    image_by_id,
    image_by_ref,
)

from .common import caller, mutation_guard, query_guard


class ImageDetail(graphene.ObjectType):
    id = graphene.String()
    name = graphene.String()
    registry = graphene.String()
    architecture = graphene.String()
    tag = graphene.String()
    digest = graphene.String()
    size_bytes = graphene.Float()
    aliases = graphene.List(graphene.String)

    @staticmethod
    def from_image(image: Image) -> ImageDetail:
        return ImageDetail(
            id=str(image.pk),
            name=image.name,
            registry=image.registry.name if image.registry else "",
            architecture=image.architecture,
            tag=image.tag,
            digest=image.digest,
            size_bytes=image.size_bytes,
            aliases=[a.alias for a in image.aliases.all()],
        )


class PurgeImageOptions(graphene.InputObjectType):
    remove_from_registry = graphene.Boolean()


class ImageQueries(graphene.ObjectType):
    image = graphene.Field(
        ImageDetail,
        id=graphene.String(),
        reference=graphene.String(),
        architecture=graphene.String(),
    )

    @staticmethod
    def resolve_image(
        root: None,
        info: graphene.ResolveInfo,
        id: str | None = None,
        reference: str | None = None,
        architecture: str | None = None,
    ) -> ImageDetail:
        # an unknown id must be an error, not null: `image forget/purge` falls back to the
        # reference lookup only when the id lookup fails
        if id is not None:
            return ImageDetail.from_image(query_guard(lambda: image_by_id(id)))
        if reference is None or architecture is None:
            raise GraphQLError("give an id, or a reference and an architecture")
        return ImageDetail.from_image(
            query_guard(lambda: image_by_ref(reference=reference, architecture=architecture))
        )


def _run(fn: Any) -> dict[str, Any]:
    def call() -> bool:
        fn()
        return True

    done, error = mutation_guard(call)
    return {"ok": bool(done), "msg": error or "success"}


class AliasImage(graphene.Mutation):
    class Arguments:
        alias = graphene.String(required=True)
        target = graphene.String(required=True)
        architecture = graphene.String()

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(
        root: None,
        info: graphene.ResolveInfo,
        alias: str,
        target: str,
        architecture: str = "x86_64",
    ) -> AliasImage:
        return AliasImage(
            **_run(
                lambda: image_admin_alias(
                    actor=caller(info), alias=alias, target=target, architecture=architecture
                )
            )
        )


class DealiasImage(graphene.Mutation):
    class Arguments:
        alias = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, alias: str) -> DealiasImage:
        return DealiasImage(**_run(lambda: image_admin_dealias(actor=caller(info), alias=alias)))


class ForgetImage(graphene.Mutation):
    class Arguments:
        reference = graphene.String(required=True)
        architecture = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(
        root: None, info: graphene.ResolveInfo, reference: str, architecture: str
    ) -> ForgetImage:
        return ForgetImage(
            **_run(
                lambda: image_admin_forget(
                    actor=caller(info),
                    image=image_by_ref(reference=reference, architecture=architecture),
                )
            )
        )


class ForgetImageById(graphene.Mutation):
    class Arguments:
        image_id = graphene.String(required=True)

    ok = graphene.Boolean()
    msg = graphene.String()

    @staticmethod
    def mutate(root: None, info: graphene.ResolveInfo, image_id: str) -> ForgetImageById:
        return ForgetImageById(
            **_run(lambda: image_admin_forget(actor=caller(info), image=image_by_id(image_id)))
        )


class PurgeImageById(graphene.Mutation):
    class Arguments:
        image_id = graphene.String(required=True)
        options = PurgeImageOptions()

    image = graphene.Field(ImageDetail)

    @staticmethod
    def mutate(
        root: None, info: graphene.ResolveInfo, image_id: str, options: Any = None
    ) -> PurgeImageById:
        if options and options.get("remove_from_registry"):
            raise GraphQLError("remove_from_registry is not supported by this server")

        def run() -> ImageDetail:
            image = image_by_id(image_id)
            detail = ImageDetail.from_image(image)
            image_admin_forget(actor=caller(info), image=image)
            return detail

        detail, error = mutation_guard(run)
        if detail is None:
            raise GraphQLError(error or "the image was not purged")
        return PurgeImageById(image=detail)


class RescanImages(graphene.Mutation):
    """Starts the rescan as a background task; `task_id` is what the client then follows on
    `/events/background-task`. An unknown registry is `ok: false` with `msg`; a role that may not
    rescan is a GraphQL error."""

    class Arguments:
        registry = graphene.String()
        project = graphene.String()

    ok = graphene.Boolean()
    msg = graphene.String()
    task_id = graphene.UUID()

    @staticmethod
    def mutate(
        root: None,
        info: graphene.ResolveInfo,
        registry: str | None = None,
        project: str | None = None,
    ) -> RescanImages:
        task_id, error = mutation_guard(
            lambda: images_rescan_start(actor=caller(info), registry=registry, project=project)
        )
        return RescanImages(ok=error is None, msg=error or "", task_id=task_id)


class ImageMutations(graphene.ObjectType):
    alias_image = AliasImage.Field()
    dealias_image = DealiasImage.Field()
    forget_image = ForgetImage.Field()
    forget_image_by_id = ForgetImageById.Field()
    purge_image_by_id = PurgeImageById.Field()
    rescan_images = RescanImages.Field()
