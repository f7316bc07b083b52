"""Thin views of the session-mode login (COMPAT.md 2.8): `/server/login`, `/server/logout`
and `/auth/update-password` (reached as `/func/auth/update-password`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import User
from backendai_site.accounts.session_login import (
    session_login,
    session_logout,
    user_password_update,
)

LOGIN_OUTPUT = inline_serializer(
    "ServerLoginOutput",
    {"authenticated": serializers.BooleanField(), "data": serializers.DictField()},
)


class ServerLoginView(APIView):
    """`POST /server/login`: e-mail and password (JSON, or encoded for http endpoints) for a
    web-session cookie. A wrong login is `200 {"authenticated": false}` as the client expects."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(request=None, responses=LOGIN_OUTPUT, auth=[])
    def post(self, request: Request) -> Response:
        result = session_login(request=request._request)
        if not result.authenticated or result.user is None or result.keypair is None:
            return Response(
                {
                    "authenticated": False,
                    "data": {
                        "type": "https://api.backend.ai/probs/auth-failed",
                        "title": "Login failed.",
                        "details": result.details,
                    },
                }
            )
        user = result.user
        return Response(
            {
                "authenticated": True,
                "data": {
                    "email": user.email,
                    "full_name": user.full_name,
                    "role": user.role,
                    "status": user.status,
                    "domain": user.domain.name,
                    "access_key": result.keypair.access_key,
                },
            }
        )


class ServerLogoutView(APIView):
    """`POST /server/logout`: ends the web session (also when it already ended)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(request=None, responses=LOGIN_OUTPUT)
    def post(self, request: Request) -> Response:
        session_logout(request=request._request)
        return Response({"authenticated": False, "data": {}})


class UpdatePasswordView(APIView):
    """`POST /auth/update-password`: the caller changes their own password."""

    @extend_schema(
        request=inline_serializer(
            "UpdatePasswordInput",
            {
                "old_password": serializers.CharField(),
                "new_password": serializers.CharField(),
                "new_password2": serializers.CharField(),
            },
        ),
        responses=inline_serializer("UpdatePasswordOutput", {"error_msg": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)
        user_password_update(request=request._request, user=user)
        return Response({"error_msg": ""})
