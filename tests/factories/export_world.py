"""A two-domain world for the CSV export tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import Domain, Project
from backendai_site.accounts.services import keypair_issue, user_create
from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.models import AuditLogEntry
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.sessions import SessionFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.credentials import Credentials


@dataclass
class ExportWorld:
    """The compute world's `default` domain (a superadmin, a domain admin, a plain user, a
    monitor, a running and a terminated session, one audit entry) and a `far` domain (a plain
    user, a project, a session, an audit entry)."""

    world: ComputeWorld
    domain_admin: Credentials
    monitor: Credentials
    far_user: Credentials
    far_project: Project
    running: Session
    terminated: Session
    far_session: Session
    near_entry: AuditLogEntry
    far_entry: AuditLogEntry

    @property
    def superadmin(self) -> Credentials:
        return self.world.admin

    @property
    def user(self) -> Credentials:
        return self.world.user


def _entry(creds: Credentials, **fields: object) -> AuditLogEntry:
    user = creds.user
    values: dict[str, object] = {
        "request_id": "req-" + user.username,
        "user_id": user.pk,
        "user_email": user.email,
        "role": user.role,
        "domain_name": user.domain.name,
        "access_key": creds.access_key,
        "action": "POST /session",
        "target_type": "session",
        "target_id": "s-" + user.username,
        "outcome": AuditOutcome.SUCCESS,
        "status_code": 201,
        "method": "POST",
        "path": "/session",
    }
    values.update(fields)
    return AuditLogEntry.objects.create(**values)


def make_export_world(world: ComputeWorld) -> ExportWorld:
    far = Domain.objects.create(name="far")
    far_user_model = user_create(email="far@example.com", password="pw-123456", domain=far)
    issued = keypair_issue(user=far_user_model)
    far_user = Credentials(
        user=far_user_model, keypair=issued.keypair, secret_key=issued.secret_key
    )
    far_project = Project.objects.create(
        name="far-lab", domain=far, resource_policy=world.project.resource_policy
    )
    common = {"resource_group": world.group, "image": world.image}
    running = SessionFactory.create(
        name="near-running", domain=world.domain, project=world.project, user=world.user.user,
        access_key=world.user.keypair, status=SessionStatus.RUNNING, **common,
    )  # fmt: skip
    terminated = SessionFactory.create(
        name="near-done", domain=world.domain, project=world.project, user=world.user.user,
        access_key=world.user.keypair, status=SessionStatus.TERMINATED,
        terminated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), **common,
    )  # fmt: skip
    far_session = SessionFactory.create(
        name="far-running", domain=far, project=far_project, user=far_user_model,
        access_key=far_user.keypair, status=SessionStatus.RUNNING, **common,
    )  # fmt: skip
    return ExportWorld(
        world=world,
        domain_admin=make_member(world.project, "dadmin@example.com", UserRole.ADMIN),
        monitor=make_member(world.project, "monitor@example.com", UserRole.MONITOR),
        far_user=far_user,
        far_project=far_project,
        running=running,
        terminated=terminated,
        far_session=far_session,
        near_entry=_entry(world.user),
        far_entry=_entry(far_user, outcome=AuditOutcome.FAILURE, status_code=400),
    )


def export_world_grow(export_world: ExportWorld, count: int) -> None:
    """`count` more users (each with a keypair, a project, a session and an audit entry) in
    the `default` domain."""
    world = export_world.world
    for n in range(count):
        creds = make_member(world.project, f"more{n}@example.com")
        Project.objects.create(
            name=f"more-{n}", domain=world.domain, resource_policy=world.project.resource_policy
        )
        SessionFactory.create(
            name=f"more-{n}", domain=world.domain, project=world.project, user=creds.user,
            access_key=creds.keypair, resource_group=world.group, image=world.image,
        )  # fmt: skip
        _entry(creds)
