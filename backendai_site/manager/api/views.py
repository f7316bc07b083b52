"""Thin views of the manager endpoints; the logic is in `services` and `selectors`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import User
from backendai_site.common.api.payloads import payload_parse
from backendai_site.manager.schemas import (
    AnnouncementUpdate,
    ErrorLogAppend,
    ErrorLogListQuery,
    ManagerStatusUpdate,
    SchedulerOperationRequest,
)
from backendai_site.manager.selectors import announcement_get
from backendai_site.manager.services import (
    announcement_update,
    error_log_append,
    error_log_mark_cleared,
    error_logs_page,
    manager_status_report,
    manager_status_update,
    scheduler_operation_apply,
)

SUCCESS = inline_serializer("ManagerSuccess", {"success": serializers.BooleanField()})


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _body(request: Request) -> Any:
    return request.data if request.data is not None else {}


class ManagerStatusView(APIView):
    """`GET /manager/status` (any signed caller) and `PUT /manager/status` (superadmin)."""

    @extend_schema(
        responses=inline_serializer(
            "ManagerStatusOutput",
            {
                "nodes": serializers.ListField(),
                "status": serializers.CharField(),
                "active_sessions": serializers.IntegerField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        report = manager_status_report()
        return Response(
            {
                "nodes": [],
                "status": report.status,
                "active_sessions": report.active_sessions,
            }
        )

    @extend_schema(
        request=inline_serializer(
            "ManagerStatusInput",
            {"status": serializers.CharField(), "force_kill": serializers.BooleanField()},
        ),
        responses={204: None},
    )
    def put(self, request: Request) -> Response:
        update = payload_parse(ManagerStatusUpdate, _body(request), what="manager status")
        manager_status_update(actor=_user(request), update=update)
        return Response(status=204)


class AnnouncementView(APIView):
    """`GET /manager/announcement` (every signed caller) and `POST` (superadmin, the CLI's
    `admin announcement update/delete`; `PUT` is accepted as the same)."""

    @extend_schema(
        responses=inline_serializer(
            "AnnouncementOutput",
            {"enabled": serializers.BooleanField(), "message": serializers.CharField()},
        )
    )
    def get(self, request: Request) -> Response:
        announcement = announcement_get()
        return Response({"enabled": announcement.enabled, "message": announcement.message})

    @extend_schema(
        request=inline_serializer(
            "AnnouncementInput",
            {"enabled": serializers.BooleanField(), "message": serializers.CharField()},
        ),
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        update = payload_parse(AnnouncementUpdate, _body(request), what="announcement")
        announcement_update(actor=_user(request), update=update)
        return Response(status=204)

    put = post


class SchedulerOperationView(APIView):
    """`POST /manager/scheduler/operation` (superadmin): include or exclude agents."""

    @extend_schema(
        request=inline_serializer(
            "SchedulerOperationInput",
            {"op": serializers.CharField(), "args": serializers.ListField()},
        ),
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        operation = payload_parse(SchedulerOperationRequest, _body(request), what="operation")
        scheduler_operation_apply(actor=_user(request), op=operation.op, agent_ids=operation.args)
        return Response(status=204)


class ErrorLogView(APIView):
    """`GET /logs/error` (the caller's scope, paginated) and `POST /logs/error` (report one)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("mark_read", OpenApiTypes.STR, required=False),
            OpenApiParameter("page_size", OpenApiTypes.INT, required=False),
            OpenApiParameter("page_no", OpenApiTypes.INT, required=False),
        ],
        responses=inline_serializer(
            "ErrorLogList",
            {"logs": serializers.ListField(), "count": serializers.IntegerField()},
        ),
    )
    def get(self, request: Request) -> Response:
        query = payload_parse(ErrorLogListQuery, request.query_params.dict(), what="query")
        page = error_logs_page(
            actor=_user(request),
            page_no=query.page_no,
            page_size=query.page_size,
            mark_read=query.mark_read,
        )
        return Response({"logs": page.logs, "count": page.count})

    @extend_schema(
        request=inline_serializer(
            "ErrorLogInput",
            {
                "severity": serializers.CharField(),
                "source": serializers.CharField(),
                "message": serializers.CharField(),
                "context_lang": serializers.CharField(),
                "context_env": serializers.JSONField(),
            },
        ),
        responses=SUCCESS,
    )
    def post(self, request: Request) -> Response:
        entry = payload_parse(ErrorLogAppend, _body(request), what="error log")
        error_log_append(actor=_user(request), entry=entry)
        return Response({"success": True})


class ErrorLogClearView(APIView):
    """`POST /logs/error/{log_id}/clear`: hide a log from everyone but superadmins."""

    @extend_schema(request=None, responses=SUCCESS)
    def post(self, request: Request, log_id: str) -> Response:
        error_log_mark_cleared(actor=_user(request), log_id=log_id)
        return Response({"success": True})
