"""Thin API views: version probe, auth echo and password login (the announcement is in
`backendai_site/manager`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.auth.encoded_body import encoded_body_json
from backendai_site.accounts.services import user_authorize, user_password_update_no_auth
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.config import API_VERSION, MANAGER_VERSION


class VersionView(APIView):
    """Unsigned version probe of the official client (also answers signed requests)."""

    permission_classes = (AllowAny,)

    @extend_schema_serializer(component_name="VersionOutput")
    class OutputSerializer(serializers.Serializer):
        version = serializers.CharField()
        manager = serializers.CharField()

    @extend_schema(responses=OutputSerializer, auth=[])
    def get(self, request: Request) -> Response:
        return Response({"version": API_VERSION, "manager": MANAGER_VERSION})


class AuthEchoView(APIView):
    """`GET /auth?echo=...` or `POST /auth {"echo": ...}`: proves a signature works."""

    @extend_schema_serializer(component_name="AuthEchoOutput")
    class OutputSerializer(serializers.Serializer):
        authorized = serializers.CharField()
        echo = serializers.CharField(allow_blank=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        return Response({"authorized": "yes", "echo": request.query_params.get("echo", "")})

    @extend_schema(
        request=inline_serializer("AuthEchoInput", {"echo": serializers.CharField()}),
        responses=OutputSerializer,
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        echo = data.get("echo", "")
        if not isinstance(echo, str):
            raise InvalidAPIParameters("echo must be a string")
        return Response({"authorized": "yes", "echo": echo})


class AuthorizeView(APIView):
    """`POST /auth/authorize`: domain, e-mail and password in exchange for the user's keypair."""

    permission_classes = (AllowAny,)

    @extend_schema_serializer(component_name="AuthorizeInput")
    class InputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=["keypair"], default="keypair")
        domain = serializers.CharField(max_length=64)
        username = serializers.CharField(max_length=256)
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema_serializer(component_name="AuthorizeKeypair")
    class OutputSerializer(serializers.Serializer):
        access_key = serializers.CharField()
        secret_key = serializers.CharField()
        role = serializers.CharField()
        status = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer("AuthorizeOutput", {"data": OutputSerializer()}),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        login = user_authorize(
            domain_name=data["domain"],
            email=data["username"],
            password=data["password"],
            client=request.META.get("REMOTE_ADDR", "unknown"),
        )
        output = self.OutputSerializer(
            {
                "access_key": login.keypair.access_key,
                "secret_key": login.secret_key,
                "role": login.user.role,
                "status": login.user.status,
            }
        )
        return Response({"data": output.data})


class UpdatePasswordNoAuthView(APIView):
    """`POST /auth/update-password-no-auth` (unsigned): domain, e-mail, current and new password;
    the body is encrypted (`X-BackendAI-Encoded: true`) when the client talks plain http."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema_serializer(component_name="UpdatePasswordNoAuthInput")
    class InputSerializer(serializers.Serializer):
        domain = serializers.CharField(max_length=64)
        username = serializers.CharField(max_length=256)
        current_password = serializers.CharField(max_length=256, trim_whitespace=False)
        new_password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "UpdatePasswordNoAuthOutput", {"password_changed_at": serializers.DateTimeField()}
        ),
        auth=[],
    )
    def post(self, request: Request) -> Response:
        encoded = request.headers.get("X-BackendAI-Encoded", "").lower() == "true"
        body = encoded_body_json(request._request) if encoded else request.data
        serializer = self.InputSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        changed_at = user_password_update_no_auth(
            domain_name=data["domain"],
            email=data["username"],
            current_password=data["current_password"],
            new_password=data["new_password"],
            client=request.META.get("REMOTE_ADDR", "unknown"),
        )
        return Response({"password_changed_at": changed_at.isoformat()})
