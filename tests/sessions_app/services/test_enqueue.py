from __future__ import annotations

from typing import Any

import pytest

from backendai_site.accounts.models import KeypairResourcePolicy
from sessions_app.enums import KernelStatus, SessionStatus
from sessions_app.errors import (
    ExceedsAgentCapacity,
    ImageNotFound,
    InsufficientResourceRequest,
    InvalidPriority,
    OwnerNotPermitted,
    ProjectNotFound,
    ResourceGroupNotAllowed,
    ResourceLimitExceeded,
    SessionAlreadyExists,
    SessionTypeNotAllowed,
    TooManyContainers,
    TooManyPendingSessions,
    UnknownResourceSlot,
)
from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld, make_member

pytestmark = pytest.mark.django_db


def request(**fields: Any) -> SessionCreateRequest:
    body: dict[str, Any] = {"image": "python", "enqueueOnly": True}
    body.update(fields)
    return SessionCreateRequest.model_validate(body)


class TestSessionEnqueue:
    def test_writes_a_pending_session_with_kernels_and_history(self, world: ComputeWorld) -> None:
        result = session_enqueue(
            requester=world.user.keypair,
            request=request(name="mysess", config={"resources": {"cpu": "2", "mem": "1g"}}),
        )

        session = result.session
        assert result.created
        assert session.status == SessionStatus.PENDING
        assert session.requested_slots == {"cpu": "2", "mem": str(1024**3)}
        assert session.resource_group == world.group
        assert session.image == world.image
        assert [k.status for k in session.kernels.all()] == [KernelStatus.PENDING]
        assert list(session.history.values_list("status", flat=True)) == ["PENDING"]

    def test_defaults_come_from_the_image_minimum(self, world: ComputeWorld) -> None:
        world.image.min_resources = {"cpu": "2", "mem": str(2 * 1024**3)}
        world.image.save()

        session = session_enqueue(requester=world.user.keypair, request=request()).session

        assert session.requested_slots == {"cpu": "2", "mem": str(2 * 1024**3)}

    def test_below_image_minimum_is_refused(self, world: ComputeWorld) -> None:
        world.image.min_resources = {"cpu": "2"}
        world.image.save()

        with pytest.raises(InsufficientResourceRequest) as exc:
            session_enqueue(
                requester=world.user.keypair, request=request(config={"resources": {"cpu": "1"}})
            )

        assert exc.value.data == {"cpu": {"requested": "1", "minimum": "2"}}

    def test_unknown_image(self, world: ComputeWorld) -> None:
        with pytest.raises(ImageNotFound):
            session_enqueue(requester=world.user.keypair, request=request(image="nope:1"))

    def test_unknown_slot(self, world: ComputeWorld) -> None:
        with pytest.raises(UnknownResourceSlot):
            session_enqueue(
                requester=world.user.keypair,
                request=request(config={"resources": {"cuda.shares": "1"}}),
            )

    def test_larger_than_any_agent(self, world: ComputeWorld) -> None:
        with pytest.raises(ExceedsAgentCapacity) as exc:
            session_enqueue(
                requester=world.user.keypair, request=request(config={"resources": {"cpu": "5"}})
            )

        assert exc.value.data is not None and exc.value.data["largest_agent"]["cpu"] == "4"

    def test_policy_total_slots(self, world: ComputeWorld) -> None:
        KeypairResourcePolicy.objects.filter(name="default").update(
            total_resource_slots={"cpu": "1"}, default_for_unspecified="UNLIMITED"
        )
        world.user.keypair.resource_policy.refresh_from_db()

        with pytest.raises(ResourceLimitExceeded) as exc:
            session_enqueue(
                requester=world.user.keypair, request=request(config={"resources": {"cpu": "2"}})
            )

        assert exc.value.data == {"cpu": {"requested": "2", "limit": "1"}}

    def test_limited_policy_refuses_unlisted_slots(self, world: ComputeWorld) -> None:
        KeypairResourcePolicy.objects.filter(name="default").update(
            total_resource_slots={"cpu": "4"}, default_for_unspecified="LIMITED"
        )
        world.user.keypair.resource_policy.refresh_from_db()

        with pytest.raises(ResourceLimitExceeded) as exc:
            session_enqueue(requester=world.user.keypair, request=request())

        assert exc.value.data is not None and "mem" in exc.value.data

    def test_max_pending_sessions(self, world: ComputeWorld) -> None:
        KeypairResourcePolicy.objects.filter(name="default").update(max_pending_session_count=1)
        world.user.keypair.resource_policy.refresh_from_db()
        session_enqueue(requester=world.user.keypair, request=request(name="first"))

        with pytest.raises(TooManyPendingSessions):
            session_enqueue(requester=world.user.keypair, request=request(name="second"))

    def test_max_containers_per_session(self, world: ComputeWorld) -> None:
        with pytest.raises(TooManyContainers):
            session_enqueue(requester=world.user.keypair, request=request(clusterSize=2))

    def test_priority_bounds(self, world: ComputeWorld) -> None:
        with pytest.raises(InvalidPriority):
            session_enqueue(requester=world.user.keypair, request=request(priority=101))

    def test_resource_group_must_be_allowed(self, world: ComputeWorld) -> None:
        from tests.factories.agents import ResourceGroupFactory

        ResourceGroupFactory.create(name="private", is_public=False)

        with pytest.raises(ResourceGroupNotAllowed):
            session_enqueue(
                requester=world.user.keypair, request=request(config={"scalingGroup": "private"})
            )

    def test_resource_group_bound_to_the_project_is_allowed(self, world: ComputeWorld) -> None:
        from tests.factories.agents import ResourceGroupFactory

        private = ResourceGroupFactory.create(name="private", is_public=False)
        private.projects.add(world.project)

        session = session_enqueue(
            requester=world.user.keypair, request=request(config={"scalingGroup": "private"})
        ).session

        assert session.resource_group == private

    def test_session_type_must_be_allowed(self, world: ComputeWorld) -> None:
        world.group.scheduler_opts = {"allowed_session_types": ["interactive"]}
        world.group.save()

        with pytest.raises(SessionTypeNotAllowed):
            session_enqueue(requester=world.user.keypair, request=request(type="batch"))

    def test_project_membership_is_required(self, world: ComputeWorld) -> None:
        from tests.factories.accounts import ProjectFactory

        ProjectFactory.create(name="other", domain=world.domain)

        with pytest.raises(ProjectNotFound):
            session_enqueue(requester=world.user.keypair, request=request(group="other"))

    def test_same_name_is_reused_or_refused(self, world: ComputeWorld) -> None:
        first = session_enqueue(requester=world.user.keypair, request=request(name="dup1")).session

        reused = session_enqueue(requester=world.user.keypair, request=request(name="dup1"))
        with pytest.raises(SessionAlreadyExists) as exc:
            session_enqueue(
                requester=world.user.keypair, request=request(name="dup1", reuseIfExists=False)
            )

        assert (reused.created, reused.session.pk) == (False, first.pk)
        assert exc.value.data == {"existingSessionId": str(first.pk)}
        assert Session.objects.count() == 1

    def test_owner_access_key_needs_an_admin(self, world: ComputeWorld) -> None:
        other = make_member(world.project, "other@example.com")

        with pytest.raises(OwnerNotPermitted):
            session_enqueue(
                requester=world.user.keypair,
                request=request(owner_access_key=other.access_key),
            )
        on_behalf = session_enqueue(
            requester=world.admin.keypair, request=request(owner_access_key=other.access_key)
        ).session

        assert on_behalf.access_key_id == other.access_key
        assert on_behalf.user_id == other.user.pk

    def test_batch_fields_are_parsed(self, world: ComputeWorld) -> None:
        session = session_enqueue(
            requester=world.user.keypair,
            request=request(
                type="batch", startupCommand="python -c 'print(1)'", batch_timeout="1h",
                starts_at="10m",
            ),
        ).session  # fmt: skip

        assert session.batch_timeout == 3600
        assert session.starts_at is not None and session.starts_at > session.created_at
        assert session.startup_command == "python -c 'print(1)'"
