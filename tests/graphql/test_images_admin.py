"""Image administration in the admin GraphQL per role (the official client's documents)."""

from __future__ import annotations

import pytest

from agents_app.models import Image, ImageAlias
from backendai_site.accounts.enums import UserRole
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.agents import ImageFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.gql import gql

pytestmark = pytest.mark.django_db

BY_ID = "query($id: String!) { image(id: $id) { id name tag aliases } }"
BY_REF = """query($reference: String!, $architecture: String!) {
  image(reference: $reference, architecture: $architecture) { id } }"""
ALIAS = """mutation($alias: String!, $target: String!, $architecture: String) {
  alias_image(alias: $alias, target: $target, architecture: $architecture) { ok msg } }"""
DEALIAS = "mutation($alias: String!) { dealias_image(alias: $alias) { ok msg } }"
FORGET = """mutation($reference: String!, $architecture: String!) {
  forget_image(reference: $reference, architecture: $architecture) { ok msg } }"""
FORGET_ID = "mutation($image_id: String!) { forget_image_by_id(image_id: $image_id) { ok msg } }"
PURGE = """mutation($image_id: String!, $options: PurgeImageOptions) {
  purge_image_by_id(image_id: $image_id, options: $options) { image { id name } } }"""


class TestImageAdmin:
    def test_lookup_alias_dealias_forget_purge(self, world: ComputeWorld) -> None:
        spare = ImageFactory.create(name="bai/spare", tag="1.0")
        other = ImageFactory.create(name="bai/other", tag="2.0")

        by_ref, _ = gql(world.user, BY_REF, reference="bai/spare:1.0", architecture="x86_64")
        _, unknown = gql(world.user, BY_ID, id="python")
        aliased, _ = gql(world.admin, ALIAS, alias="spare", target="bai/spare:1.0")
        detail, _ = gql(world.user, BY_ID, id=str(spare.pk))
        dealiased, _ = gql(world.admin, DEALIAS, alias="spare")
        missing_alias, _ = gql(world.admin, DEALIAS, alias="spare")

        assert by_ref["image"]["id"] == str(spare.pk)
        assert unknown == ["no image with id 'python'"]
        assert aliased["alias_image"]["ok"] and detail["image"]["aliases"] == ["spare"]
        assert dealiased["dealias_image"]["ok"] and not ImageAlias.objects.filter(alias="spare")
        assert missing_alias["dealias_image"] == {"ok": False, "msg": "no alias 'spare'"}

        forgot, _ = gql(world.admin, FORGET, reference="bai/spare:1.0", architecture="x86_64")
        purged, _ = gql(
            world.admin, PURGE, image_id=str(other.pk), options={"remove_from_registry": False}
        )
        assert forgot["forget_image"]["ok"] and not Image.objects.filter(pk=spare.pk).exists()
        assert purged["purge_image_by_id"]["image"] == {"id": str(other.pk), "name": "bai/other"}
        assert not Image.objects.filter(pk=other.pk).exists()

    def test_refusals(self, world: ComputeWorld) -> None:
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        session_enqueue(
            requester=world.user.keypair,
            request=SessionCreateRequest.model_validate(
                {"image": "python", "name": "img-user", "enqueueOnly": True}
            ),
        )

        _, by_admin = gql(dadmin, ALIAS, alias="x", target="bai/python:3.11")
        _, by_user = gql(world.user, FORGET_ID, image_id=str(world.image.pk))
        in_use, _ = gql(world.admin, FORGET_ID, image_id=str(world.image.pk))
        _, registry = gql(
            world.admin, PURGE, image_id=str(world.image.pk), options={"remove_from_registry": True}
        )
        no_target, _ = gql(world.admin, ALIAS, alias="x", target="nope:1")

        assert by_admin == ["a admin may not manage images"]
        assert by_user == ["a user may not manage images"]
        assert "sessions were started from bai/python:3.11" in in_use["forget_image_by_id"]["msg"]
        assert registry == ["remove_from_registry is not supported by this server"]
        assert no_target["alias_image"]["msg"] == "no image 'nope:1' for x86_64"
        assert Image.objects.filter(pk=world.image.pk).exists()
