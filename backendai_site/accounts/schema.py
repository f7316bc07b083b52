"""drf-spectacular description of the Backend.AI HMAC signature scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HMACSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "backendai_site.accounts.authentication.HMACSignatureAuthentication"
    name = "BackendAISignature"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "BackendAI signMethod=HMAC-SHA256, credential=<access key>:<signature>, "
                "with Date and X-BackendAI-Version headers (see COMPAT.md 2.3)"
            ),
        }


class FuncSessionScheme(OpenApiAuthenticationExtension):
    target_class = "backendai_site.accounts.authentication.FuncSessionAuthentication"
    name = "BackendAISessionCookie"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": (
                "The web session of POST /server/login, accepted under /func/ only, with the "
                "X-BackendAI-Version header (COMPAT.md 2.8)"
            ),
        }
