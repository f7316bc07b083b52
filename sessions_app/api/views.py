"""Thin DRF views of the sessions API (COMPAT.md 4.2); the logic lives in services/selectors."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.enums import AgentStatus
from agents_app.schemas import GetLogs
from agents_app.services.commands import agent_command_call
from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.enums import KernelStatus
from sessions_app.models import Session
from sessions_app.selectors import (
    SESSION_LIST_FIELDS,
    session_get_by_ref,
    session_list_rows,
    sessions_visible_to,
)
from sessions_app.services.lifecycle import (
    session_destroy,
    session_rename,
    session_restart,
    sessions_destroy_recursive,
)

from .filters import SessionFilter
from .serializers import SessionOutputSerializer, session_row_output
from .views_exec import session_execute_respond

OWNER_PARAM = OpenApiParameter("owner_access_key", str, required=False)
TRUE_VALUES = {"1", "true", "yes", "y", "t"}


def _keypair(request: Request) -> KeyPair:
    auth = request.auth
    assert isinstance(auth, KeyPair)
    return auth


def _session(request: Request, ref: str) -> Session:
    return session_get_by_ref(
        requester=_keypair(request),
        ref=ref,
        owner_access_key=request.query_params.get("owner_access_key"),
    )


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in TRUE_VALUES


class SessionListView(generics.ListAPIView[Session]):
    """`GET /session`: sessions visible to the caller, filtered and paginated."""

    serializer_class = SessionOutputSerializer
    filterset_class = SessionFilter

    def get_queryset(self) -> QuerySet[Session]:
        return sessions_visible_to(keypair=_keypair(self.request)).order_by("-created_at")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Plain rows (`.values()`), not model objects: three queries whatever the page size."""
        queryset = self.filter_queryset(self.get_queryset()).values(*SESSION_LIST_FIELDS)
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        kernels = session_list_rows(page=rows)
        now = timezone.now()
        data = [session_row_output(row, kernels[row["id"]], now) for row in rows]
        return self.get_paginated_response(data) if page is not None else Response(data)


class SessionDetailView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], responses=SessionOutputSerializer)
    def get(self, request: Request, ref: str) -> Response:
        return Response(SessionOutputSerializer(_session(request, ref)).data)

    @extend_schema(
        parameters=[
            OWNER_PARAM,
            OpenApiParameter("forced", bool, required=False),
            OpenApiParameter("recursive", bool, required=False),
        ],
        responses=inline_serializer("SessionDestroyed", {"destroyed": serializers.ListField()}),
    )
    def delete(self, request: Request, ref: str) -> Response:
        session = _session(request, ref)
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
        session_restart(session=_session(request, ref))
        return Response(status=204)

    @extend_schema(parameters=[OWNER_PARAM], responses=serializers.DictField())
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
        session_rename(session=_session(request, ref), new_name=new_name)
        return Response(status=204)


class SessionLogsView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM, OpenApiParameter("kernel_id", str, required=False)],
        responses=inline_serializer(
            "SessionLogs",
            {"result": inline_serializer("SessionLogsResult", {"logs": serializers.CharField()})},
        ),
    )
    def get(self, request: Request, ref: str) -> Response:
        session = _session(request, ref)
        kernels = session.kernels.select_related("agent").order_by("cluster_idx")
        kernel_id = request.query_params.get("kernel_id")
        kernel = kernels.filter(pk=kernel_id).first() if kernel_id else kernels.first()
        if kernel is None:
            raise InvalidAPIParameters("No such kernel in this session.")
        logs = kernel.logs
        agent_alive = kernel.agent is not None and kernel.agent.status == AgentStatus.ALIVE
        if agent_alive and kernel.status not in (KernelStatus.PENDING, KernelStatus.CANCELLED):
            reply = agent_command_call(
                agent_id=str(kernel.agent_id),
                command="get_logs",
                payload=GetLogs(kernel_id=str(kernel.pk), session_id=str(session.pk)),
            )
            if reply.ok and isinstance(reply.result, dict):
                logs = str(reply.result.get("logs", "")) or logs
        return Response({"result": {"logs": logs}})


class SessionStatusHistoryView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM],
        responses=inline_serializer("StatusHistory", {"result": serializers.DictField()}),
    )
    def get(self, request: Request, ref: str) -> Response:
        session = _session(request, ref)
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
        session = _session(request, ref)
        return Response(_dependency_tree(session, seen=set()))


def _dependency_tree(session: Session, *, seen: set[Any]) -> dict[str, Any]:
    seen.add(session.pk)
    node: dict[str, Any] = {
        "session_id": str(session.pk),
        "session_name": session.name,
        "status": session.status,
        "result": session.result,
        "depends_on": [],
    }
    for dep in Session.objects.filter(dependents__session=session):
        if dep.pk not in seen:
            node["depends_on"].append(_dependency_tree(dep, seen=seen))
    return node
