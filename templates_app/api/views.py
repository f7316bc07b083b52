"""Thin views of `/template/session` and the three dotfile scopes (docs/compat/
templates-dotfiles.md); authorization and logic live in selectors and services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.http import HttpResponse
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import InvalidAPIParameters
from templates_app import services
from templates_app.enums import DotfileScope, ScopeAction
from templates_app.models import Dotfile, SessionTemplate
from templates_app.schemas import (
    DotfileBody,
    DotfilePathParams,
    DotfileScopeParams,
    TemplateCreateBody,
    TemplateGetQuery,
    TemplateListQuery,
    TemplateUpdateBody,
    parse_body,
    template_render,
)
from templates_app.selectors import (
    DotfileOwner,
    acting_user_resolve,
    domain_dotfile_owner,
    project_dotfile_owner,
    template_get,
    templates_for,
    user_dotfile_owner,
)


def _keypair(request: Request) -> KeyPair:
    keypair = request.auth
    assert isinstance(keypair, KeyPair)
    return keypair


def _params(request: Request) -> dict[str, Any]:
    """Query parameters, with a JSON body's keys on top (the client sends some GETs a body)."""
    merged: dict[str, Any] = dict(request.query_params.items())
    if isinstance(request.data, dict):
        merged.update(request.data)
    return merged


def template_row(template: SessionTemplate, *, viewer_id: Any) -> dict[str, Any]:
    return {
        "name": template.name,
        "id": template.pk.hex,
        "created_at": template.created_at.isoformat(),
        "is_owner": template.user_id == viewer_id,
        "user": str(template.user_id),
        "group": str(template.project_id) if template.project_id else None,
        "user_email": template.user.email,
        "group_name": template.project.name if template.project else None,
        "domain_name": template.domain.name,
        "type": template.type,
        "template": template.template,
    }


class TemplateCollectionView(APIView):
    """`GET /template/session` (the caller's and its projects' templates; `all`: every one its
    role may see), `POST /template/session` (a JSON or YAML payload)."""

    def get(self, request: Request) -> Response:
        query = parse_body(TemplateListQuery, _params(request))
        user = _keypair(request).user
        rows = (
            templates_for(user=user, action=ScopeAction.VIEW, by_role=query.all)
            .select_related("user", "project", "domain")
            .order_by("created_at")
        )
        return Response([template_row(t, viewer_id=user.pk) for t in rows])

    def post(self, request: Request) -> Response:
        body = parse_body(TemplateCreateBody, request.data)
        created = services.template_create(requester=_keypair(request), body=body)
        return Response([{"id": t.pk.hex, "user": t.user_id.hex} for t in created])


class FormatParamNegotiation(DefaultContentNegotiation):
    """`?format=yaml|json` is the template's format here, not DRF's renderer override."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, str(first.media_type)


class TemplateDetailView(APIView):
    content_negotiation_class = FormatParamNegotiation

    def get(self, request: Request, template_id: str) -> HttpResponse:
        query = parse_body(TemplateGetQuery, _params(request))
        keypair = _keypair(request)
        acting_user_resolve(requester=keypair, owner_access_key=query.owner_access_key)
        template = template_get(user=keypair.user, template_id=template_id, action=ScopeAction.VIEW)
        document = {
            "template": template.template,
            "name": template.name,
            "user_uuid": str(template.user_id),
            "group_id": str(template.project_id) if template.project_id else None,
            "domain_name": template.domain.name,
        }
        content_type = "application/yaml" if query.format == "yaml" else "application/json"
        return HttpResponse(template_render(document, query.format), content_type=content_type)

    def put(self, request: Request, template_id: str) -> Response:
        body = parse_body(TemplateUpdateBody, request.data)
        keypair = _keypair(request)
        acting_user_resolve(requester=keypair, owner_access_key=body.owner_access_key)
        template = template_get(
            user=keypair.user, template_id=template_id, action=ScopeAction.MANAGE
        )
        services.template_update(template=template, payload=body.payload)
        return Response({"success": True})

    def delete(self, request: Request, template_id: str) -> Response:
        keypair = _keypair(request)
        owner_access_key = request.query_params.get("owner_access_key")
        acting_user_resolve(requester=keypair, owner_access_key=owner_access_key)
        template = template_get(
            user=keypair.user, template_id=template_id, action=ScopeAction.MANAGE
        )
        services.template_delete(template=template)
        return Response({"success": True})


def dotfile_row(dotfile: Dotfile) -> dict[str, Any]:
    return {"path": dotfile.path, "permission": dotfile.permission_octal, "data": dotfile.data}


class DotfileView(APIView):
    """`/{user,group,domain}-config/dotfiles`: GET lists (or, with `path`, reads one), POST
    creates, PATCH updates, DELETE deletes; the scope is the URL's."""

    scope: ClassVar[DotfileScope] = DotfileScope.USER

    def _owner(
        self, request: Request, params: DotfileScopeParams, action: ScopeAction
    ) -> DotfileOwner:
        keypair = _keypair(request)
        match self.scope:
            case DotfileScope.USER:
                return user_dotfile_owner(
                    requester=keypair, owner_access_key=params.owner_access_key
                )
            case DotfileScope.PROJECT:
                if not params.group:
                    raise InvalidAPIParameters("`group` (a project name or id) is required.")
                return project_dotfile_owner(
                    requester=keypair.user, group=params.group, domain=params.domain, action=action
                )
        if not params.domain:
            raise InvalidAPIParameters("`domain` is required.")
        return domain_dotfile_owner(requester=keypair.user, domain=params.domain, action=action)

    def get(self, request: Request) -> Response:
        raw = _params(request)
        if raw.get("path") is not None:
            one = parse_body(DotfilePathParams, raw)
            owner = self._owner(request, one, ScopeAction.VIEW)
            return Response(dotfile_row(services.dotfile_get(owner=owner, path=one.path)))
        params = parse_body(DotfileScopeParams, raw)
        owner = self._owner(request, params, ScopeAction.VIEW)
        return Response([dotfile_row(d) for d in owner.dotfiles().order_by("path")])

    def post(self, request: Request) -> Response:
        body = parse_body(DotfileBody, request.data)
        owner = self._owner(request, body, ScopeAction.MANAGE)
        services.dotfile_create(
            owner=owner, path=body.path, data=body.data, permission=body.permission
        )
        return Response({})

    def patch(self, request: Request) -> Response:
        body = parse_body(DotfileBody, request.data)
        owner = self._owner(request, body, ScopeAction.MANAGE)
        services.dotfile_update(
            owner=owner, path=body.path, data=body.data, permission=body.permission
        )
        return Response({})

    def delete(self, request: Request) -> Response:
        params = parse_body(DotfilePathParams, _params(request))
        owner = self._owner(request, params, ScopeAction.MANAGE)
        services.dotfile_delete(owner=owner, path=params.path)
        return Response({"success": True})


class UserDotfileView(DotfileView):
    scope = DotfileScope.USER


class ProjectDotfileView(DotfileView):
    scope = DotfileScope.PROJECT


class DomainDotfileView(DotfileView):
    scope = DotfileScope.DOMAIN
