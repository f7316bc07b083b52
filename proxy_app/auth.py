"""Who opens a stream: an HMAC-signed handshake (the official client) or, for the browser, the
Django session cookie of a logged-in console user together with a same-origin `Origin` header.

Both end in a KeyPair, because session lookups are scoped by keypair (owner, domain admin,
superadmin); a cookie user acts through their oldest active keypair.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from importlib import import_module
from typing import Any
from urllib.parse import quote, urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare

from backendai_site.accounts.auth.verify import rate_limit_check, verify_signed_parts
from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import AuthorizationFailed, PermissionDenied

log = logging.getLogger(__name__)

_PATH_SAFE = "/!$&'()*+,;=:@"


def scope_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """The handshake headers keyed by lowercase name (the last one wins)."""
    return {
        bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
        for k, v in scope.get("headers", [])
    }


def scope_raw_target(scope: Mapping[str, Any]) -> str:
    """The request target exactly as sent: raw path plus `?` plus the raw query."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe=_PATH_SAFE)
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _keypair_signed(scope: Mapping[str, Any], headers: dict[str, str]) -> KeyPair:
    verified = verify_signed_parts(
        method="GET",
        rel_url=scope_raw_target(scope),
        authorization=headers["authorization"],
        headers=headers,
    )
    rate_limit_check(verified.rate_limit)
    return verified.keypair


def _same_origin(headers: dict[str, str]) -> bool:
    origin = headers.get("origin")
    if not origin:
        return False
    netloc = urlsplit(origin).netloc
    if netloc and netloc == headers.get("host"):
        return True
    return origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", [])


def _keypair_from_cookie(headers: dict[str, str]) -> KeyPair:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except CookieError:
        raise AuthorizationFailed("Malformed cookie header.") from None
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        raise AuthorizationFailed("This stream needs a signed request or a console login.")
    if not _same_origin(headers):
        # A cookie alone would let any web page open a stream (cross-site websocket hijacking).
        raise PermissionDenied("Cross-origin stream requests are not allowed.")
    store = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user_id = store.get(SESSION_KEY)
    backend_path = store.get(BACKEND_SESSION_KEY)
    if not user_id or backend_path not in settings.AUTHENTICATION_BACKENDS:
        raise AuthorizationFailed("The console session has expired; log in again.")
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not getattr(user, "is_active", False):
        raise AuthorizationFailed("The console session has expired; log in again.")
    session_hash = store.get(HASH_SESSION_KEY) or ""
    if not constant_time_compare(session_hash, user.get_session_auth_hash()):
        raise AuthorizationFailed("The console session has expired; log in again.")
    keypair = (
        KeyPair.objects.select_related("user", "user__domain", "resource_policy")
        .filter(user_id=user.pk, is_active=True)
        .order_by("created_at")
        .first()
    )
    if keypair is None:
        raise PermissionDenied("The console user has no active keypair.")
    return keypair


def keypair_from_scope(scope: Mapping[str, Any]) -> KeyPair:
    """Authenticate a websocket handshake; raises a BackendError when it cannot."""
    headers = scope_headers(scope)
    if headers.get("authorization"):
        return _keypair_signed(scope, headers)
    return _keypair_from_cookie(headers)


keypair_from_scope_async = sync_to_async(keypair_from_scope)
