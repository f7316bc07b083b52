"""What the middleware records about a request: whether it is audited, and its `AuditEvent`.

Plain functions of the Django request and response, read after the view ran: the resolver
match names the action and the target, DRF (or the signing code) left the user and keypair on
the request, and the body was kept before the view read it (`body_keep`)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from ipaddress import ip_address
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import ResolverMatch
from graphql import (
    FieldNode,
    GraphQLError,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
)

from backendai_site.accounts.authentication import API_KEYPAIR_ATTR
from backendai_site.accounts.models import KeyPair, User

from .enums import AuditOutcome
from .services import AuditActor, AuditEvent

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ATTR = "request_id"
# an incoming request id is kept only when it looks like one (no spaces, quotes or controls)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# bodies kept for the audit (owner_access_key, the GraphQL document): small JSON only
BODY_KEEP_MAX = 64 * 1024
RESPONSE_READ_MAX = 1024 * 1024
GRAPHQL_URL_NAMES = frozenset({"graphql", "graphql-legacy"})
GRAPHQL_MAX_TOKENS = 20_000
# GraphQL arguments that carry a payload, not the target's key
_GRAPHQL_PAYLOAD_ARGS = frozenset({"props", "input", "options"})
# the path segment before a URL kwarg names the target's type; these read better renamed
_TARGET_TYPE_ALIASES = {"folders": "vfolder"}
_FUNC_PREFIX = "func/"


def request_id_choose(header: str | None) -> str:
    """The caller's `X-Request-ID` when it is sane, else a fresh uuid4."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return str(uuid.uuid4())


def body_keep(request: HttpRequest) -> bytes | None:
    """Read (and so keep, for the view too) a small JSON body; None for anything else."""
    if "json" not in (request.content_type or ""):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= BODY_KEEP_MAX:
        return None
    return request.body


def _json_object(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# --- the actor ----------------------------------------------------------------------------------


def _actor_user(request: HttpRequest, user_before: object) -> tuple[User | None, KeyPair | None]:
    keypair = getattr(request, API_KEYPAIR_ATTR, None)
    if isinstance(keypair, KeyPair):
        return keypair.user, keypair
    for candidate in (getattr(request, "user", None), user_before):
        if isinstance(candidate, User):
            return candidate, None
    return None, None


def _actor(user: User | None, keypair: KeyPair | None) -> AuditActor:
    if user is None:
        return AuditActor()
    return AuditActor(
        user_id=user.pk,
        email=user.email,
        role=user.role,
        domain_name=user.domain.name,
        access_key=keypair.access_key if keypair is not None else "",
    )


def _remote_addr(request: HttpRequest) -> str | None:
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ip_address(raw))
    except ValueError:
        return None


def _acting_as(request: HttpRequest, body: Mapping[str, Any], actor: AuditActor) -> tuple[str, str]:
    owner = request.GET.get("owner_access_key") or body.get("owner_access_key")
    if not isinstance(owner, str) or not owner or owner == actor.access_key:
        return actor.access_key, actor.email
    email = KeyPair.objects.filter(pk=owner[:20]).values_list("user__email", flat=True).first()
    return owner, email or ""


# --- the action and its target ------------------------------------------------------------------


def _route_target(match: ResolverMatch) -> tuple[str, str]:
    """The first URL kwarg: `<x>_id` names the type `x`; other names take the path segment
    before them (`session/<str:ref>` is a `session`)."""
    if not match.kwargs:
        return "", ""
    segments = str(match.route or "").split("/")
    for position, segment in enumerate(segments):
        found = re.fullmatch(r"<(?:\w+:)?(\w+)>", segment)
        if found is None or found.group(1) not in match.kwargs:
            continue
        name = found.group(1)
        if name.endswith("_id"):
            kind = name.removesuffix("_id")
        else:
            kind = segments[position - 1] if position > 0 else name
        return _TARGET_TYPE_ALIASES.get(kind, kind), str(match.kwargs[name])
    return "", ""


