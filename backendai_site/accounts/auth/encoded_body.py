"""Bodies the official client encrypts for plain-http endpoints (`X-BackendAI-Encoded: true`).

`iv + b":" + base64(AES-256-CBC(key, iv, PKCS7(json)))`, 16-character ASCII iv, and
`key = (base64(endpoint) + iv + iv)[:32]` where `endpoint` is the URL the client was configured
with; the server rebuilds it as `scheme://Host` (also with the script prefix, for a mounted API).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.http import HttpRequest

from backendai_site.common.errors import InvalidAPIParameters

MAX_ENCODED_BODY = 64 * 1024


def _decrypt(endpoint: str, iv: bytes, payload: bytes) -> bytes:
    key = (base64.b64encode(endpoint.encode("ascii")) + iv + iv)[:32]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(payload) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def encoded_body_json(request: HttpRequest) -> Any:
    """The JSON a client encrypted into the body; 400 when it cannot be read."""
    raw = request.body
    if len(raw) > MAX_ENCODED_BODY or raw.count(b":") != 1:
        raise InvalidAPIParameters("The encoded request body is malformed.")
    iv, encoded = raw.split(b":")
    if len(iv) != 16:
        raise InvalidAPIParameters("The encoded request body is malformed.")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidAPIParameters("The encoded request body is not base64.") from None
    base = f"{request.scheme}://{request.get_host()}"
    prefix = request.META.get("SCRIPT_NAME", "").rstrip("/")
    for endpoint in dict.fromkeys((base, base + prefix, base + "/")):
        try:
            return json.loads(_decrypt(endpoint, iv, payload))
        except (ValueError, UnicodeDecodeError):
            continue
    raise InvalidAPIParameters("The encoded request body could not be decrypted.")
