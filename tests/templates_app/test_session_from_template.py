"""`POST /session/_/create-from-template` (the template's fields, overridden by the request's,
through the one session create) and the dotfiles a new session carries to its kernels."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents_app.runtime.models import DOTFILES_ENVIRON_KEY, KernelSpec
from sessions_app.models import Session
from templates_app.enums import DotfileScope
from templates_app.models import Dotfile
from tests.helpers.signed import SignedApi
from tests.helpers.tenants import Tenants

pytestmark = pytest.mark.django_db

FROM_TEMPLATE = "/session/_/create-from-template"
TEMPLATE: dict[str, Any] = {
    "api_version": "6",
    "kind": "taskTemplate",
    "metadata": {"name": "py-tpl", "tag": "from-template"},
    "spec": {
        "session_type": "interactive",
        "kernel": {
            "image": "python",
            "environ": {"GREETING": "hello", "KEEP": "me"},
            "run": {"bootstrap": "echo boot"},
        },
        "resources": {"cpu": "1", "mem": "128m"},
    },
}


def _type(response: Any) -> str:
    return str(response.json()["type"]).rsplit("/", 1)[-1]


def _template(api: SignedApi, group: str | None = "default") -> str:
    response = api.call(
        "POST",
        "/template/session",
        {"payload": json.dumps([{"template": TEMPLATE}]), "group_name": group},
    )
    assert response.status_code == 200, response.content
    return str(response.json()[0]["id"])


def _client_body(template_id: str, **fields: Any) -> dict[str, Any]:
    """What `backend.ai session create-from-template` sends when given nothing else."""
    return {
        "template_id": template_id,
        "tag": None,
        "domain": "default",
        "group": "default",
        "name": "tpl-session",
        "enqueueOnly": True,
        "maxWaitSeconds": 0,
        "dependencies": [],
        "callbackURL": None,
        "reuseIfExists": True,
        "type": "interactive",
        "starts_at": None,
        "priority": None,
        "batch_timeout": None,
        "config": {"mounts": []},
        **fields,
    }


class TestCreateFromTemplate:
    def test_the_template_fills_the_session(self, compute_tenants: Tenants) -> None:
        template_id = _template(compute_tenants.owner)

        response = compute_tenants.owner.call("POST", FROM_TEMPLATE, _client_body(template_id))

        assert response.status_code == 201, response.content
        session = Session.objects.get(pk=response.json()["sessionId"])
        assert session.name == "tpl-session"
        assert session.image.name == "bai/python"
        assert session.tag == "from-template"
        assert session.bootstrap_script == "echo boot"
        assert session.environ == {"GREETING": "hello", "KEEP": "me"}
        assert session.requested_slots["mem"] == str(128 * 1024**2)
        assert session.user_id == compute_tenants.owner.creds.user.pk

    def test_the_request_overrides_the_template(self, compute_tenants: Tenants) -> None:
        template_id = _template(compute_tenants.owner)
        body = _client_body(
            template_id,
            tag="override",
            config={"mounts": [], "environ": {"GREETING": "bye"}, "resources": {"cpu": "2"}},
        )

        response = compute_tenants.owner.call("POST", FROM_TEMPLATE, body)

        assert response.status_code == 201, response.content
        session = Session.objects.get(pk=response.json()["sessionId"])
        assert session.tag == "override"
        assert session.environ == {"GREETING": "bye"}
        assert session.requested_slots["cpu"] == "2"

    def test_a_project_member_may_use_it(self, compute_tenants: Tenants) -> None:
        template_id = _template(compute_tenants.owner)

        response = compute_tenants.member.call("POST", FROM_TEMPLATE, _client_body(template_id))

        assert response.status_code == 201, response.content
        session = Session.objects.get(pk=response.json()["sessionId"])
        assert session.user_id == compute_tenants.member.creds.user.pk

    def test_others_do_not_find_it(self, compute_tenants: Tenants) -> None:
        template_id = _template(compute_tenants.owner)

        response = compute_tenants.outsider.call(
            "POST", FROM_TEMPLATE, _client_body(template_id, group="other-project")
        )

        assert response.status_code == 404
        assert _type(response) == "task-template-not-found"
        assert not Session.objects.exists()

    def test_the_session_create_still_validates(self, compute_tenants: Tenants) -> None:
        template_id = _template(compute_tenants.owner)

        response = compute_tenants.owner.call(
            "POST", FROM_TEMPLATE, _client_body(template_id, image="no-such-image")
        )

        assert response.status_code == 404, response.content
        assert _type(response) == "image-not-found"

    def test_template_id_is_required(self, compute_tenants: Tenants) -> None:
        body = _client_body("")

        response = compute_tenants.owner.call("POST", FROM_TEMPLATE, body)

        assert response.status_code == 400 and _type(response) == "invalid-api-params"


class TestSessionDotfiles:
    def _session_dotfiles(self, api: SignedApi, **config: Any) -> Any:
        response = api.call(
            "POST",
            "/session",
            {"image": "python", "name": "dots", "enqueueOnly": True, "config": config},
        )
        assert response.status_code == 201, response.content
        session = Session.objects.get(pk=response.json()["sessionId"])
        spec = KernelSpec(
            kernel_id="k1", session_id=str(session.pk), owner_access_key="AK", agent_id="a1",
            image="python", memory_bytes=64 * 1024**2, runner_secret="s" * 16,
            environ=session.environ,
        )  # fmt: skip
        return session, spec

    def test_user_wins_over_project_over_domain(self, compute_tenants: Tenants) -> None:
        owner = compute_tenants.owner.creds.user
        project, domain = compute_tenants.project, compute_tenants.domain
        for scope, fields in (
            (DotfileScope.USER, {"user": owner}),
            (DotfileScope.PROJECT, {"project": project}),
            (DotfileScope.DOMAIN, {"domain": domain}),
        ):
            Dotfile.objects.create(scope=scope, path=".rc", data=scope, permission=0o600, **fields)
        Dotfile.objects.create(
            scope=DotfileScope.DOMAIN, domain=domain, path=".domain-only", data="d",
            permission=0o644,
        )  # fmt: skip
        Dotfile.objects.create(
            scope=DotfileScope.PROJECT, project=compute_tenants.other_project, path=".not-mine",
            data="x", permission=0o644,
        )  # fmt: skip

        session, spec = self._session_dotfiles(
            compute_tenants.owner, environ={DOTFILES_ENVIRON_KEY: "[]", "A": "1"}
        )

        assert {(d.path, d.data, d.mode) for d in spec.dotfiles} == {
            (".rc", "user", 0o600),
            (".domain-only", "d", 0o644),
        }
        assert spec.environ == {"A": "1"}  # the runtime takes the dotfiles out
        shown = compute_tenants.owner.call("GET", f"/session/{session.pk}")
        assert shown.json()["environ"] == {"A": "1"}

    def test_no_dotfiles_no_key(self, compute_tenants: Tenants) -> None:
        session, spec = self._session_dotfiles(compute_tenants.owner)

        assert DOTFILES_ENVIRON_KEY not in session.environ
        assert spec.dotfiles == []