def _admin_action(request: HttpRequest, match: ResolverMatch) -> tuple[str, str, str]:
    """(action, target type, target id) of an admin console POST."""
    action = match.view_name
    chosen = request.POST.get("action")
    if chosen:
        action = f"{action}:{chosen}"
    model_admin = getattr(match.func, "model_admin", None)
    model = getattr(model_admin, "model", None)
    target_type = model._meta.label_lower if model is not None else ""
    target_id = str(match.kwargs.get("object_id", ""))
    if not target_id and chosen:
        target_id = ",".join(request.POST.getlist("_selected_action"))
    return action, target_type, target_id


def _graphql_mutation(body: Mapping[str, Any]) -> tuple[list[FieldNode], dict[str, Any]] | None:
    """The top-level fields of the document's mutation (None when it has none)."""
    query = body.get("query")
    if not isinstance(query, str):
        return None
    try:
        document = parse(query, no_location=True, max_tokens=GRAPHQL_MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    if isinstance(name, str) and name:
        operations = [op for op in operations if op.name is not None and op.name.value == name]
    mutations = [op for op in operations if op.operation == OperationType.MUTATION]
    if not mutations:
        return None
    fields = [
        selection
        for op in mutations
        for selection in op.selection_set.selections
        if isinstance(selection, FieldNode)
    ]
    variables = body.get("variables")
    return fields, variables if isinstance(variables, dict) else {}


def _graphql_target(field: FieldNode, variables: Mapping[str, Any]) -> tuple[str, str]:
    """`modify_keypair(access_key: "AK...")` targets the `keypair` `AK...`."""
    kind = field.name.value.partition("_")[2] or field.name.value
    for argument in field.arguments:
        if argument.name.value in _GRAPHQL_PAYLOAD_ARGS:
            continue
        value = argument.value
        match value:
            case StringValueNode() | IntValueNode():
                return kind, str(value.value)
            case VariableNode():
                given = variables.get(value.name.value)
                if isinstance(given, str | int) and not isinstance(given, bool):
                    return kind, str(given)
    return kind, ""


def _graphql_failed(response: HttpResponseBase) -> bool:
    """GraphQL answers 200 also when a mutation failed: `errors`, or a result with `ok: false`."""
    if getattr(response, "streaming", False) or "json" not in response.get("Content-Type", ""):
        return False
    content = getattr(response, "content", b"")
    if not content or len(content) > RESPONSE_READ_MAX:
        return False
    payload = _json_object(content)
    if payload.get("errors"):
        return True
    data = payload.get("data")
    results = data.values() if isinstance(data, dict) else ()
    return any(isinstance(r, dict) and r.get("ok") is False for r in results)


def audit_event_from_exchange(
    *,
    request: HttpRequest,
    response: HttpResponseBase,
    request_id: str,
    body: bytes | None,
    user_before: object,
) -> AuditEvent | None:
    """The event to record for a mutating request, or None when it is not audited (a GraphQL
    query, a path no route matched)."""
    match = request.resolver_match
    if match is None:
        return None
    payload = _json_object(body)
    outcome: AuditOutcome | None = None
    if match.namespace == "admin":
        action, target_type, target_id = _admin_action(request, match)
    elif match.url_name in GRAPHQL_URL_NAMES:
        mutation = _graphql_mutation(payload)
        if mutation is None:
            return None
        fields, variables = mutation
        action = "gql " + ",".join(field.name.value for field in fields)
        target_type, target_id = _graphql_target(fields[0], variables) if fields else ("", "")
        if response.status_code < 400 and _graphql_failed(response):
            outcome = AuditOutcome.FAILURE
    else:
        route = str(match.route or "").removeprefix(_FUNC_PREFIX)
        action = f"{request.method} /{route}"
        target_type, target_id = _route_target(match)
    user, keypair = _actor_user(request, user_before)
    actor = _actor(user, keypair)
    acting_as_access_key, acting_as_email = _acting_as(request, payload, actor)
    return AuditEvent(
        request_id=request_id,
        actor=actor,
        remote_addr=_remote_addr(request),
        acting_as_access_key=acting_as_access_key,
        acting_as_email=acting_as_email,
        action=action,
        view_name=match.view_name,
        target_type=target_type,
        target_id=target_id,
        status_code=response.status_code,
        method=request.method or "",
        path=request.path,
        outcome=outcome,
    )
