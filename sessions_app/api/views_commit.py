"""`POST /session/{ref}/commit` and `/imagify`: save a running session as a new local image.

Thin: `services/commit.py` checks and starts the work; the answer names the background task
whose progress `/events/background-task?task_id=` streams (docs/compat/session-commit.md).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.enums import SessionAction
from sessions_app.services.commit import CommitStarted, session_commit

from .views import OWNER_PARAM, _keypair, _session

COMMIT_RESPONSE = inline_serializer(
    "SessionCommitStarted",
    {
        "task_id": serializers.UUIDField(),
        "bgtask_id": serializers.UUIDField(),
        "image": serializers.CharField(),
    },
)


def _started(started: CommitStarted) -> Response:
    # The SDK reads `task_id` (imagify); `bgtask_id` is the reference's name for the same id.
    task_id = str(started.task_id)
    return Response({"task_id": task_id, "bgtask_id": task_id, "image": started.image_ref})


class SessionCommitView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], request=None, responses=COMMIT_RESPONSE)
    def post(self, request: Request, ref: str) -> Response:
        session = _session(request, ref, SessionAction.MANAGE)
        return _started(session_commit(session=session, actor=_keypair(request)))


class SessionImagifyView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM, OpenApiParameter("image_name", str, required=True)],
        request=None,
        responses=COMMIT_RESPONSE,
    )
    def post(self, request: Request, ref: str) -> Response:
        image_name = request.query_params.get("image_name") or (
            request.data.get("image_name") if isinstance(request.data, dict) else None
        )
        if not image_name or not isinstance(image_name, str):
            raise InvalidAPIParameters("The new image's name is missing (?image_name=...).")
        session = _session(request, ref, SessionAction.MANAGE)
        started = session_commit(session=session, actor=_keypair(request), image_name=image_name)
        return _started(started)
