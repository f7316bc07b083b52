"""People of one domain for the template and dotfile tests: a project's owner-to-be and a
fellow member, a user of another project, the domain's admin (a member of that other project),
and an admin of another domain; a signed API client per person."""

from __future__ import annotations

from dataclasses import dataclass

from django.test import Client

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project
from tests.factories.accounts import DomainFactory, ProjectFactory
from tests.factories.world import make_member
from tests.helpers.signed import SignedApi


@dataclass
class Tenants:
    domain: Domain
    project: Project
    other_project: Project
    owner: SignedApi
    member: SignedApi
    outsider: SignedApi
    domain_admin: SignedApi
    foreign_admin: SignedApi


def tenants_make(domain: Domain, project: Project) -> Tenants:
    other_project = ProjectFactory.create(name="other-project", domain=domain)
    elsewhere = DomainFactory.create(name="elsewhere")
    elsewhere_project = ProjectFactory.create(name="default", domain=elsewhere)

    def api(in_project: Project, email: str, role: UserRole = UserRole.USER) -> SignedApi:
        return SignedApi(creds=make_member(in_project, email, role), client=Client())

    return Tenants(
        domain=domain,
        project=project,
        other_project=other_project,
        owner=api(project, "owner@example.com"),
        member=api(project, "member@example.com"),
        outsider=api(other_project, "outsider@example.com"),
        domain_admin=api(other_project, "dadmin@example.com", UserRole.ADMIN),
        foreign_admin=api(elsewhere_project, "fadmin@example.com", UserRole.ADMIN),
    )
