"""`/template/session`: create (JSON and YAML payloads), list, get, update, delete, scoped by
who may see and change a template; bad input answers 4xx with a stable type."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from templates_app.models import SessionTemplate
from tests.helpers.signed import SignedApi
from tests.helpers.tenants import Tenants

pytestmark = pytest.mark.django_db

TEMPLATE: dict[str, Any] = {
    "api_version": "6",
    "kind": "taskTemplate",
    "metadata": {"name": "py-tpl", "tag": "demo"},
    "spec": {
        "session_type": "interactive",
        "kernel": {
            "image": "python",
            "environ": {"GREETING": "hello"},
            "run": {"bootstrap": "echo boot > /home/work/boot.txt"},
        },
        "resources": {"cpu": "1", "mem": "256m"},
    },
}
YAML_PAYLOAD = """\
name: yaml-tpl
template:
  api_version: "6"
  kind: taskTemplate
  metadata:
    name: from-yaml
  spec:
    kernel:
      image: python
"""


def _create(api: SignedApi, payload: str, **fields: Any) -> Any:
    return api.call(
        "POST",
        "/template/session",
        {"payload": payload, "group_name": "default", "domain_name": "default", **fields},
    )


def _created_id(api: SignedApi, payload: str | None = None, **fields: Any) -> str:
    response = _create(api, payload or json.dumps([{"template": TEMPLATE}]), **fields)
    assert response.status_code == 200, response.content
    return str(response.json()[0]["id"])


def _ids(api: SignedApi, **query: str) -> set[str]:
    response = api.call("GET", "/template/session", query=query or None)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()}


def _type(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


class TestTemplateCreate:
    def test_json_payload_is_stored_for_the_owner_and_project(self, tenants: Tenants) -> None:
        response = _create(tenants.owner, json.dumps([{"template": TEMPLATE}]))

        assert response.status_code == 200, response.content
        [row] = response.json()
        template = SessionTemplate.objects.get(pk=row["id"])
        assert row["user"] == tenants.owner.creds.user.pk.hex
        assert template.name == "py-tpl"
        assert template.project == tenants.project
        assert template.template["spec"]["kernel"]["image"] == "python"

    def test_yaml_payload_with_its_own_name(self, tenants: Tenants) -> None:
        template = SessionTemplate.objects.get(pk=_created_id(tenants.owner, YAML_PAYLOAD))

        assert template.name == "yaml-tpl"
        assert template.template["metadata"]["name"] == "from-yaml"

    def test_admin_creates_for_a_user_of_the_domain(self, tenants: Tenants) -> None:
        owner_key = tenants.owner.creds.access_key
        template_id = _created_id(tenants.domain_admin, owner_access_key=owner_key)

        assert SessionTemplate.objects.get(pk=template_id).user == tenants.owner.creds.user

    @pytest.mark.parametrize("who", ["member", "foreign_admin"])
    def test_others_may_not_create_for_someone_else(self, tenants: Tenants, who: str) -> None:
        api: SignedApi = getattr(tenants, who)
        response = _create(
            api,
            json.dumps([{"template": TEMPLATE}]),
            owner_access_key=tenants.owner.creds.access_key,
        )

        assert response.status_code == 403
        assert _type(response) == "insufficient-privilege"

    def test_a_project_one_is_not_a_member_of_is_not_found(self, tenants: Tenants) -> None:
        response = _create(
            tenants.outsider, json.dumps([{"template": TEMPLATE}]), group_name="default"
        )

        assert response.status_code == 404
        assert _type(response) == "dotfile-scope-not-found"

    @pytest.mark.parametrize(
        "payload",
        [
            "{not json: [",
            json.dumps([{"template": {**TEMPLATE, "kind": "clusterTemplate"}}]),
            json.dumps([{"template": {"kind": "taskTemplate"}}]),
            json.dumps([{"template": {**TEMPLATE, "spec": {"kernel": {"image": ""}}}}]),
            json.dumps([["a list, not a mapping"]]),
            json.dumps([]),
            "a: &x [1]\nb: *x\n",
            json.dumps([{"template": TEMPLATE}] * 17),
        ],
    )
    def test_malformed_templates_are_refused(self, tenants: Tenants, payload: str) -> None:
        response = _create(tenants.owner, payload)

        assert response.status_code == 400, response.content
        assert _type(response) == "invalid-task-template"
        assert not SessionTemplate.objects.exists()

    def test_a_missing_payload_is_invalid_params(self, tenants: Tenants) -> None:
        response = tenants.owner.call("POST", "/template/session", {"group_name": "default"})

        assert response.status_code == 400
        assert _type(response) == "invalid-api-params"


class TestTemplateVisibility:
    def test_list_scopes_by_owner_project_and_role(self, tenants: Tenants) -> None:
        project_tpl = _created_id(tenants.owner)
        private_tpl = _created_id(tenants.owner, group_name=None)
        outsider_tpl = _created_id(tenants.outsider, group_name="other-project")

        assert _ids(tenants.owner) == {project_tpl, private_tpl}
        assert _ids(tenants.member) == {project_tpl}
        assert _ids(tenants.outsider) == {outsider_tpl}
        assert _ids(tenants.domain_admin) == {outsider_tpl}  # a member of other-project
        assert _ids(tenants.domain_admin, all="true") == {project_tpl, private_tpl, outsider_tpl}
        assert _ids(tenants.foreign_admin, all="true") == set()

    def test_list_rows_carry_the_clients_columns(self, tenants: Tenants) -> None:
        _created_id(tenants.owner)

        [own] = tenants.owner.call("GET", "/template/session").json()
        [theirs] = tenants.member.call("GET", "/template/session").json()

        for key in ("name", "id", "created_at", "is_owner", "type", "user", "group"):
            assert key in own
        assert own["is_owner"] is True and theirs["is_owner"] is False
        assert own["group_name"] == "default" and own["type"] == "task"

    def test_get_renders_yaml_and_json(self, tenants: Tenants) -> None:
        template_id = _created_id(tenants.owner)

        as_yaml = tenants.member.call(
            "GET", f"/template/session/{template_id}", query={"format": "yaml"}
        )
        as_json = tenants.owner.call(
            "GET", f"/template/session/{template_id}", query={"format": "json"}
        )

        assert as_yaml.status_code == 200 and as_json.status_code == 200
        assert yaml.safe_load(as_yaml.content)["template"]["metadata"]["name"] == "py-tpl"
        assert as_json.json()["template"]["spec"]["kernel"]["environ"] == {"GREETING": "hello"}

    @pytest.mark.parametrize("who", ["outsider", "foreign_admin"])
    def test_others_do_not_find_it(self, tenants: Tenants, who: str) -> None:
        template_id = _created_id(tenants.owner)
        api: SignedApi = getattr(tenants, who)

        response = api.call("GET", f"/template/session/{template_id}")

        assert response.status_code == 404
        assert _type(response) == "task-template-not-found"

    def test_a_bad_format_is_invalid_params(self, tenants: Tenants) -> None:
        template_id = _created_id(tenants.owner)

        response = tenants.owner.call(
            "GET", f"/template/session/{template_id}", query={"format": "xml"}
        )

        assert response.status_code == 400
        assert _type(response) == "invalid-api-params"

    def test_a_malformed_id_is_not_found(self, tenants: Tenants) -> None:
        response = tenants.owner.call("GET", "/template/session/not-a-uuid")

        assert response.status_code == 404
        assert _type(response) == "task-template-not-found"


class TestTemplateChange:
    def test_owner_updates(self, tenants: Tenants) -> None:
        template_id = _created_id(tenants.owner)
        changed = {**TEMPLATE, "metadata": {"name": "renamed"}}

        response = tenants.owner.call(
            "PUT",
            f"/template/session/{template_id}",
            {"payload": json.dumps([{"template": changed}])},
        )

        assert response.status_code == 200, response.content
        assert response.json() == {"success": True}
        assert SessionTemplate.objects.get(pk=template_id).name == "renamed"

    def test_member_may_see_but_not_change(self, tenants: Tenants) -> None:
        template_id = _created_id(tenants.owner)

        update = tenants.member.call(
            "PUT",
            f"/template/session/{template_id}",
            {"payload": json.dumps([{"template": TEMPLATE}])},
        )
        delete = tenants.member.call("DELETE", f"/template/session/{template_id}")

        assert update.status_code == 403 and delete.status_code == 403
        assert _type(update) == "scope-action-not-permitted"
        assert SessionTemplate.objects.get(pk=template_id).is_active

    def test_domain_admin_deletes_and_it_is_gone_for_everyone(self, tenants: Tenants) -> None:
        template_id = _created_id(tenants.owner)

        response = tenants.domain_admin.call("DELETE", f"/template/session/{template_id}")

        assert response.status_code == 200
        assert not SessionTemplate.objects.get(pk=template_id).is_active
        assert _ids(tenants.owner) == set()
        again = tenants.owner.call("DELETE", f"/template/session/{template_id}")
        assert again.status_code == 404

    def test_an_update_of_two_templates_is_refused(self, tenants: Tenants) -> None:
        template_id = _created_id(tenants.owner)

        response = tenants.owner.call(
            "PUT",
            f"/template/session/{template_id}",
            {"payload": json.dumps([{"template": TEMPLATE}, {"template": TEMPLATE}])},
        )

        assert response.status_code == 400
        assert _type(response) == "invalid-task-template"
