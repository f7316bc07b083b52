"""Session-mode login of the official client (`BACKEND_ENDPOINT_TYPE=session`, COMPAT.md 2.8).

`backend.ai login` posts an e-mail and password to `/server/login`; on success the web session
(Django's session cookie) is bound to the user's main keypair, and every later request of the
client goes to `/func/<path>` with that cookie instead of a signature. Passwords go through
`django.contrib.auth.authenticate`, so django-axes counts failures per account and client address
exactly as it does for the admin console's login (`lockout.py` answers a locked pair).

Cookie-authenticated requests are protected from cross-site forgery the way the client allows:
it sends no CSRF token, but always sends `X-BackendAI-Version`, a custom header that a browser
cannot add to a cross-site request without a CORS preflight (which this server never grants);
an `Origin`, when present, must be this server or a trusted origin.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from backendai_site.common.errors import AuthorizationFailed, InvalidAPIParameters, PermissionDenied
from backendai_site.common.validation import Text256

from .models import KeyPair, User
from .selectors import user_main_keypair

log = logging.getLogger(__name__)

# The web-session key that marks a session created by `/server/login` (and names its keypair):
# an admin-console login shares the cookie but not this key, so it never opens the `/func/` API.
FUNC_SESSION_KEY = "bai_func_access_key"
FUNC_PREFIX = "/func/"
MAX_SECURE_BODY = 64 * 1024
_ENCODED_HEADER = "HTTP_X_BACKENDAI_ENCODED"


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: Text256
    password: Text256
    otp: Text256 | None = None


class PasswordUpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    old_password: Text256
    new_password: Text256
    new_password2: Text256


@dataclass(frozen=True, slots=True)
class SessionLogin:
    authenticated: bool
    user: User | None = None
    keypair: KeyPair | None = None
    details: str = ""


def compat_decrypt_payload(*, endpoint: str, payload: bytes) -> bytes:
    """Undo the client's `encrypt_payload` (http endpoints): `iv:base64(AES-256-CBC)`, the key
    being `(base64(endpoint) + iv + iv)[:32]` (COMPAT.md 2.8). It obscures, it does not protect."""
    iv, sep, body = payload.partition(b":")
    if not sep or len(iv) != 16:
        raise ValueError("not an encoded body")
    key = (base64.b64encode(endpoint.encode()) + iv + iv)[:32]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(base64.b64decode(body, validate=True)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _endpoint_candidates(request: HttpRequest) -> list[str]:
    # The client keys with the endpoint exactly as configured; the server sees scheme and Host.
    base = f"{request.scheme}://{request.get_host()}"
    return [base, base + "/"]


def compat_secure_body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object of a login or password body, plain (https) or encoded (http)."""
    raw = request.body
    if len(raw) > MAX_SECURE_BODY:
        raise InvalidAPIParameters("The request body is too large.")
    if request.META.get(_ENCODED_HEADER, "").lower() == "true":
        for endpoint in _endpoint_candidates(request):
            try:
                raw = compat_decrypt_payload(endpoint=endpoint, payload=raw)
                break
            except (ValueError, binascii.Error):
                continue
        else:
            raise InvalidAPIParameters("The encoded body cannot be decoded for this endpoint.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidAPIParameters("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise InvalidAPIParameters("The body must be a JSON object.")
    return data


def _parsed[M: BaseModel](model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidAPIParameters(f"{where}: {first['msg']}") from None


def compat_csrf_check(request: HttpRequest) -> None:
    """Refuse a cookie-carrying request that a browser on another site could have sent."""
    if not request.META.get("HTTP_X_BACKENDAI_VERSION"):
        raise PermissionDenied("Cookie-authenticated requests need the X-BackendAI-Version header.")
    origin = request.META.get("HTTP_ORIGIN")
    if origin and origin != "null":
        own = f"{request.scheme}://{request.get_host()}"
        trusted = {own, *getattr(settings, "CSRF_TRUSTED_ORIGINS", [])}
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" not in trusted:
            raise PermissionDenied("Cross-origin requests are not accepted here.")
    elif origin == "null":
        raise PermissionDenied("Cross-origin requests are not accepted here.")


def session_login(*, request: HttpRequest) -> SessionLogin:
    """Check the posted e-mail and password (through django-axes) in the request's domain
    (`X-BackendAI-Domain`) and bind a fresh web session to the user's main keypair.

    A wrong password, an unknown or inactive user, another domain or a user without a keypair all
    answer the same "not authenticated"; a locked account-and-address pair leaves
    `request.axes_locked_out` set, which `lockout.login_lockout_response` turns into a 429.
    """
    compat_csrf_check(request)
    body = _parsed(LoginBody, compat_secure_body(request))
    domain_name = request.META.get("HTTP_X_BACKENDAI_DOMAIN") or "default"
    user = auth.authenticate(request, username=body.username, password=body.password)
    keypair = user_main_keypair(user=user) if isinstance(user, User) else None
    if (
        not isinstance(user, User)
        or user.domain.name != domain_name
        or keypair is None
        or not keypair.is_active
    ):
        if isinstance(user, User):
            # the password was right but the login is not allowed here: count it as a failure
            auth.signals.user_login_failed.send(
                sender=__name__,
                credentials={"username": body.username},
                request=request,
            )
        log.info("session login failed", extra={"email": body.username, "domain": domain_name})
        return SessionLogin(authenticated=False, details="Invalid user ID or password.")
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[FUNC_SESSION_KEY] = keypair.access_key
    log.info("session login", extra={"email": user.email, "access_key": keypair.access_key})
    return SessionLogin(authenticated=True, user=user, keypair=keypair)


def session_logout(*, request: HttpRequest) -> None:
    """End the web session (and with it the `/func/` access it carried)."""
    compat_csrf_check(request)
    auth.logout(request)


def func_session_access_key(request: HttpRequest) -> str | None:
    """The keypair a `/func/` request's web session was bound to at login, else None."""
    if not request.path_info.startswith(FUNC_PREFIX):
        return None
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or user is None or not user.is_authenticated:
        return None
    access_key = session.get(FUNC_SESSION_KEY)
    return access_key if isinstance(access_key, str) else None


def user_password_update(*, request: HttpRequest, user: User) -> None:
    """`POST /func/auth/update-password`: the owner changes their own password. The current web
    session stays logged in (same key); every other session of the user is signed out by
    Django's session auth hash."""
    body = _parsed(PasswordUpdateBody, compat_secure_body(request))
    if not user.check_password(body.old_password):
        raise AuthorizationFailed("The old password is not correct.")
    if body.new_password != body.new_password2:
        raise InvalidAPIParameters("The new password and its confirmation differ.")
    try:
        validate_password(body.new_password, user=user)
    except ValidationError as exc:
        raise InvalidAPIParameters(" ".join(exc.messages)) from None
    user.set_password(body.new_password)
    user.save(update_fields=["password"])
    session = getattr(request, "session", None)
    if session is not None and session.get(auth.SESSION_KEY) == str(user.pk):
        # Not `update_session_auth_hash`: it also renews the session key, and the client never
        # saves cookies after login, so its next request would carry a dead key.
        session[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
    log.info("password updated", extra={"email": user.email})
