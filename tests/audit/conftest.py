from __future__ import annotations

import pytest

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain
from backendai_site.accounts.services import keypair_issue, user_create
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.sessions import SessionFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials


@pytest.fixture
def domain_admin(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "dadmin@example.com", UserRole.ADMIN)


@pytest.fixture
def monitor(world: ComputeWorld) -> Credentials:
    return make_member(world.project, "monitor@example.com", UserRole.MONITOR)


@pytest.fixture
def far_user(world: ComputeWorld) -> Credentials:
    """A plain user of another domain."""
    domain = Domain.objects.create(name="far")
    user = user_create(email="far@example.com", password="pw-123456", domain=domain)
    issued = keypair_issue(user=user)
    return Credentials(user=user, keypair=issued.keypair, secret_key=issued.secret_key)


@pytest.fixture
def users_running_session(world: ComputeWorld) -> Session:
    session: Session = SessionFactory.create(
        name="mysession",
        domain=world.domain,
        project=world.project,
        user=world.user.user,
        access_key=world.user.keypair,
        resource_group=world.group,
        image=world.image,
        status=SessionStatus.RUNNING,
    )
    return session
