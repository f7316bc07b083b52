"""Thin views that mint one-time app links: the signed API and the admin console's link."""

from __future__ import annotations

from uuid import UUID

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from proxy_app.errors import AppAccessDenied
from sessions_app.models import Session
from sessions_app.selectors import session_get_by_ref

from .services import app_link_issue


class AppLinkView(APIView):
    """`POST /session/{ref}/app-link` `{"app": "http"}`: a one-time URL opening the app."""

    class InputSerializer(serializers.Serializer):
        app = serializers.CharField(max_length=32)

    @extend_schema(
        parameters=[OpenApiParameter("owner_access_key", str, required=False)],
        request=InputSerializer,
        responses=inline_serializer(
            "AppLink",
            {
                "url": serializers.CharField(),
                "token": serializers.CharField(),
                "expiresIn": serializers.FloatField(),
            },
        ),
    )
    def post(self, request: Request, ref: str) -> Response:
        keypair = request.auth
        assert isinstance(keypair, KeyPair)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = session_get_by_ref(
            requester=keypair,
            ref=ref,
            owner_access_key=request.query_params.get("owner_access_key"),
        )
        link = app_link_issue(
            user=keypair.user,
            session=session,
            app=data.validated_data["app"],
            public_endpoint=request.build_absolute_uri("/"),
        )
        return Response({"url": link.url, "token": link.token, "expiresIn": link.expires_in})


@staff_member_required
def console_app_open(request: HttpRequest, session_id: UUID, app: str) -> HttpResponse:
    """The admin page's "Open app" link: mint a token for the console user and go there."""
    session = Session.objects.filter(pk=session_id).first()
    if session is None or request.user.is_anonymous:
        raise Http404("No such session.")
    try:
        link = app_link_issue(
            user=request.user,
            session=session,
            app=app,
            public_endpoint=request.build_absolute_uri("/"),
        )
    except AppAccessDenied:
        raise Http404("No such session.") from None
    return HttpResponseRedirect(link.url)
