"""Thin DRF views of the sessions API (COMPAT.md 4.2); the logic lives in services/selectors."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.api.pagination import DefaultPagination
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.enums import SessionAction
from sessions_app.models import Session
from sessions_app.selectors import (
    SESSION_LIST_FIELDS,
    session_get_by_ref,
    session_list_rows,
    sessions_for,
)
from sessions_app.selectors_dependencies import session_dependency_graph
from sessions_app.services.execute import ExecuteRequest
from sessions_app.services.lifecycle import (
    session_destroy,
    session_rename,
    session_restart,
    sessions_destroy_recursive,
)
from sessions_app.services.logs import session_logs, task_logs

from .filters import SessionFilter
from .serializers import SessionOutputSerializer, session_row_output
from .views_exec import session_execute_respond

OWNER_PARAM = OpenApiParameter("owner_access_key", str, required=False)
TRUE_VALUES = {"1", "true", "yes", "y", "t"}
TASK_LOGS_REF = "_"


def _keypair(request: Request) -> KeyPair:
    auth = request.auth
    assert isinstance(auth, KeyPair)
    return auth


def _session(request: Request, ref: str, action: SessionAction) -> Session:
    return session_get_by_ref(
        requester=_keypair(request),
        ref=ref,
        action=action,
        owner_access_key=request.query_params.get("owner_access_key"),
    )


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in TRUE_VALUES


class SessionListView(generics.ListAPIView[Session]):
    """`GET /session`: sessions visible to the caller, filtered and paginated."""

    serializer_class = SessionOutputSerializer
    filterset_class = SessionFilter

    def get_queryset(self) -> QuerySet[Session]:
        return sessions_for(_keypair(self.request), SessionAction.VIEW).order_by("-created_at")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Plain rows (`.values()`), not model objects: three queries whatever the page size,
        the count on the sessions table alone."""
        filtered = self.filter_queryset(self.get_queryset())
        queryset = filtered.values(*SESSION_LIST_FIELDS)
        paginator = self.paginator
        page = (
            paginator.paginate_counted(queryset, request, count_from=filtered, view=self)
            if isinstance(paginator, DefaultPagination)
            else self.paginate_queryset(queryset)
        )
        rows = list(page if page is not None else queryset)
        kernels = session_list_rows(page=rows)
        now = timezone.now()
        data = [session_row_output(row, kernels[row["id"]], now) for row in rows]
        return self.get_paginated_response(data) if page is not None else Response(data)


class SessionDetailView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], responses=SessionOutputSerializer)
    def get(self, request: Request, ref: str) -> Response:
        return Response(SessionOutputSerializer(_session(request, ref, SessionAction.VIEW)).data)

    @extend_schema(
        parameters=[
            OWNER_PARAM,
            OpenApiParameter("forced", bool, required=False),
            OpenApiParameter("recursive", bool, required=False),
        ],
        responses={
            200: inline_serializer("SessionDestroyed", {"destroyed": serializers.ListField()})
        },
    )
    def delete(self, request: Request, ref: str) -> Response:
        session = _session(request, ref, SessionAction.MANAGE)
        forced = _flag(request, "forced")
        if _flag(request, "recursive"):
            destroyed = sessions_destroy_recursive(
                session=session, forced=forced, reason="user-requested"
            )
        else:
            session_destroy(session=session, forced=forced)
            destroyed = [session.pk]
        return Response({"destroyed": [str(pk) for pk in destroyed]})

    @extend_schema(parameters=[OWNER_PARAM], request=None, responses={204: None})
    def patch(self, request: Request, ref: str) -> Response:
        session_restart(session=_session(request, ref, SessionAction.MANAGE))
        return Response(status=204)

    @extend_schema(
        parameters=[OWNER_PARAM], request=ExecuteRequest, responses=serializers.DictField()
    )
    def post(self, request: Request, ref: str) -> Response:
        """REST execute (COMPAT.md 4.4); see views_exec."""
        return session_execute_respond(request, ref)


class SessionRenameView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM, OpenApiParameter("name", str, required=True)],
        request=None,
        responses={204: None},
    )
    def post(self, request: Request, ref: str) -> Response:
        new_name = request.query_params.get("name") or (
            request.data.get("name") if isinstance(request.data, dict) else None
        )
        if not new_name:
            raise InvalidAPIParameters("The new name is missing (?name=...).")
        session_rename(session=_session(request, ref, SessionAction.MANAGE), new_name=new_name)
        return Response(status=204)


class SessionLogsView(APIView):
    @extend_schema(
        parameters=[
            OWNER_PARAM,
            OpenApiParameter("kernel_id", OpenApiTypes.UUID, required=False),
            OpenApiParameter(
                "taskId", OpenApiTypes.UUID, required=False, description="with the ref `_`"
            ),
        ],
        responses=inline_serializer(
            "SessionLogs",
            {"result": inline_serializer("SessionLogsResult", {"logs": serializers.CharField()})},
        ),
    )
    def get(self, request: Request, ref: str) -> Response | HttpResponse:
        if ref == TASK_LOGS_REF:  # `backend.ai task-logs` (no session is named "_")
            text = task_logs(
                requester=_keypair(request), task_id=request.query_params.get("taskId")
            )
            return HttpResponse(text, content_type="text/plain; charset=utf-8")
        session = _session(request, ref, SessionAction.VIEW)
        logs = session_logs(session=session, kernel_id=request.query_params.get("kernel_id"))
        return Response({"result": {"logs": logs}})


class SessionStatusHistoryView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM],
        responses=inline_serializer("StatusHistory", {"result": serializers.DictField()}),
    )
    def get(self, request: Request, ref: str) -> Response:
        session = _session(request, ref, SessionAction.VIEW)
        result: dict[str, Any] = {}
        for row in session.history.order_by("at", "id"):
            result[row.status.lower()] = row.at.isoformat()
        entries = [
            {"status": row.status, "at": row.at.isoformat(), "reason": row.reason}
            for row in session.history.order_by("at", "id")
        ]
        return Response({"result": result, "history": entries})


class SessionDependencyGraphView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, ref: str) -> Response:
        session = _session(request, ref, SessionAction.VIEW)
        return Response(session_dependency_graph(actor=_keypair(request), session=session))
