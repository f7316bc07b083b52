"""The admin console: its POSTs are recorded, and the audit log's own page is read-only."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.models import AuditLogEntry
from tests.factories.world import ComputeWorld

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_change_form(target: User, **overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "email": target.email,
        "username": target.username,
        "role": target.role,
        "status": "active",
        "domain": target.domain_id,
        "resource_policy": target.resource_policy_id,
        "keypairs-TOTAL_FORMS": "0",
        "keypairs-INITIAL_FORMS": "0",
        "keypairs-MIN_NUM_FORMS": "0",
        "keypairs-MAX_NUM_FORMS": "1000",
    }
    form.update(overrides)
    return form


class TestAdminPostsAreRecorded:
    def test_a_change_form_post_is_recorded(self, world: ComputeWorld) -> None:
        target = world.user.user
        client = logged_in(world.admin.user)

        response = client.post(
            f"/admin/accounts/user/{target.pk}/change/",
            user_change_form(target, full_name="Renamed"),
            REMOTE_ADDR="192.0.2.7",
        )

        assert response.status_code == 302, response.content[:2000]
        entry = AuditLogEntry.objects.get()
        assert entry.action == "admin:accounts_user_change"
        assert (entry.target_type, entry.target_id) == ("accounts.user", str(target.pk))
        assert (entry.user_email, entry.role, entry.access_key) == (
            world.admin.user.email,
            UserRole.SUPERADMIN,
            "",
        )
        assert (entry.outcome, entry.status_code, entry.remote_addr) == (
            "success",
            302,
            "192.0.2.7",
        )
        assert entry.acting_as_email == world.admin.user.email

    def test_an_admin_action_is_recorded_with_its_name_and_selection(
        self, world: ComputeWorld
    ) -> None:
        target = world.user.user
        client = logged_in(world.admin.user)

        client.post(
            "/admin/accounts/user/",
            {"action": "deactivate_users", "_selected_action": [str(target.pk)]},
        )

        entry = AuditLogEntry.objects.get()
        assert entry.action == "admin:accounts_user_changelist:deactivate_users"
        assert (entry.target_type, entry.target_id) == ("accounts.user", str(target.pk))

    def test_a_get_of_a_page_is_not_recorded(self, world: ComputeWorld) -> None:
        logged_in(world.admin.user).get("/admin/accounts/user/")

        assert not AuditLogEntry.objects.exists()


class TestAuditAdminIsReadOnly:
    def test_nobody_adds_changes_or_deletes_entries(self, world: ComputeWorld) -> None:
        entry = AuditLogEntry.objects.create(
            request_id="r1", action="POST /x", outcome=AuditOutcome.SUCCESS, status_code=200,
            method="POST", path="/x",
        )  # fmt: skip
        request = RequestFactory().get("/admin/audit/auditlogentry/")
        request.user = world.admin.user
        model_admin = site._registry[AuditLogEntry]

        assert model_admin.has_view_permission(request, entry)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, entry)
        assert not model_admin.has_delete_permission(request, entry)

    def test_the_pages_show_but_do_not_write(self, world: ComputeWorld) -> None:
        entry = AuditLogEntry.objects.create(
            request_id="r1", action="POST /x", outcome=AuditOutcome.SUCCESS, status_code=200,
            method="POST", path="/x",
        )  # fmt: skip
        client = logged_in(world.admin.user)

        listing = client.get("/admin/audit/auditlogentry/?outcome=success")
        change = client.post(
            f"/admin/audit/auditlogentry/{entry.pk}/change/", {"action": "POST /forged"}
        )
        delete = client.post(f"/admin/audit/auditlogentry/{entry.pk}/delete/", {"post": "yes"})
        add = client.get("/admin/audit/auditlogentry/add/")

        assert listing.status_code == 200
        assert b"POST /x" in listing.content
        assert change.status_code == 403
        assert delete.status_code == 403
        assert add.status_code == 403
        entry.refresh_from_db()
        assert entry.action == "POST /x"
