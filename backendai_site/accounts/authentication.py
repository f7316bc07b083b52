"""DRF authentication for the Backend.AI API: HMAC-signed requests anywhere (CSRF does not apply:
no cookies), and under `/func/` the web session of a session-mode login (`session_login.py`), with
the custom-header CSRF check the official client can pass."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from backendai_site.common.errors import AuthorizationFailed
from backendai_site.common.middleware import RATE_LIMIT_ATTR

from .auth.verify import (
    VerifiedRequest,
    rate_limit_check,
    verify_session_keypair,
    verify_signed_request,
)
from .models import KeyPair, User
from .session_login import compat_csrf_check, func_session_access_key

# The verified keypair, left on the Django request for what runs after the view (the audit log's
# middleware): set before the rate-limit check, so a rate-limited caller is known too.
API_KEYPAIR_ATTR = "bai_api_keypair"


def _verified_by_session(request: HttpRequest) -> VerifiedRequest | None:
    access_key = func_session_access_key(request)
    if access_key is None:
        return None
    compat_csrf_check(request)
    return verify_session_keypair(access_key=access_key, user_id=request.user.pk)


def keypair_from_signed_request(request: HttpRequest) -> KeyPair:
    """Authenticate a plain Django request (async views, streams): signed, or under `/func/` by
    a session-mode login; raise when neither or bad."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    verified = verify_signed_request(request, authorization) if authorization else None
    if verified is None:
        verified = _verified_by_session(request)
    if verified is None:
        raise AuthorizationFailed("This endpoint needs a signed request.")
    setattr(request, RATE_LIMIT_ATTR, verified.rate_limit)
    setattr(request, API_KEYPAIR_ATTR, verified.keypair)
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
        setattr(django_request, API_KEYPAIR_ATTR, verified.keypair)
        rate_limit_check(verified.rate_limit)
        return verified.keypair.user, verified.keypair

    def authenticate_header(self, request: Request) -> str:
        return "BackendAI signMethod=HMAC-SHA256"


class FuncSessionAuthentication(BaseAuthentication):
    """`/func/...` requests carrying the web-session cookie of `POST /server/login`."""

    def authenticate(self, request: Request) -> tuple[User, KeyPair] | None:
        if request.META.get("HTTP_AUTHORIZATION"):
            return None  # signed: HMACSignatureAuthentication decides
        django_request: HttpRequest = request._request
        verified = _verified_by_session(django_request)
        if verified is None:
            return None
        setattr(django_request, RATE_LIMIT_ATTR, verified.rate_limit)
        setattr(django_request, API_KEYPAIR_ATTR, verified.keypair)
        rate_limit_check(verified.rate_limit)
        return verified.keypair.user, verified.keypair
