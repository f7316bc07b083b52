"""Agents and resource groups in the admin GraphQL per role (the official client's documents)."""

from __future__ import annotations

from typing import Any

import pytest

from agents_app.models import ResourceGroup, ResourceGroupForDomain
from backendai_site.accounts.enums import UserRole
from tests.factories.agents import ResourceGroupFactory
from tests.factories.world import ComputeWorld, add_agent, make_member
from tests.helpers.gql import gql

pytestmark = pytest.mark.django_db

AGENTS = """query($limit:Int!, $offset:Int!, $status: String, $scaling_group: String,
  $filter: String, $order: String) { agent_list(limit:$limit, offset:$offset, status:$status,
  scaling_group:$scaling_group, filter:$filter, order:$order) { items { id status architecture
  scaling_group region first_contact cpu_cur_pct mem_cur_bytes available_slots occupied_slots }
  total_count } }"""
AGENT = """query($agent_id: String!) { agent(agent_id: $agent_id) { id status region architecture
  first_contact cpu_cur_pct available_slots occupied_slots hardware_metadata live_stat
  local_config } }"""
GROUPS = """query($is_active: Boolean) { scaling_groups(is_active: $is_active) { name description
  is_active is_public created_at driver driver_opts scheduler scheduler_opts use_host_network
  wsproxy_addr wsproxy_api_token } }"""
GROUP = "query($name: String) { scaling_group(name: $name) { name scheduler is_public } }"
CREATE = """mutation($name: String!, $input: CreateScalingGroupInput!) {
  create_scaling_group(name: $name, props: $input) { ok msg scaling_group { name } } }"""
MODIFY = """mutation($name: String!, $input: ModifyScalingGroupInput!) {
  modify_scaling_group(name: $name, props: $input) { ok msg } }"""
DELETE = "mutation($name: String!) { delete_scaling_group(name: $name) { ok msg } }"
ASSOCIATE = """mutation($scaling_group: String!, $domain: String!) {
  associate_scaling_group_with_domain(scaling_group: $scaling_group, domain: $domain) {
    ok msg } }"""
DISSOCIATE = """mutation($scaling_group: String!, $domain: String!) {
  disassociate_scaling_group_with_domain(scaling_group: $scaling_group, domain: $domain) {
    ok msg } }"""
CLI_ADD = {
    "description": "", "is_active": True, "is_public": True, "driver": "static",
    "scheduler": "fifo", "use_host_network": False, "wsproxy_addr": None,
    "wsproxy_api_token": None, "driver_opts": "{}", "scheduler_opts": "{}",
}  # fmt: skip


class TestAgents:
    def test_list_in_constant_queries_with_slots(
        self, world: ComputeWorld, django_assert_num_queries: Any
    ) -> None:
        with django_assert_num_queries(3):  # page, count, resources
            gql(world.admin, AGENTS, limit=20, offset=0, status="ALIVE")
        for _ in range(3):
            add_agent(world.group)
        with django_assert_num_queries(3):
            data, errors = gql(world.admin, AGENTS, limit=20, offset=0, status="ALIVE")

        assert errors == [] and data["agent_list"]["total_count"] == 4
        first = next(a for a in data["agent_list"]["items"] if a["id"] == world.agent.id)
        assert first["available_slots"] == '{"cpu": "4", "mem": "8589934592"}'
        assert first["occupied_slots"] == '{"cpu": "0", "mem": "0"}'
        assert first["scaling_group"] == "default"

    def test_filter_detail_and_refusals(self, world: ComputeWorld) -> None:
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)

        filtered, _ = gql(
            world.admin,
            AGENTS,
            limit=20,
            offset=0,
            filter=f'id == "{world.agent.id}" & schedulable == true',
        )
        detail, _ = gql(world.admin, AGENT, agent_id=world.agent.id)
        _, by_admin = gql(dadmin, AGENTS, limit=20, offset=0)
        _, by_user = gql(world.user, AGENT, agent_id=world.agent.id)

        assert [a["id"] for a in filtered["agent_list"]["items"]] == [world.agent.id]
        assert detail["agent"]["id"] == world.agent.id and detail["agent"]["live_stat"] is None
        assert by_admin == by_user == ["reading agents needs a superadmin or monitor role"]


class TestScalingGroups:
    def test_superadmin_lifecycle(self, world: ComputeWorld) -> None:
        created, errors = gql(world.admin, CREATE, name="gpu", input=CLI_ADD)
        modified, _ = gql(
            world.admin, MODIFY, name="gpu", input={"scheduler": "drf", "is_public": False}
        )
        associated, _ = gql(world.admin, ASSOCIATE, scaling_group="gpu", domain="default")
        listed, _ = gql(world.admin, GROUPS)

        assert errors == [] and created["create_scaling_group"]["ok"], created
        assert (
            modified["modify_scaling_group"]["ok"]
            and associated["associate_scaling_group_with_domain"]["ok"]
        )
        gpu = next(g for g in listed["scaling_groups"] if g["name"] == "gpu")
        assert (gpu["scheduler"], gpu["is_public"], gpu["driver"]) == ("drf", False, "static")
        assert ResourceGroupForDomain.objects.filter(resource_group__name="gpu").exists()

        dissociated, _ = gql(world.admin, DISSOCIATE, scaling_group="gpu", domain="default")
        deleted, _ = gql(world.admin, DELETE, name="gpu")
        assert dissociated["disassociate_scaling_group_with_domain"]["ok"]
        assert deleted["delete_scaling_group"]["ok"]
        assert not ResourceGroup.objects.filter(name="gpu").exists()

    def test_scopes_and_refusals(self, world: ComputeWorld) -> None:
        dadmin = make_member(world.project, "dadmin@example.com", UserRole.ADMIN)
        mine = ResourceGroupFactory.create(name="mine")
        ResourceGroupForDomain.objects.create(resource_group=mine, domain=world.domain)

        domain_view, _ = gql(dadmin, GROUPS)
        _, user_view = gql(world.user, GROUP, name="default")
        _, by_admin = gql(dadmin, CREATE, name="x", input=CLI_ADD)
        busy, _ = gql(world.admin, DELETE, name="default")
        bad, _ = gql(world.admin, CREATE, name="y", input={**CLI_ADD, "scheduler": "random"})
        host_net, _ = gql(
            world.admin, CREATE, name="z", input={**CLI_ADD, "use_host_network": True}
        )
        bad_opts, _ = gql(world.admin, MODIFY, name="mine", input={"scheduler_opts": '{"x": 1}'})

        assert [g["name"] for g in domain_view["scaling_groups"]] == ["mine"]
        assert user_view == ["reading resource groups needs an admin or monitor role"]
        assert by_admin == ["a admin may not manage resource groups"]
        assert busy["delete_scaling_group"]["msg"] == (
            "the resource group default still has agents or sessions"
        )
        assert "unknown scheduler 'random'" in bad["create_scaling_group"]["msg"]
        assert host_net["create_scaling_group"]["msg"] == (
            "use_host_network is not supported by this server"
        )
        assert "invalid scheduler_opts" in bad_opts["modify_scaling_group"]["msg"]
