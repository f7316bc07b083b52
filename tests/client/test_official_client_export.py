"""The official CLI's `admin export` commands (list-reports and the five CSV reports) against the
live ASGI server: what a superadmin, a domain admin and a plain user get, field selection,
filters, `-o` files and refusals."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backendai_site.audit.models import AuditLogEntry
from tests.factories.export_world import ExportWorld, make_export_world
from tests.factories.world import ComputeWorld

pytestmark = [pytest.mark.client, pytest.mark.django_db(transaction=True)]

CLI = Callable[..., Any]


@pytest.fixture
def export_world(world: ComputeWorld) -> ExportWorld:
    return make_export_world(world)


def ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return str(result.stdout)


def refused(result: Any) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return str(result.stdout + result.stderr)


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


class TestAdminExport:
    def test_list_reports(self, run_cli: CLI, export_world: ExportWorld) -> None:
        out = ok(run_cli(export_world.superadmin, "admin", "export", "list-reports"))

        for line in ("users: Users", "sessions: Sessions", "projects: Projects",
                     "keypairs: Keypairs", "audit-logs: Audit Logs",
                     "- email: Email (string)", "- created_at: Created At (datetime)"):  # fmt: skip
            assert line in out

    def test_superadmin_exports_each_report(
        self, run_cli: CLI, export_world: ExportWorld, tmp_path: Path
    ) -> None:
        admin = export_world.superadmin
        users = ok(run_cli(admin, "admin", "export", "users", "--fields", "email,role",
                           "--filter-role", "admin"))  # fmt: skip
        sessions = ok(run_cli(admin, "admin", "export", "sessions", "--fields", "name,status",
                              "--filter-user-email", "far@", "--filter-created-after",
                              "2020-01-01"))  # fmt: skip
        projects = ok(run_cli(admin, "admin", "export", "projects", "--fields", "name,domain_name",
                              "--filter-domain", "far", "--filter-active"))  # fmt: skip
        keypairs = ok(run_cli(admin, "admin", "export", "keypairs", "--fields",
                              "access_key,user_id", "-o", "keys.csv"))  # fmt: skip
        audit = ok(run_cli(admin, "admin", "export", "audit-logs", "--fields",
                           "triggered_by,status", "--filter-status", "failure"))  # fmt: skip

        assert table(users) == [["Email", "Role"], ["dadmin@example.com", "admin"]]
        assert table(sessions) == [["Name", "Status"], ["far-running", "RUNNING"]]
        assert table(projects) == [["Name", "Domain"], ["far-lab", "far"]]
        assert "Exported to keys.csv" in keypairs
        written = table((tmp_path / "keys.csv").read_text(encoding="utf-8"))
        assert written[0] == ["Access Key", "User Email"]
        assert [export_world.far_user.access_key, "far@example.com"] in written
        assert table(audit) == [["Triggered By", "Status"], ["far@example.com", "failure"]]

    def test_domain_admin_gets_its_domain_and_a_plain_user_nothing(
        self, run_cli: CLI, export_world: ExportWorld
    ) -> None:
        own = ok(run_cli(export_world.domain_admin, "admin", "export", "sessions",
                         "--fields", "name"))  # fmt: skip
        user = refused(run_cli(export_world.user, "admin", "export", "users"))
        listing = refused(run_cli(export_world.user, "admin", "export", "list-reports"))

        assert sorted(table(own)[1:]) == [["near-done"], ["near-running"]]
        assert "a user may not export reports" in user
        assert "a user may not export reports" in listing

    def test_bad_fields_and_filters_are_refused(
        self, run_cli: CLI, export_world: ExportWorld
    ) -> None:
        admin = export_world.superadmin
        field = refused(run_cli(admin, "admin", "export", "users", "--fields", "email,password"))
        status = refused(run_cli(admin, "admin", "export", "users", "--filter-status", "zombie"))

        assert "Invalid field keys" in field and "password" in field
        assert "unknown value" in status and "zombie" in status

    def test_an_export_of_several_blocks_streams_every_row(
        self, run_cli: CLI, export_world: ExportWorld, tmp_path: Path
    ) -> None:
        AuditLogEntry.objects.bulk_create(
            AuditLogEntry(request_id=f"bulk-{n}", action="POST /session", outcome="success",
                          status_code=201, method="POST", path="/session")
            for n in range(2500)
        )  # fmt: skip

        ok(run_cli(export_world.superadmin, "admin", "export", "audit-logs", "--fields",
                   "request_id", "--filter-request-id", "bulk-", "-o", "bulk.csv"))  # fmt: skip

        rows = table((tmp_path / "bulk.csv").read_text(encoding="utf-8"))[1:]
        assert sorted(r[0] for r in rows) == sorted(f"bulk-{n}" for n in range(2500))
