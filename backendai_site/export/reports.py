"""The report registry: each report's key, name, description and fields (the column a field
reads, its type), the filters and orders it takes, and where its rows come from: the owning
app's permission-scoped selector. Field lists follow the reference's reports where our models
hold the data (docs/compat/export.md lists what is left out)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from pydantic import BaseModel

from agents_app.enums import SessionType
from backendai_site.accounts.enums import UserRole, UserStatus
from backendai_site.accounts.models import User
from backendai_site.accounts.selectors import (
    keypairs_visible_to,
    projects_visible_to,
    users_visible_to,
    users_with_main_key_and_projects,
)
from backendai_site.audit.enums import AuditOutcome
from backendai_site.audit.selectors import audit_entries_visible_to
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.selectors import sessions_for

from .errors import ExportReportNotFound
from .schemas import (
    AuditLogExportFilter,
    ProjectExportFilter,
    SessionExportFilter,
    UserExportFilter,
)


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    UUID = "uuid"
    JSON = "json"
    ENUM = "enum"


class FilterKind(StrEnum):
    STRING = "string"  # a StringFilter
    VALUES = "values"  # a list of allowed values (IN), checked against `choices`
    DATETIME = "datetime"  # a DateTimeRangeFilter, both bounds inclusive
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class ExportField:
    key: str
    name: str
    description: str
    field_type: FieldType
    source: str  # the ORM path `values_list` reads


@dataclass(frozen=True)
class ExportFilter:
    source: str
    kind: FilterKind
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportReport:
    key: str
    name: str
    description: str
    fields: tuple[ExportField, ...]
    scope: Callable[[User], QuerySet[Any]]
    filter_model: type[BaseModel] | None = None
    # filter names (dotted for nested filters, `user.email`) and what each reads
    filters: Mapping[str, ExportFilter] = field(default_factory=dict)
    orderable: frozenset[str] = frozenset()

    def field_get(self, key: str) -> ExportField | None:
        return next((f for f in self.fields if f.key == key), None)


def _f(
    key: str, name: str, description: str, field_type: FieldType, source: str = ""
) -> ExportField:
    return ExportField(key, name, description, field_type, source or key)


S, N, B, D, U, J, E = (
    FieldType.STRING, FieldType.INTEGER, FieldType.BOOLEAN, FieldType.DATETIME,
    FieldType.UUID, FieldType.JSON, FieldType.ENUM,
)  # fmt: skip


def _string(source: str) -> ExportFilter:
    return ExportFilter(source, FilterKind.STRING)


def _values(source: str, choices: tuple[str, ...]) -> ExportFilter:
    return ExportFilter(source, FilterKind.VALUES, choices)


def _dates(source: str) -> ExportFilter:
    return ExportFilter(source, FilterKind.DATETIME)


def _sessions_viewable(actor: User) -> QuerySet[Any]:
    return sessions_for(actor, SessionAction.VIEW)


def _audit_entries(actor: User) -> QuerySet[Any]:
    return audit_entries_visible_to(actor=actor)


USERS = ExportReport(
    key="users",
    name="Users",
    description="User account export report",
    fields=(
        _f("uuid", "UUID", "User UUID", U, "id"),
        _f("username", "Username", "Login username", S),
        _f("email", "Email", "Email address", S),
        _f("full_name", "Full Name", "User full name", S),
        _f("description", "Description", "User description", S),
        _f("domain_name", "Domain", "Domain name", S, "domain__name"),
        _f("role", "Role", "User role", E),
        _f("status", "Status", "User status", E),
        _f("status_info", "Status Info", "Why the status was set", S),
        _f("need_password_change", "Need Password Change", "Must change password", B),
        _f("created_at", "Created At", "Registration time", D),
        _f("modified_at", "Modified At", "Last modification time", D),
        _f(
            "resource_policy_name",
            "Resource Policy Name",
            "User resource policy name",
            S,
            "resource_policy__name",
        ),
        _f(
            "resource_policy_max_vfolder_count",
            "Policy Max VFolder Count",
            "Maximum number of vfolders allowed (0: no limit)",
            N,
            "resource_policy__max_vfolder_count",
        ),
        _f("main_access_key", "Main Access Key", "The active keypair the user signs in with", S),
        _f("project_names", "Projects", "Names of the projects the user is a member of", J),
    ),
    scope=lambda actor: users_with_main_key_and_projects(users_visible_to(actor=actor)),
    filter_model=UserExportFilter,
    filters={
        "username": _string("username"),
        "email": _string("email"),
        "domain_name": _string("domain__name"),
        "role": _values("role", tuple(UserRole.values)),
        "status": _values("status", tuple(UserStatus.values)),
        "created_at": _dates("created_at"),
    },
    orderable=frozenset(
        {
            "username",
            "email",
            "full_name",
            "domain_name",
            "role",
            "status",
            "created_at",
            "modified_at",
        }
    ),
)

SESSIONS = ExportReport(
    key="sessions",
    name="Sessions",
    description="Compute session export report",
    fields=(
        _f("id", "ID", "Session UUID", U),
        _f("name", "Name", "Session name", S),
        _f("session_type", "Type", "Session type", E),
        _f("domain_name", "Domain", "Domain name", S, "domain__name"),
        _f("access_key", "Access Key", "Owning access key", S, "access_key_id"),
        _f("status", "Status", "Session status", E),
        _f("status_info", "Status Info", "Status details", S),
        _f("result", "Result", "Session result", E),
        _f("scaling_group_name", "Scaling Group", "Resource group name", S, "resource_group__name"),
        _f("cluster_mode", "Cluster Mode", "single-node or multi-node", E),
        _f("cluster_size", "Cluster Size", "Number of cluster nodes", N),
        _f("occupying_slots", "Resources Used", "Occupied resource slots", J),
        _f("requested_slots", "Resources Requested", "Requested resource slots per kernel", J),
        _f("image", "Image", "The image as the request named it", S, "image_ref"),
        _f("architecture", "Architecture", "Image architecture", S),
        _f("created_at", "Created At", "Session creation time", D),
        _f("terminated_at", "Terminated At", "Session termination time", D),
        _f("project_id", "Project ID", "Project (group) UUID", U, "project_id"),
        _f("project_name", "Project Name", "Project (group) name", S, "project__name"),
        _f("user_uuid", "User UUID", "Owning user UUID", U, "user_id"),
        _f("user_email", "User Email", "Owning user e-mail", S, "user__email"),
        _f("user_username", "User Username", "Owning user's username", S, "user__username"),
        _f("user_full_name", "User Full Name", "Owning user's full name", S, "user__full_name"),
        _f("user_role", "User Role", "Owning user's role", S, "user__role"),
    ),
    scope=_sessions_viewable,
    filter_model=SessionExportFilter,
    filters={
        "name": _string("name"),
        "session_type": _values("session_type", tuple(SessionType.values)),
        "domain_name": _string("domain__name"),
        "access_key": _string("access_key_id"),
        "user.email": _string("user__email"),
        "user.username": _string("user__username"),
        "status": _values("status", tuple(SessionStatus.values)),
        "scaling_group_name": _string("resource_group__name"),
        "created_at": _dates("created_at"),
        "terminated_at": _dates("terminated_at"),
    },
    orderable=frozenset(
        {
            "name",
            "session_type",
            "domain_name",
            "access_key",
            "status",
            "scaling_group_name",
            "cluster_size",
            "created_at",
            "terminated_at",
        }
    ),
)

PROJECTS = ExportReport(
    key="projects",
    name="Projects",
    description="Project (group) export report",
    fields=(
        _f("id", "ID", "Project UUID", U),
        _f("name", "Name", "Project name", S),
        _f("description", "Description", "Project description", S),
        _f("domain_name", "Domain", "Domain name", S, "domain__name"),
        _f("is_active", "Active", "Active status", B),
        _f("total_resource_slots", "Resource Slots", "Total resource slots allocated", J),
        _f(
            "allowed_vfolder_hosts",
            "Allowed VFolder Hosts",
            "Allowed virtual folder hosts with permissions",
            J,
        ),
        _f("created_at", "Created At", "Creation time", D),
        _f("modified_at", "Modified At", "Last modification time", D),
        _f(
            "resource_policy_name",
            "Resource Policy Name",
            "Project resource policy name",
            S,
            "resource_policy__name",
        ),
    ),
    scope=lambda actor: projects_visible_to(actor=actor),
    filter_model=ProjectExportFilter,
    filters={
        "name": _string("name"),
        "domain_name": _string("domain__name"),
        "is_active": ExportFilter("is_active", FilterKind.BOOLEAN),
        "created_at": _dates("created_at"),
    },
    orderable=frozenset({"name", "domain_name", "is_active", "created_at", "modified_at"}),
)

KEYPAIRS = ExportReport(
    key="keypairs",
    name="Keypairs",
    description="API keypair export report (never the secret keys)",
    fields=(
        _f("access_key", "Access Key", "Access key identifier", S),
        _f("is_active", "Active", "Keypair active status", B),
        _f("is_admin", "Admin", "Admin keypair status", B),
        _f("created_at", "Created At", "Keypair creation time", D),
        _f("modified_at", "Modified At", "Last modification time", D),
        _f("last_used", "Last Used", "Last used timestamp", D),
        _f("rate_limit", "Rate Limit", "Requests allowed per rate-limit window", N),
        _f("num_queries", "Queries", "Requests made with the keypair", N),
        _f("user_id", "User Email", "User email (ID)", S, "user__email"),
        _f("user_uuid", "User UUID", "User UUID", U, "user_id"),
        _f("user_username", "User Username", "Username", S, "user__username"),
        _f("user_full_name", "User Full Name", "User full name", S, "user__full_name"),
        _f("user_role", "User Role", "User role", S, "user__role"),
        _f("user_status", "User Status", "User account status", S, "user__status"),
        _f("user_domain_name", "User Domain", "User domain name", S, "user__domain__name"),
        _f(
            "resource_policy_name",
            "Resource Policy Name",
            "Keypair resource policy name",
            S,
            "resource_policy__name",
        ),
        _f(
            "resource_policy_max_concurrent_sessions",
            "Policy Max Concurrent Sessions",
            "Maximum concurrent sessions allowed",
            N,
            "resource_policy__max_concurrent_sessions",
        ),
        _f(
            "resource_policy_idle_timeout",
            "Policy Idle Timeout",
            "Idle timeout in seconds",
            N,
            "resource_policy__idle_timeout",
        ),
        _f(
            "resource_policy_max_session_lifetime",
            "Policy Max Session Lifetime",
            "Maximum session lifetime in seconds",
            N,
            "resource_policy__max_session_lifetime",
        ),
    ),
    scope=lambda actor: keypairs_visible_to(actor=actor),
    orderable=frozenset({"access_key", "created_at", "last_used"}),
)

AUDIT_LOGS = ExportReport(
    key="audit-logs",
    name="Audit Logs",
    description="System audit log records for compliance and monitoring",
    fields=(
        _f("id", "ID", "Audit log entry id", N),
        _f(
            "entity_type",
            "Entity Type",
            "Type of entity affected (e.g. session, user)",
            S,
            "target_type",
        ),
        _f("entity_id", "Entity ID", "ID of the affected entity", S, "target_id"),
        _f(
            "operation", "Operation", "The action (`<METHOD> /<route>`, `gql <field>`)", S, "action"
        ),
        _f("status", "Status", "Outcome (success, denied, failure)", E, "outcome"),
        _f("created_at", "Created At", "When the request was answered", D, "at"),
        _f("request_id", "Request ID", "X-Request-ID of the API request", S),
        _f(
            "triggered_by",
            "Triggered By",
            "E-mail of the user who made the request",
            S,
            "user_email",
        ),
        _f("triggered_by_uuid", "Triggered By UUID", "UUID of that user", U, "user_id"),
        _f(
            "acted_as", "Acted As", "E-mail of the user the request acted for", S, "acting_as_email"
        ),
        _f(
            "acted_as_access_key",
            "Acted As Access Key",
            "Access key acted for",
            S,
            "acting_as_access_key",
        ),
        _f("access_key", "Access Key", "Access key that signed the request", S),
        _f("role", "Role", "The actor's role at the time", S),
        _f("domain_name", "Domain", "The actor's domain at the time", S),
        _f("remote_addr", "Remote Address", "Client address", S),
        _f("method", "Method", "HTTP method", S),
        _f("path", "Path", "Request path", S),
        _f("status_code", "Status Code", "HTTP status of the answer", N),
    ),
    scope=_audit_entries,
    filter_model=AuditLogExportFilter,
    filters={
        "entity_type": _string("target_type"),
        "entity_id": _string("target_id"),
        "operation": _string("action"),
        "status": _values("outcome", tuple(AuditOutcome.values)),
        "triggered_by": _string("user_email"),
        "request_id": _string("request_id"),
        "created_at": _dates("at"),
    },
    orderable=frozenset(
        {"entity_type", "entity_id", "operation", "status", "created_at", "triggered_by"}
    ),
)

REPORTS: tuple[ExportReport, ...] = (USERS, SESSIONS, PROJECTS, KEYPAIRS, AUDIT_LOGS)


def export_report_get(*, key: str) -> ExportReport:
    report = next((r for r in REPORTS if r.key == key), None)
    if report is None:
        raise ExportReportNotFound(
            f"Unknown report: {key!r} (known: {', '.join(r.key for r in REPORTS)})"
        )
    return report
