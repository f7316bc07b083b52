"""Output shapes of the sessions API (camelCase, as Backend.AI clients read them)."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from rest_framework import serializers

from sessions_app.models import Kernel, Session
from sessions_app.selectors import KERNEL_LIST_FIELDS, SESSION_LIST_FIELDS
from sessions_app.services.dotfiles import environ_for_display
from sessions_app.services.idle import session_idle_checks


def service_ports_of(session: Session, kernels: list[Kernel]) -> list[dict[str, Any]]:
    """The main kernel's service ports in the client's shape (empty unless running)."""
    main = next((k for k in kernels if k.cluster_role == "main"), None)
    if main is None:
        return []
    return [
        {
            "name": port.get("name"),
            "protocol": port.get("protocol"),
            "ports": port.get("container_ports") or port.get("ports") or [],
        }
        for port in main.service_ports or []
    ]


_ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@functools.cache
def _terminal_url_template(urlconf: str | None, prefix: str) -> str:
    """The terminal page's URL with a placeholder id, reversed once per URLconf and script
    prefix: a list reverses it for every row otherwise, a tenth of its serialization time."""
    return reverse("console-terminal", kwargs={"session_id": _ID_PLACEHOLDER})


def session_links(session_id: object, service_ports: list[dict[str, Any]]) -> dict[str, Any]:
    """Browser links of a session (terminal page, HTTP apps), served by proxy_app's console URLs;
    resolved by URL name so this app does not import proxy_app."""
    try:
        template = _terminal_url_template(get_urlconf(), get_script_prefix())
        terminal = template.replace(_ID_PLACEHOLDER, str(uuid.UUID(str(session_id))))
        apps = {
            str(port["name"]): reverse(
                "console-app-open", kwargs={"session_id": session_id, "app": port["name"]}
            )
            for port in service_ports
            if port.get("protocol") in ("http", "preopen") and port.get("name")
        }
    except (NoReverseMatch, ValueError):
        return {}
    return {"terminal": terminal, "apps": apps}


class KernelOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    clusterRole = serializers.CharField(source="cluster_role")
    clusterIdx = serializers.IntegerField(source="cluster_idx")
    clusterHostname = serializers.CharField(source="cluster_hostname")
    agent = serializers.CharField(source="agent_id", allow_null=True)
    containerId = serializers.CharField(source="container_id")
    status = serializers.CharField()
    statusInfo = serializers.CharField(source="status_info")
    occupiedSlots = serializers.JSONField(source="occupied_slots")
    servicePorts = serializers.JSONField(source="service_ports")
    exitCode = serializers.IntegerField(source="exit_code", allow_null=True)
    oomKilled = serializers.BooleanField(source="oom_killed")


# The fields describe the shape for the API schema; the output itself is built by
# `session_row_output`, the one builder of this shape (the list endpoint calls it on plain rows).
class SessionOutputSerializer(serializers.Serializer):
    """One session as `GET /session/{ref}` and the list endpoint show it."""

    sessionId = serializers.UUIDField(source="id")
    sessionName = serializers.CharField(source="name")
    sessionType = serializers.CharField(source="session_type")
    status = serializers.CharField()
    statusInfo = serializers.CharField(source="status_info")
    statusData = serializers.JSONField(source="status_data")
    schedulerVerdict = serializers.DictField(read_only=True, allow_null=True)
    result = serializers.CharField()
    image = serializers.CharField(source="image_ref")
    architecture = serializers.CharField()
    domainName = serializers.CharField(source="domain.name")
    groupId = serializers.UUIDField(source="project_id")
    groupName = serializers.CharField(source="project.name")
    userId = serializers.UUIDField(source="user_id")
    ownerAccessKey = serializers.CharField(source="access_key_id")
    resourceGroup = serializers.CharField(source="resource_group.name")
    priority = serializers.IntegerField()
    clusterMode = serializers.CharField(source="cluster_mode")
    clusterSize = serializers.IntegerField(source="cluster_size")
    requestedSlots = serializers.JSONField(source="requested_slots")
    occupyingSlots = serializers.JSONField(source="occupying_slots")
    environ = serializers.JSONField()
    tag = serializers.CharField()
    startsAt = serializers.DateTimeField(source="starts_at", allow_null=True)
    creationTime = serializers.DateTimeField(source="created_at")
    terminationTime = serializers.DateTimeField(source="terminated_at", allow_null=True)
    age = serializers.FloatField(read_only=True)
    kernels = KernelOutputSerializer(many=True, read_only=True)  # one child for every row
    idleChecks = serializers.DictField(
        read_only=True,
        allow_null=True,
        help_text="Seconds left under each idle checker while running (`{}` otherwise); one"
        " session's\nview only (null in lists, which keep a constant query count).",
    )
    links = serializers.DictField(read_only=True)

    def to_representation(self, instance: Session) -> dict[str, Any]:
        # idleChecks: one session's view only (null in lists, which keep a constant query count)
        in_list = isinstance(self.parent, serializers.ListSerializer)
        return session_row_output(
            session_row_of(instance),
            kernel_rows_of(instance),
            timezone.now(),
            idle_checks=None if in_list else session_idle_checks(instance),
        )


def _field_path(obj: object, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def session_row_of(session: Session) -> dict[str, Any]:
    """A session model as the plain row the list endpoint reads (`SESSION_LIST_FIELDS`)."""
    return {field: _field_path(session, field) for field in SESSION_LIST_FIELDS}


def kernel_rows_of(session: Session) -> list[dict[str, Any]]:
    """The session's kernels as plain rows (`KERNEL_LIST_FIELDS`), prefetched ones when present."""
    return [
        {field: getattr(kernel, field) for field in KERNEL_LIST_FIELDS}
        for kernel in session.kernels.all()
    ]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def kernel_row_output(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "clusterRole": row["cluster_role"],
        "clusterIdx": row["cluster_idx"],
        "clusterHostname": row["cluster_hostname"],
        "agent": row["agent_id"],
        "containerId": row["container_id"],
        "status": row["status"],
        "statusInfo": row["status_info"],
        "occupiedSlots": row["occupied_slots"],
        "servicePorts": row["service_ports"],
        "exitCode": row["exit_code"],
        "oomKilled": row["oom_killed"],
    }


