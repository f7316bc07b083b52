"""DRF authentication for the signed Backend.AI API (CSRF does not apply: no cookies)."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from backendai_site.common.errors import AuthorizationFailed
from backendai_site.common.middleware import RATE_LIMIT_ATTR

from .auth.verify import rate_limit_check, verify_signed_request
from .models import KeyPair, User


def keypair_from_signed_request(request: HttpRequest) -> KeyPair:
    """Authenticate a plain Django request (async views, streams); raise when unsigned or bad."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if not authorization:
        raise AuthorizationFailed("This endpoint needs a signed request.")
    verified = verify_signed_request(request, authorization)
    setattr(request, RATE_LIMIT_ATTR, verified.rate_limit)
    rate_limit_check(verified.rate_limit)
    return verified.keypair


class HMACSignatureAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, KeyPair] | None:
        authorization = request.META.get("HTTP_AUTHORIZATION")
        if not authorization:
            return None
        django_request: HttpRequest = request._request
        verified = verify_signed_request(django_request, authorization)
        setattr(django_request, RATE_LIMIT_ATTR, verified.rate_limit)
        rate_limit_check(verified.rate_limit)
        return verified.keypair.user, verified.keypair

    def authenticate_header(self, request: Request) -> str:
        return "BackendAI signMethod=HMAC-SHA256"
