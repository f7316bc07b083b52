"""factory-boy factories for the accounts app."""

from __future__ import annotations

import factory

from backendai_site.accounts.enums import UserRole, UserStatus
from backendai_site.accounts.models import (
    Domain,
    KeypairResourcePolicy,
    Project,
    ProjectResourcePolicy,
    User,
    UserResourcePolicy,
)


class DomainFactory(factory.django.DjangoModelFactory[Domain]):
    class Meta:
        model = Domain
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"domain{n}")


class KeypairResourcePolicyFactory(factory.django.DjangoModelFactory[KeypairResourcePolicy]):
    class Meta:
        model = KeypairResourcePolicy
        django_get_or_create = ("name",)

    name = "default"


class UserResourcePolicyFactory(factory.django.DjangoModelFactory[UserResourcePolicy]):
    class Meta:
        model = UserResourcePolicy
        django_get_or_create = ("name",)

    name = "default"


class ProjectResourcePolicyFactory(factory.django.DjangoModelFactory[ProjectResourcePolicy]):
    class Meta:
        model = ProjectResourcePolicy
        django_get_or_create = ("name",)

    name = "default"


class ProjectFactory(factory.django.DjangoModelFactory[Project]):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"project{n}")
    domain = factory.SubFactory(DomainFactory)
    resource_policy = factory.SubFactory(ProjectResourcePolicyFactory)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda o: o.email)
    role = UserRole.USER
    status = UserStatus.ACTIVE
    domain = factory.SubFactory(DomainFactory)
    resource_policy = factory.SubFactory(UserResourcePolicyFactory)
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save_password(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save(update_fields=["password"])