def session_row_output(
    row: dict[str, Any],
    kernels: list[dict[str, Any]],
    now: datetime,
    *,
    idle_checks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The API's shape of one session, from plain rows (`SESSION_LIST_FIELDS`,
    `KERNEL_LIST_FIELDS`); `idle_checks` stays null in lists."""
    verdict = (row["status_data"] or {}).get("scheduler")
    end = row["terminated_at"] or now
    return {
        "sessionId": str(row["id"]),
        "sessionName": row["name"],
        "sessionType": row["session_type"],
        "status": row["status"],
        "statusInfo": row["status_info"],
        "statusData": row["status_data"],
        "schedulerVerdict": verdict if isinstance(verdict, dict) else None,
        "result": row["result"],
        "image": row["image_ref"],
        "architecture": row["architecture"],
        "domainName": row["domain__name"],
        "groupId": str(row["project_id"]),
        "groupName": row["project__name"],
        "userId": str(row["user_id"]),
        "ownerAccessKey": row["access_key_id"],
        "resourceGroup": row["resource_group__name"],
        "priority": row["priority"],
        "clusterMode": row["cluster_mode"],
        "clusterSize": row["cluster_size"],
        "requestedSlots": row["requested_slots"],
        "occupyingSlots": row["occupying_slots"],
        "environ": environ_for_display(row["environ"] or {}),
        "tag": row["tag"],
        "startsAt": _iso(row["starts_at"]),
        "creationTime": _iso(row["created_at"]),
        "terminationTime": _iso(row["terminated_at"]),
        "age": round((end - row["created_at"]).total_seconds(), 3),
        "kernels": [kernel_row_output(kernel) for kernel in kernels],
        "idleChecks": idle_checks,
        "links": session_links(
            row["id"],
            next((k["service_ports"] for k in kernels if k["cluster_role"] == "main"), []),
        ),
    }
