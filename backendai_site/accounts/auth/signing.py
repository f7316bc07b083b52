"""Backend.AI request signing (HMAC-SHA256), exactly as the official client computes it.

Pure functions only: no Django, no I/O. See COMPAT.md section 2.3.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from dateutil import parser as date_parser

EMPTY_BODY_HASH = hashlib.sha256(b"").hexdigest()
DEFAULT_CONTENT_TYPE = "application/octet-stream"
AUTH_TYPES = frozenset({"BackendAI", "Sorna"})
# Fixed-size digests only: HMAC over an extendable-output function (SHAKE) is undefined.
SIGNABLE_HASHES = frozenset(h for h in hashlib.algorithms_guaranteed if not h.startswith("shake"))
DEFAULT_SIGN_METHODS = frozenset({"hmac-sha256"})


class SignatureFormatError(ValueError):
    """The Authorization or Date header cannot be parsed."""


@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    sign_method: str  # e.g. "hmac-sha256"
    access_key: str
    signature: str

    @property
    def hash_name(self) -> str:
        return self.sign_method.split("-", 1)[1]


def parse_authorization(
    value: str, *, allowed_methods: frozenset[str] = DEFAULT_SIGN_METHODS
) -> AuthorizationHeader:
    """Parse `BackendAI signMethod=HMAC-SHA256, credential=<ak>:<sig>`; `allowed_methods` are
    lowercase `hmac-<hash>` names."""
    auth_type, _, params_text = value.strip().partition(" ")
    if auth_type not in AUTH_TYPES:
        raise SignatureFormatError("unsupported authorization type")
    params: dict[str, str] = {}
    for part in params_text.split(","):
        key, sep, val = part.partition("=")
        if not sep:
            raise SignatureFormatError("malformed authorization parameter")
        params[key.strip()] = val.strip()
    try:
        sign_method = params["signMethod"].lower()
        access_key, sep, signature = params["credential"].partition(":")
    except KeyError as exc:
        raise SignatureFormatError(f"missing authorization parameter {exc.args[0]}") from None
    if not sep or not access_key or not signature:
        raise SignatureFormatError("malformed credential")
    method, _, hash_name = sign_method.partition("-")
    if method != "hmac" or hash_name not in SIGNABLE_HASHES:
        raise SignatureFormatError("unsupported signMethod")
    if sign_method not in allowed_methods:
        raise SignatureFormatError(
            f"signMethod {params['signMethod'][:32]!r} is not allowed here "
            f"(allowed: {', '.join(sorted(m.upper() for m in allowed_methods))})"
        )
    return AuthorizationHeader(sign_method=sign_method, access_key=access_key, signature=signature)


def parse_request_date(raw: str) -> datetime:
    """Parse the Date header the way the reference manager does (dateutil; naive means UTC).
    The ISO 8601 form the official client sends is read by `datetime.fromisoformat` first, a
    twentieth of dateutil's cost on every signed request; anything else goes to dateutil."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        try:
            parsed = date_parser.parse(raw)
        except (ValueError, OverflowError) as exc:
            raise SignatureFormatError("malformed date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def normalize_content_type(raw: str | None) -> str:
    """Mimetype without parameters, lowercased; absent or empty is application/octet-stream."""
    if not raw:
        return DEFAULT_CONTENT_TYPE
    return raw.split(";", 1)[0].strip().lower() or DEFAULT_CONTENT_TYPE


def sign_request(
    *,
    secret_key: str,
    method: str,
    rel_url: str,
    raw_date: str,
    request_date: datetime,
    host: str,
    content_type: str,
    api_version: str,
    hash_name: str = "sha256",
) -> str:
    """The hex signature of a request (COMPAT.md 2.3)."""
    sign_str = (
        f"{method.upper()}\n{rel_url}\n{raw_date}\nhost:{host}\n"
        f"content-type:{content_type.lower()}\nx-backendai-version:{api_version}\n"
        f"{EMPTY_BODY_HASH}"
    )
    digest = getattr(hashlib, hash_name)
    k1 = hmac.new(secret_key.encode(), request_date.strftime("%Y%m%d").encode(), digest).digest()
    k2 = hmac.new(k1, host.encode(), digest).digest()
    return hmac.new(k2, sign_str.encode(), digest).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
