"""Verification of signed API requests against stored keypairs (COMPAT.md 2.3)."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest

from backendai_site.accounts.crypto import decrypt_secret
from backendai_site.accounts.models import Domain, KeyPair, KeypairResourcePolicy, User
from backendai_site.accounts.selectors import keypair_get_for_auth
from backendai_site.accounts.services import keypair_mark_used
from backendai_site.common.errors import (
    AuthorizationFailed,
    ClockSkewError,
    InvalidAuthParameters,
    RateLimitExceeded,
)
from backendai_site.common.ratelimit import RateLimitState, rolling_hit_and_mark
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
_SECRET_CACHE_SIZE = 4096

# Plain secrets by their encrypted form (Fernet decryption costs more than the rest of the
# signature check). Keyed by the ciphertext, so a rotated secret is a new entry and an entry
# grants nothing by itself: the keypair row is still read, and its state checked, per request.
_secrets: dict[str, str] = {}


# Keypair rows (with user, domain and keypair policy) by access key, kept KEYPAIR_CACHE_SECONDS.
# Bound on revocation: a keypair revoked, a user deactivated or a policy changed by another
# process stops (or starts) counting here within KEYPAIR_CACHE_SECONDS; a save or delete of a
# keypair, user, domain or keypair policy in this process empties the cache at once. Every
# request still checks the signature, the date window, `is_active` of the key and the user, and
# the rate limit in Redis; each caller gets its own copies of the cached objects.
KEYPAIR_CACHE_SECONDS = 1.0
_KEYPAIR_CACHE_SIZE = 4096
_keypairs: dict[str, tuple[float, KeyPair]] = {}


def keypair_cache_clear(**_: object) -> None:
    _keypairs.clear()


for _model in (KeyPair, User, Domain, KeypairResourcePolicy):
    post_save.connect(keypair_cache_clear, sender=_model, dispatch_uid=f"auth-cache-{_model}")
    post_delete.connect(keypair_cache_clear, sender=_model, dispatch_uid=f"auth-cache-d-{_model}")


def _detached(keypair: KeyPair) -> KeyPair:
    """A copy of a cached keypair whose user, domain and policy are copies too, so nothing one
    request sets on them reaches another."""
    clone = copy.copy(keypair)
    user = copy.copy(keypair.user)
    user.domain = copy.copy(keypair.user.domain)
    clone.user = user
    clone.resource_policy = copy.copy(keypair.resource_policy)
    return clone


def _keypair_for_auth(access_key: str) -> KeyPair | None:
    now = time.monotonic()
    hit = _keypairs.get(access_key)
    if hit is not None and now - hit[0] < KEYPAIR_CACHE_SECONDS:
        return _detached(hit[1])
    keypair = keypair_get_for_auth(access_key=access_key)
    if keypair is not None:
        if len(_keypairs) >= _KEYPAIR_CACHE_SIZE:
            _keypairs.clear()
        _keypairs[access_key] = (now, _detached(keypair))
    return keypair


def _plain_secret(keypair: KeyPair) -> str:
    token = keypair.secret_key_encrypted
    secret = _secrets.get(token)
    if secret is None:
        secret = decrypt_secret(token)
        if len(_secrets) >= _SECRET_CACHE_SIZE:
            _secrets.clear()
        _secrets[token] = secret
    return secret


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
        header = parse_authorization(
            authorization, allowed_methods=get_config().auth_sign_methods_allowed
        )
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
    keypair = _keypair_for_auth(header.access_key)
    if keypair is None or not keypair.is_active or not keypair.user.is_active:
        raise AuthorizationFailed("Unknown or inactive access key.")
    expected = sign_request(
        secret_key=_plain_secret(keypair),
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
    return VerifiedRequest(keypair=keypair, rate_limit=keypair_request_count(keypair))


def verify_session_keypair(*, access_key: str, user_id: object) -> VerifiedRequest:
    """The keypair a session-mode login (`/server/login`) bound to a web session: it must still
    be active and belong to the session's (active) user; the request counts against its rate
    limit like a signed one."""
    keypair = _keypair_for_auth(access_key)
    if (
        keypair is None
        or keypair.user_id != user_id
        or not keypair.is_active
        or not keypair.user.is_active
    ):
        raise AuthorizationFailed("The login session's keypair is gone or inactive; log in again.")
    return VerifiedRequest(keypair=keypair, rate_limit=keypair_request_count(keypair))


def keypair_request_count(keypair: KeyPair) -> RateLimitState:
    """Count one request against the keypair's rolling limit (and record `last_used`)."""
    # One Redis round trip: count the hit and, within the limit, take the once-a-minute mark
    # that decides whether this request records `last_used`.
    state, first_use = rolling_hit_and_mark(
        key=f"bai:ratelimit:{keypair.access_key}",
        limit=keypair.rate_limit,
        window_seconds=get_config().rate_limit_window_seconds,
        mark_key=f"bai:lastused:{keypair.access_key}",
        mark_seconds=_LAST_USED_MARK_SECONDS,
    )
    if first_use:
        keypair_mark_used(access_key=keypair.access_key)
    return state


def rate_limit_check(state: RateLimitState) -> None:
    """Raise when the keypair went past its limit in the current window."""
    if state.exceeded:
        raise RateLimitExceeded(
            f"Rate limit of {state.limit} requests per {state.window_seconds} s exceeded.",
            data={"limit": state.limit, "window": state.window_seconds},
            retry_after=state.retry_after,
        )
