"""`POST /scheduling-history/sessions/search`: the status moves as history records, scoped by
the one authorization rule, filtered and paginated as the reference's request asks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backendai_site.accounts.enums import UserRole
from sessions_app.enums import SessionStatus
from sessions_app.models import Session, SessionStatusHistory
from sessions_app.selectors_history import record_id
from tests.factories.sessions import SessionFactory
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials

pytestmark = pytest.mark.django_db

URL = "/scheduling-history/sessions/search"
S = SessionStatus


def session_with_moves(
    world: ComputeWorld, owner: Credentials, moves: list[tuple[SessionStatus, str]]
) -> Session:
    session: Session = SessionFactory.create(
        domain=world.domain,
        project=world.project,
        user=owner.user,
        access_key=owner.keypair,
        resource_group=world.group,
        image=world.image,
        status=moves[-1][0],
    )
    start = timezone.now() - timedelta(minutes=10)
    SessionStatusHistory.objects.bulk_create(
        SessionStatusHistory(session=session, status=status, reason=reason,
                             at=start + timedelta(seconds=i))
        for i, (status, reason) in enumerate(moves)
    )  # fmt: skip
    return session


def search(client: Client, creds: Credentials, body: dict[str, Any]) -> Any:
    response = api_call(client, creds, "POST", URL, body)
    assert response.status_code == 200, response.content
    return response.json()


REQUEUED = [
    (S.PENDING, "enqueued"),
    (S.SCHEDULED, "scheduled"),
    (S.PREPARING, "starting"),
    (S.PENDING, "insufficient-resource"),
    (S.SCHEDULED, "scheduled"),
    (S.RUNNING, "started"),
    (S.TERMINATING, "user-requested"),
    (S.TERMINATED, "user-requested"),
]


class TestRecords:
    def test_moves_read_as_history_with_setbacks_marked(self, world: ComputeWorld) -> None:
        session = session_with_moves(world, world.user, REQUEUED)
        body = search(Client(), world.user,
                      {"order": [{"field": "created_at", "direction": "asc"}]})  # fmt: skip
        items = body["items"]
        assert body["pagination"] == {"total": 8, "offset": 0, "limit": 50}
        assert [(i["from_status"], i["to_status"]) for i in items[:4]] == [
            (None, "PENDING"),
            ("PENDING", "SCHEDULED"),
            ("SCHEDULED", "PREPARING"),
            ("PREPARING", "PENDING"),
        ]
        requeue = items[3]
        assert requeue["phase"] == "requeue"
        assert requeue["result"] == "FAILURE"
        assert requeue["error_code"] == "insufficient-resource"
        assert requeue["message"] == "insufficient-resource"
        assert [i["phase"] for i in items[4:]] == ["schedule", "start", "terminate", "terminate"]
        assert {i["result"] for i in items if i is not requeue} == {"SUCCESS"}
        assert {i["session_id"] for i in items} == {str(session.pk)}
        first = SessionStatusHistory.objects.order_by("at", "pk").first()
        assert first is not None
        assert items[0]["id"] == str(record_id(first.pk))

    def test_errors_and_unrequested_cancels_are_failures(self, world: ComputeWorld) -> None:
        session_with_moves(world, world.user, [(S.PENDING, "enqueued"),
                                               (S.CANCELLED, "dependency-failed")])  # fmt: skip
        session_with_moves(world, world.user, [(S.PENDING, "enqueued"),
                                               (S.CANCELLED, "user-requested")])  # fmt: skip
        session_with_moves(world, world.user, [(S.PENDING, "enqueued"), (S.SCHEDULED, ""),
                                               (S.ERROR, "start-timeout")])  # fmt: skip
        failures = search(Client(), world.user, {"filter": {"result": ["FAILURE"]}})["items"]
        assert sorted(i["error_code"] for i in failures) == ["dependency-failed", "start-timeout"]
        assert {i["phase"] for i in failures} == {"cancel", "error"}


class TestFilters:
    def test_each_filter_narrows(self, world: ComputeWorld) -> None:
        first = session_with_moves(world, world.user, REQUEUED)
        session_with_moves(world, world.user, [(S.PENDING, "enqueued")])
        client = Client()

        def total(filter_: dict[str, Any]) -> int:
            return int(search(client, world.user, {"filter": filter_})["pagination"]["total"])

        assert total({}) == 9
        assert total({"session_id": {"equals": str(first.pk)}}) == 8
        assert total({"session_id": {"not_in": [str(first.pk)]}}) == 1
        assert total({"phase": {"contains": "queue"}}) == 3  # enqueue x2, requeue
        assert total({"from_status": ["PREPARING"]}) == 1
        assert total({"to_status": ["pending", "SCHEDULED"]}) == 5
        assert total({"error_code": {"starts_with": "insufficient"}}) == 1
        assert total({"message": {"i_contains": "USER-REQ"}}) == 2
        assert total({"message": {"not_equals": "enqueued"}, "result": ["SUCCESS"]}) == 6

    def test_pages_and_order(self, world: ComputeWorld) -> None:
        session_with_moves(world, world.user, REQUEUED)
        client = Client()
        newest = search(client, world.user, {"limit": 3})
        assert [i["to_status"] for i in newest["items"]] == ["TERMINATED", "TERMINATING", "RUNNING"]
        second = search(client, world.user, {"limit": 3, "offset": 3})
        assert [i["to_status"] for i in second["items"]] == ["SCHEDULED", "PENDING", "PREPARING"]
        assert second["pagination"] == {"total": 8, "offset": 3, "limit": 3}

    @pytest.mark.parametrize(
        "body",
        [
            {"limit": 0},
            {"limit": 1001},
            {"offset": -1},
            {"filter": {"phase": {"like": "x"}}},
            {"filter": {"session_id": {"equals": "not-a-uuid"}}},
            {"filter": {"result": ["MAYBE"]}},
            {"order": [{"field": "status"}]},
            {"unknown": 1},
        ],
    )
    def test_bad_input_is_a_400(self, world: ComputeWorld, body: dict[str, Any]) -> None:
        response = api_call(Client(), world.user, "POST", URL, body)
        assert response.status_code == 400, response.content
        assert problem_type(response) == "invalid-api-params"


class TestScope:
    def test_each_role_sees_what_the_rule_lets_it_view(self, world: ComputeWorld) -> None:
        other = make_member(world.project, "other@example.com")
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        mine = session_with_moves(world, world.user, [(S.PENDING, "enqueued")])
        theirs = session_with_moves(world, other, [(S.PENDING, "enqueued")])
        client = Client()

        def seen(creds: Credentials) -> set[str]:
            return {i["session_id"] for i in search(client, creds, {})["items"]}

        assert seen(world.user) == {str(mine.pk)}
        assert seen(other) == {str(theirs.pk)}
        assert seen(dadmin) == {str(mine.pk), str(theirs.pk)}
        assert seen(world.admin) == {str(mine.pk), str(theirs.pk)}
        # naming another user's session in the filter reveals nothing
        only_theirs = {"filter": {"session_id": {"equals": str(theirs.pk)}}}
        assert search(client, world.user, only_theirs)["items"] == []

    def test_unsigned_request_is_refused(self, world: ComputeWorld) -> None:
        response = Client().post(URL, data=b"{}", content_type="application/json")
        assert response.status_code == 401
