"""Schemathesis against our own OpenAPI schema on a live server: generated requests, valid and
invalid, signed like the official client signs them so protected operations are reached. Any
5xx, or a status the schema does not document, fails."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import status_code_conformance

from backendai_site.accounts.auth.signing import normalize_content_type, sign_request
from backendai_site.config import API_VERSION
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.factories.world import ComputeWorld

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

# Examples per operation, mode (valid / invalid input) and target (a random ref / an existing
# session): about two minutes in all on a small machine.
EXAMPLES_PER_OPERATION = 25
SKIPPED_PATHS = re.compile(r"^/(api/|admin/(?!gql|graphql)|console/)")


class BackendAISignature(requests.auth.AuthBase):
    """Signs each prepared request exactly as the official client does (COMPAT.md 2.3)."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        now = datetime.now(UTC)
        raw_date = now.isoformat()
        host = urlsplit(request.url or "").netloc
        raw_type = request.headers.get("Content-Type")
        content_type = normalize_content_type(
            raw_type.decode() if isinstance(raw_type, bytes) else raw_type
        )
        signature = sign_request(
            secret_key=self.secret_key,
            method=request.method or "GET",
            rel_url=request.path_url,
            raw_date=raw_date,
            request_date=now,
            host=host,
            content_type=content_type,
            api_version=API_VERSION,
        )
        request.headers.update(
            {
                "Host": host,
                "Date": raw_date,
                "X-BackendAI-Version": API_VERSION,
                "Authorization": (
                    f"BackendAI signMethod=HMAC-SHA256, credential={self.access_key}:{signature}"
                ),
            }
        )
        return request


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    session: requests.Session,
    failures: list[str],
    path_parameters: dict[str, str] | None = None,
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        response = case.call(session=session, timeout=15)
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
        except (AssertionError, BaseExceptionGroup):
            failures.append(
                f"{operation.label} ({mode}): {response.status_code} "
                f"{response.text[:200]!r}\n  {case.as_curl_command()[:400]}"
            )

    try:
        run()
    except Unsatisfiable:
        # nothing in this operation can be made invalid (it takes no input)
        assert mode == GenerationMode.NEGATIVE, f"{operation.label}: no valid input"


def _pending_session(world: ComputeWorld) -> Any:
    request = SessionCreateRequest.model_validate(
        {"image": "python", "name": f"fuzz-{uuid.uuid4().hex[:8]}", "enqueueOnly": True}
    )
    return session_enqueue(requester=world.user.keypair, request=request).session


def test_no_server_error_and_only_documented_statuses(
    live_api_server: Any, world: ComputeWorld
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api_server.url}/api/schema?format=json")
    session = requests.Session()
    session.auth = BackendAISignature(world.user.access_key, world.user.secret_key)
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        operations.append(result.ok())
    # the browser pages and the docs are not API operations
    operations = [op for op in operations if not SKIPPED_PATHS.match(op.path)]
    assert len(operations) > 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, session, failures)
            if "{ref}" in operation.path:
                # and on a session that exists, so the views get past the lookup
                ref = _pending_session(world).name
                _fuzz_operation(operation, mode, session, failures, {"ref": ref})

    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:40])
