"""Verification of signed API requests against stored keypairs (COMPAT.md 2.3)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from django.http import HttpRequest

from backendai_site.accounts.models import KeyPair
from backendai_site.accounts.selectors import keypair_get_for_auth
from backendai_site.accounts.services import keypair_mark_used, keypair_secret
from backendai_site.common.errors import (
    AuthorizationFailed,
    ClockSkewError,
    InvalidAuthParameters,
    RateLimitExceeded,
)
from backendai_site.common.ratelimit import RateLimitState, rolling_hit
from backendai_site.common.redis import get_redis
from backendai_site.config import get_config

from .signing import (
    SignatureFormatError,
    normalize_content_type,
    parse_authorization,
    parse_request_date,
    sign_request,
    signatures_match,
)

log = logging.getLogger(__name__)

_PATH_SAFE = "/!$&'()*+,;=:@"
_DATE_HEADERS = ("date", "x-backendai-date", "x-sorna-date")
_LAST_USED_MARK_SECONDS = 60


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    keypair: KeyPair
    rate_limit: RateLimitState


def raw_request_target(request: HttpRequest) -> str:
    """The request target as the client sent it: raw path plus `?` plus raw query."""
    scope = getattr(request, "scope", None)
    query = request.META.get("QUERY_STRING", "")
    if scope is not None and scope.get("raw_path"):
        path = scope["raw_path"].decode("latin-1")
    elif request.META.get("RAW_URI"):
        return str(request.META["RAW_URI"])
    elif request.META.get("REQUEST_URI"):
        return str(request.META["REQUEST_URI"])
    else:
        path = quote(request.path, safe=_PATH_SAFE)
    return f"{path}?{query}" if query else path


def _raw_date(headers: Mapping[str, str]) -> str:
    for name in _DATE_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    raise InvalidAuthParameters("Date header is missing.")


def signed_headers_from_meta(meta: Mapping[str, object]) -> dict[str, str]:
    """The headers signing looks at, lowercased, from a WSGI/ASGI `request.META`."""
    headers: dict[str, str] = {}
    for name in (*_DATE_HEADERS, "host", "x-backendai-version"):
        key = "HTTP_" + name.upper().replace("-", "_")
        value = meta.get(key)
        if value:
            headers[name] = str(value)
    content_type = meta.get("CONTENT_TYPE")
    if content_type:
        headers["content-type"] = str(content_type)
    return headers


def verify_signed_request(request: HttpRequest, authorization: str) -> VerifiedRequest:
    """Check the signature, date window, key state and rate limit of one request."""
    return verify_signed_parts(
        method=request.method or "GET",
        rel_url=raw_request_target(request),
        authorization=authorization,
        headers=signed_headers_from_meta(request.META),
    )


def verify_signed_parts(
    *, method: str, rel_url: str, authorization: str, headers: Mapping[str, str]
) -> VerifiedRequest:
    """Verify from primitives (a websocket scope has no HttpRequest): the method, the raw
    request target (path plus `?` plus raw query) and the headers keyed by lowercase name."""
    try:
        header = parse_authorization(authorization)
        raw_date = _raw_date(headers)
        request_date = parse_request_date(raw_date)
    except SignatureFormatError as exc:
        raise InvalidAuthParameters(str(exc)) from None
    api_version = headers.get("x-backendai-version")
    if not api_version:
        raise InvalidAuthParameters("X-BackendAI-Version header is missing.")
    skew = abs((datetime.now(UTC) - request_date).total_seconds())
    if skew > get_config().auth_max_clock_skew_seconds:
        raise ClockSkewError("The request date is too far from the server's clock.")
    keypair = keypair_get_for_auth(access_key=header.access_key)
    if keypair is None or not keypair.is_active or not keypair.user.is_active:
        raise AuthorizationFailed("Unknown or inactive access key.")
    expected = sign_request(
        secret_key=keypair_secret(keypair=keypair),
        method=method,
        rel_url=rel_url,
        raw_date=raw_date,
        request_date=request_date,
        host=headers.get("host", ""),
        content_type=normalize_content_type(headers.get("content-type")),
        api_version=api_version,
        hash_name=header.hash_name,
    )
    if not signatures_match(expected, header.signature):
        log.info("signature mismatch", extra={"access_key": header.access_key})
        raise AuthorizationFailed("Signature mismatch.")
    state = rolling_hit(
        key=f"bai:ratelimit:{keypair.access_key}",
        limit=keypair.rate_limit,
        window_seconds=get_config().rate_limit_window_seconds,
    )
    if not state.exceeded and get_redis().set(
        f"bai:lastused:{keypair.access_key}", 1, nx=True, ex=_LAST_USED_MARK_SECONDS
    ):
        keypair_mark_used(access_key=keypair.access_key)
    return VerifiedRequest(keypair=keypair, rate_limit=state)


def rate_limit_check(state: RateLimitState) -> None:
    """Raise when the keypair went past its limit in the current window."""
    if state.exceeded:
        raise RateLimitExceeded(
            f"Rate limit of {state.limit} requests per {state.window_seconds} s exceeded.",
            data={"limit": state.limit, "window": state.window_seconds},
        )
