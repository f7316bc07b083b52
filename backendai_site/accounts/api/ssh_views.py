"""`/auth/ssh-keypair`: the caller's own SSH keypair (docs/compat/ssh.md). Only the signing
access key's pair is reachable here, so no user reaches another's."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.accounts.ssh_services import (
    MAX_KEY_CHARS,
    SSHKeypair,
    ssh_keypair_ensure,
    ssh_keypair_regenerate,
    ssh_keypair_upload,
)


def _caller_keypair(request: Request) -> KeyPair:
    keypair = request.auth
    assert isinstance(keypair, KeyPair)  # every authentication class of the API sets it
    return keypair


class SSHKeypairView(APIView):
    @extend_schema_serializer(component_name="SSHPublicKeyOutput")
    class PublicOutputSerializer(serializers.Serializer):
        ssh_public_key = serializers.CharField()

    @extend_schema_serializer(component_name="SSHKeypairOutput")
    class PairOutputSerializer(serializers.Serializer):
        ssh_public_key = serializers.CharField()
        ssh_private_key = serializers.CharField()

    @extend_schema_serializer(component_name="SSHKeypairUploadInput")
    class UploadSerializer(serializers.Serializer):
        pubkey = serializers.CharField(max_length=MAX_KEY_CHARS, trim_whitespace=False)
        privkey = serializers.CharField(max_length=MAX_KEY_CHARS, trim_whitespace=False)

    def _pair(self, pair: SSHKeypair) -> Response:
        return Response(
            self.PairOutputSerializer(
                {"ssh_public_key": pair.public_key, "ssh_private_key": pair.private_key}
            ).data
        )

    @extend_schema(responses=PublicOutputSerializer)
    def get(self, request: Request) -> Response:
        """The public key (one is made when the access key has none yet)."""
        pair = ssh_keypair_ensure(keypair=_caller_keypair(request))
        return Response(self.PublicOutputSerializer({"ssh_public_key": pair.public_key}).data)

    @extend_schema(request=None, responses=PairOutputSerializer)
    def patch(self, request: Request) -> Response:
        """A freshly generated pair replaces the current one."""
        return self._pair(ssh_keypair_regenerate(keypair=_caller_keypair(request)))

    @extend_schema(request=UploadSerializer, responses=PairOutputSerializer)
    def post(self, request: Request) -> Response:
        """The caller's own pair replaces the current one, once shown consistent."""
        serializer = self.UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pair = ssh_keypair_upload(
            keypair=_caller_keypair(request),
            public_key=data["pubkey"],
            private_key=data["privkey"],
        )
        return self._pair(pair)
