"""`/export/*`: the report catalogue, each report's CSV, field selection, filters, orders, who
may export which rows, and bad input (always a 4xx with a stable type)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.models import AuditLogEntry
from backendai_site.export.reports import REPORTS
from tests.factories.export_world import ExportWorld, export_world_grow
from tests.helpers.api import api_call, problem_type
from tests.helpers.credentials import Credentials, signed_headers
from tests.helpers.export import csv_dicts, csv_table, streamed_bytes

pytestmark = pytest.mark.django_db


def export(client: Client, creds: Credentials, report: str, body: Any = None) -> Any:
    return api_call(client, creds, "POST", f"/export/{report}/csv", {} if body is None else body)


def exported(
    client: Client, creds: Credentials, report: str, body: Any = None
) -> list[dict[str, str]]:
    response = export(client, creds, report, body)
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    return csv_dicts(streamed_bytes(response))


class TestReportCatalogue:
    def test_lists_the_five_reports_with_typed_fields(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        response = api_call(client, export_world.superadmin, "GET", "/export/reports")

        assert response.status_code == 200
        reports = {r["report_key"]: r for r in response.json()["reports"]}
        assert set(reports) == {"users", "sessions", "projects", "keypairs", "audit-logs"}
        user_fields = {f["key"]: f for f in reports["users"]["fields"]}
        assert user_fields["email"] == {
            "key": "email", "name": "Email", "description": "Email address",
            "field_type": "string",
        }  # fmt: skip
        assert user_fields["created_at"]["field_type"] == "datetime"
        assert "secret_key" not in {f["key"] for f in reports["keypairs"]["fields"]}

    def test_one_report_by_key_and_an_unknown_key(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        one = api_call(client, export_world.superadmin, "GET", "/export/reports/audit-logs")
        unknown = api_call(client, export_world.superadmin, "GET", "/export/reports/nope")

        assert one.status_code == 200
        assert one.json()["report"]["name"] == "Audit Logs"
        assert unknown.status_code == 404
        assert problem_type(unknown) == "export-report-not-found"

    def test_a_domain_admin_reads_it_and_a_plain_user_or_monitor_is_refused(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        admin = api_call(client, export_world.domain_admin, "GET", "/export/reports")
        user = api_call(client, export_world.user, "GET", "/export/reports")
        monitor = api_call(client, export_world.monitor, "GET", "/export/reports/users")

        assert admin.status_code == 200
        assert (user.status_code, problem_type(user)) == (403, "forbidden")
        assert (monitor.status_code, problem_type(monitor)) == (403, "forbidden")


class TestEachReport:
    @pytest.mark.parametrize("report", [r.key for r in REPORTS])
    def test_every_field_by_default_named_as_listed(
        self, client: Client, export_world: ExportWorld, report: str
    ) -> None:
        response = export(client, export_world.superadmin, report)

        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        disposition = response["Content-Disposition"]
        assert disposition.startswith(f'attachment; filename="{report}-')
        raw = streamed_bytes(response)
        assert raw.startswith(b"\xef\xbb\xbf")
        header, *rows = csv_table(raw)
        report_def = next(r for r in REPORTS if r.key == report)
        assert header == [f.name for f in report_def.fields]
        assert rows and all(len(row) == len(header) for row in rows)

    def test_users_rows_carry_their_values(self, client: Client, export_world: ExportWorld) -> None:
        rows = exported(client, export_world.superadmin, "users")

        far = next(r for r in rows if r["Email"] == "far@example.com")
        assert far["Domain"] == "far" and far["Role"] == "user" and far["Status"] == "active"
        assert far["UUID"] == str(export_world.far_user.user.pk)
        assert far["Created At"] == export_world.far_user.user.created_at.isoformat()
        assert far["Main Access Key"] == export_world.far_user.access_key
        assert far["Projects"] == "[]"
        member = next(r for r in rows if r["Email"] == "user@example.com")
        assert member["Projects"] == f'["{export_world.world.project.name}"]'

    def test_sessions_rows_join_owner_project_and_group(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        rows = exported(client, export_world.superadmin, "sessions")

        done = next(r for r in rows if r["Name"] == "near-done")
        assert done["Status"] == "TERMINATED"
        assert done["Terminated At"] == "2026-01-02T03:04:05+00:00"
        assert done["User Email"] == "user@example.com"
        assert done["Project Name"] == export_world.world.project.name
        assert done["Scaling Group"] == export_world.world.group.name
        assert done["Access Key"] == export_world.user.access_key
        assert '"cpu": "1"' in done["Resources Requested"]
        running = next(r for r in rows if r["Name"] == "near-running")
        assert running["Terminated At"] == ""

    def test_projects_keypairs_and_audit_logs_rows(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        projects = exported(client, export_world.superadmin, "projects")
        keypairs = exported(client, export_world.superadmin, "keypairs")
        entries = exported(client, export_world.superadmin, "audit-logs")

        far_lab = next(r for r in projects if r["Name"] == "far-lab")
        assert far_lab["Domain"] == "far" and far_lab["Active"] == "True"
        far_key = next(r for r in keypairs if r["Access Key"] == export_world.far_user.access_key)
        assert far_key["User Email"] == "far@example.com" and far_key["User Domain"] == "far"
        far_entry = next(r for r in entries if r["Triggered By"] == "far@example.com")
        assert far_entry["Status"] == "failure" and far_entry["Status Code"] == "400"
        assert far_entry["Operation"] == "POST /session" and far_entry["Entity Type"] == "session"


class TestFieldsFiltersOrders:
    def test_fields_are_the_columns_in_the_order_asked(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        response = export(client, export_world.superadmin, "users", {"fields": ["email", "role"]})

        header, *rows = csv_table(streamed_bytes(response))
        assert header == ["Email", "Role"]
        assert ["far@example.com", "user"] in rows

    def test_user_filters_combine(self, client: Client, export_world: ExportWorld) -> None:
        body = {
            "fields": ["email"],
            "filter": {"email": {"contains": "example.com"}, "role": ["admin"],
                       "domain_name": {"equals": "default"}},
        }  # fmt: skip
        rows = exported(client, export_world.superadmin, "users", body)

        assert [r["Email"] for r in rows] == ["dadmin@example.com"]

    def test_session_filters_by_owner_status_and_dates(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        by_owner = {"filter": {"user": {"email": {"i_equals": "FAR@example.com"}}}}
        by_status = {"filter": {"status": ["terminated"]}}
        by_end = {
            "filter": {
                "terminated_at": {"after": "2026-01-01T00:00:00", "before": "2026-01-03T00:00:00Z"}
            }
        }

        owner_rows = exported(client, export_world.superadmin, "sessions", by_owner)
        status_rows = exported(client, export_world.superadmin, "sessions", by_status)
        end_rows = exported(client, export_world.superadmin, "sessions", by_end)

        assert [r["Name"] for r in owner_rows] == ["far-running"]
        assert [r["Name"] for r in status_rows] == ["near-done"]
        assert [r["Name"] for r in end_rows] == ["near-done"]

    def test_project_and_audit_filters(self, client: Client, export_world: ExportWorld) -> None:
        projects = exported(
            client, export_world.superadmin, "projects",
            {"filter": {"domain_name": {"contains": "ar"}, "is_active": True}},
        )  # fmt: skip
        entries = exported(
            client, export_world.superadmin, "audit-logs",
            {"filter": {"status": ["failure"], "triggered_by": {"contains": "far"}}},
        )  # fmt: skip

        assert [r["Name"] for r in projects] == ["far-lab"]
        assert [r["Request ID"] for r in entries] == ["req-" + export_world.far_user.user.username]

    def test_order_by_a_field_either_way(self, client: Client, export_world: ExportWorld) -> None:
        asc = exported(
            client, export_world.superadmin, "sessions",
            {"fields": ["name"], "order": [{"field": "name", "direction": "ASC"}]},
        )  # fmt: skip
        desc = exported(
            client, export_world.superadmin, "sessions",
            {"fields": ["name"], "order": [{"field": "name", "direction": "desc"}]},
        )  # fmt: skip

        assert [r["Name"] for r in asc] == ["far-running", "near-done", "near-running"]
        assert [r["Name"] for r in desc] == ["near-running", "near-done", "far-running"]

    def test_euc_kr(self, client: Client, export_world: ExportWorld) -> None:
        user = export_world.far_user.user
        user.full_name = "홍길동"
        user.save(update_fields=["full_name"])
        rel = "/export/users/csv"
        body = {
            "fields": ["full_name"],
            "encoding": "euc-kr",
            "filter": {"email": {"equals": user.email}},
        }
        response = api_call(client, export_world.superadmin, "POST", rel, body)

        assert response["Content-Type"] == "text/csv; charset=euc-kr"
        assert csv_table(streamed_bytes(response), "euc-kr") == [["Full Name"], ["홍길동"]]

    def test_the_filename_header_is_used_without_quotes_or_paths(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        rel = "/export/keypairs/csv"
        headers = signed_headers(
            access_key=export_world.superadmin.access_key,
            secret_key=export_world.superadmin.secret_key,
            method="POST", rel_url=rel, content_type="application/json",
        )  # fmt: skip
        response = client.generic(
            "POST", rel, data=b"{}", HTTP_X_EXPORT_FILENAME='../"keys".csv', **headers
        )

        assert response["Content-Disposition"] == 'attachment; filename="keys.csv"'

    @pytest.mark.parametrize("report", [r.key for r in REPORTS])
    def test_the_rows_are_one_query_however_many_there_are(
        self, client: Client, export_world: ExportWorld, report: str
    ) -> None:
        def streamed_queries() -> int:
            response = export(client, export_world.superadmin, report)
            with CaptureQueriesContext(connection) as queries:
                streamed_bytes(response)
            return len(queries)

        before = streamed_queries()
        export_world_grow(export_world, 4)
        after = streamed_queries()

        assert before == after == 1


class TestScope:
    @pytest.mark.parametrize(
        ("report", "column", "near", "far"),
        [
            ("users", "Email", "user@example.com", "far@example.com"),
            ("sessions", "Name", "near-running", "far-running"),
            ("projects", "Domain", "default", "far"),
            ("keypairs", "User Domain", "default", "far"),
            ("audit-logs", "Domain", "default", "far"),
        ],
    )
    def test_superadmin_sees_both_domains_and_domain_admin_its_own(
        self, client: Client, export_world: ExportWorld, report: str, column: str, near: str,
        far: str,
    ) -> None:  # fmt: skip
        every = {r[column] for r in exported(client, export_world.superadmin, report)}
        own = {r[column] for r in exported(client, export_world.domain_admin, report)}

        assert {near, far} <= every
        assert near in own and far not in own

    @pytest.mark.parametrize("report", [r.key for r in REPORTS])
    def test_plain_users_and_monitors_are_refused(
        self, client: Client, export_world: ExportWorld, report: str
    ) -> None:
        for creds in (export_world.user, export_world.monitor):
            response = export(client, creds, report)

            assert response.status_code == 403
            assert problem_type(response) == "forbidden"

    def test_a_domain_admin_cannot_filter_its_way_into_another_domain(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        rows = exported(
            client,
            export_world.domain_admin,
            "users",
            {"filter": {"domain_name": {"equals": "far"}}},
        )

        assert rows == []


class TestBadInput:
    @pytest.mark.parametrize(
        "body",
        [
            {"fields": ["email", "password"]},
            {"fields": "email"},
            {"filter": {"secret": {"equals": "x"}}},
            {"filter": {"email": {"regex": "x"}}},
            {"filter": {"email": "x"}},
            {"filter": {"role": ["emperor"]}},
            {"filter": {"created_at": {"after": "yesterday"}}},
            {"filter": {"created_at": {"after": "2026-02-01", "before": "2026-01-01"}}},
            {"filter": {"email": {"contains": "a\u0000b"}}},
            {"order": [{"field": "password"}]},
            {"order": [{"field": "email", "direction": "sideways"}]},
            {"encoding": "klingon"},
            {"unknown": 1},
            [1, 2],
        ],
    )
    def test_a_bad_body_is_invalid_api_params(
        self, client: Client, export_world: ExportWorld, body: Any
    ) -> None:
        response = export(client, export_world.superadmin, "users", body)

        assert response.status_code == 400, response.content
        assert problem_type(response) == "invalid-api-params"

    def test_unknown_report_and_filters_a_report_does_not_take(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        unknown = export(client, export_world.superadmin, "secrets")
        keypair_filter = export(client, export_world.superadmin, "keypairs", {"filter": {}})
        keypair_filter_given = export(
            client, export_world.superadmin, "keypairs", {"filter": {"access_key": {"equals": "x"}}}
        )
        acted_as = export(
            client, export_world.superadmin, "audit-logs",
            {"filter": {"acted_as": {"equals": str(export_world.user.user.pk)}}},
        )  # fmt: skip
        not_json = client.generic("POST", "/export/users/csv")

        assert (unknown.status_code, problem_type(unknown)) == (404, "export-report-not-found")
        assert keypair_filter.status_code == 200
        assert keypair_filter_given.status_code == 400
        assert problem_type(acted_as) == "invalid-api-params"
        assert not_json.status_code == 401


class TestOddInput:
    @pytest.mark.parametrize(
        ("report", "body"),
        [
            ("users", {"filter": {"created_at": {"after": "0001-01-01T00:00:00+14:00"}}}),
            ("users", {"filter": {"created_at": {"before": "9999-12-31T23:59:59-12:00"}}}),
            ("users", {"filter": {"email": {"in": [], "i_not_in": []}, "role": []}}),
            ("users", {"fields": ["email", "email"], "filter": None, "order": []}),
            ("sessions", {"filter": {"user": {}}, "encoding": "UTF8"}),
            ("audit-logs", {"filter": {"request_id": {"i_in": ["REQ-USER"]}}}),
        ],
    )
    def test_odd_but_valid_bodies_answer_a_csv(
        self, client: Client, export_world: ExportWorld, report: str, body: Any
    ) -> None:
        response = export(client, export_world.superadmin, report, body)

        assert response.status_code == 200, response.content
        assert csv_table(streamed_bytes(response))[0]

    def test_a_body_that_is_not_json_is_a_400(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        rel = "/export/users/csv"
        headers = signed_headers(
            access_key=export_world.superadmin.access_key,
            secret_key=export_world.superadmin.secret_key,
            method="POST", rel_url=rel, content_type="application/json",
        )  # fmt: skip

        response = client.generic("POST", rel, data=b"{not json", **headers)

        assert response.status_code == 400


class TestMounts:
    def test_the_session_mode_mount_answers_and_every_export_is_audited(
        self, client: Client, export_world: ExportWorld
    ) -> None:
        response = api_call(
            client, export_world.domain_admin, "POST", "/func/export/keypairs/csv", {}
        )

        assert response.status_code == 200
        entry = AuditLogEntry.objects.filter(user_email="dadmin@example.com").get()
        assert (entry.target_type, entry.target_id, entry.outcome) == (
            "export", "keypairs", AuditOutcome.SUCCESS,
        )  # fmt: skip
        assert entry.action == "POST /export/<str:report_key>/csv"
