"""`ps --filter`/`--order` and `modify_compute_session` in the admin GraphQL per role."""

from __future__ import annotations

import pytest

from backendai_site.accounts.enums import UserRole
from tests.factories.world import ComputeWorld, make_member
from tests.helpers.gql import gql
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db

LIST = """query($limit:Int!, $offset:Int!, $filter: String, $order: String) {
  compute_session_list(limit:$limit, offset:$offset, filter:$filter, order:$order) {
  items { name priority } total_count } }"""
MODIFY = """mutation($input: ModifyComputeSessionInput!) { modify_compute_session(input: $input) {
  item { name priority } clientMutationId } }"""


class TestSessionFilter:
    def test_filter_and_order_within_the_callers_scope(self, world: ComputeWorld) -> None:
        enqueue(world.user, "alpha-1")
        enqueue(world.user, "alpha-2")
        enqueue(world.user, "beta-1")
        other = make_member(world.project, "other@example.com")
        enqueue(other, "alpha-9")

        mine, errors = gql(
            world.user,
            LIST,
            limit=20,
            offset=0,
            filter='name like "alpha-%" & status == "PENDING"',
            order="-name",
        )
        everyone, _ = gql(world.admin, LIST, limit=20, offset=0, filter='name ilike "ALPHA%"')

        assert errors == []
        assert [i["name"] for i in mine["compute_session_list"]["items"]] == ["alpha-2", "alpha-1"]
        assert mine["compute_session_list"]["total_count"] == 2
        assert everyone["compute_session_list"]["total_count"] == 3

    @pytest.mark.parametrize(
        ("expr", "message"),
        [
            ('access_key_id.secret == "x"', "cannot filter by 'access_key_id.secret'"),
            ('name == "x" | ', "expected a field name at the end"),
            ('(name == "x"', "missing ')'"),
            ("name in 3", "'in' needs a list value"),
        ],
    )
    def test_bad_filters(self, world: ComputeWorld, expr: str, message: str) -> None:
        _, errors = gql(world.user, LIST, limit=20, offset=0, filter=expr)

        assert len(errors) == 1 and message in errors[0]


class TestSetPriority:
    def test_managers_set_priority_watchers_may_not(self, world: ComputeWorld) -> None:
        session = enqueue(world.user, "prio")
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        monitor = make_member(world.project, "mon@example.com", UserRole.MONITOR)
        stranger = make_member(world.project, "stranger@example.com")

        done, errors = gql(
            world.admin,
            MODIFY,
            input={"id": str(session.pk), "priority": 50, "clientMutationId": "c1"},
        )
        by_domain_admin, _ = gql(dadmin, MODIFY, input={"id": str(session.pk), "priority": 60})
        _, by_monitor = gql(monitor, MODIFY, input={"id": str(session.pk), "priority": 99})
        _, by_stranger = gql(stranger, MODIFY, input={"id": str(session.pk), "priority": 99})
        by_owner, _ = gql(world.user, MODIFY, input={"id": str(session.pk), "priority": 70})
        _, out_of_range = gql(world.admin, MODIFY, input={"id": str(session.pk), "priority": 101})
        _, rename = gql(world.admin, MODIFY, input={"id": str(session.pk), "name": "x"})

        assert errors == []
        assert done["modify_compute_session"] == {
            "item": {"name": "prio", "priority": 50},
            "clientMutationId": "c1",
        }
        assert by_domain_admin["modify_compute_session"]["item"]["priority"] == 60
        assert by_monitor == [
            "You may see this session but not do that to it (monitors only watch)."
        ]
        assert by_stranger == [f"no session {str(session.pk)!r} visible to you"]
        assert by_owner["modify_compute_session"]["item"]["priority"] == 70
        assert out_of_range == ["priority must be within 0..100"]
        assert rename == ["renaming a session is not supported; only priority changes"]
        session.refresh_from_db()
        assert session.priority == 70
