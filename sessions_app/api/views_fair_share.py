"""`/fair-share/*` (the official client's `fair-share ...` commands): thin views over
`sessions_app.selectors_fair_share` (reads), `sessions_app.services.fair_share` (writes) and
`sessions_app.selectors_fair_share_buckets` (resource-group-scoped usage buckets)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.models import ResourceGroup
from backendai_site.accounts.models import KeyPair, User
from backendai_site.accounts.permissions import superadmin_require
from backendai_site.common.api.payloads import payload_parse
from backendai_site.common.errors import InvalidAPIParameters, MethodNotAllowed
from sessions_app.selectors_fair_share import (
    FairShareScope,
    FairShareSearch,
    Level,
    fair_share_get,
    fair_shares_search,
    group_spec_dict,
    group_spec_get,
)
from sessions_app.selectors_fair_share_buckets import rg_buckets_search
from sessions_app.selectors_fair_share_weights import GroupSpec
from sessions_app.selectors_usage_buckets import BucketLevel, BucketSearch
from sessions_app.services.fair_share import (
    BulkWeightBody,
    SpecBody,
    WeightBody,
    WeightTarget,
    fair_share_spec_update,
    fair_share_weights_upsert,
)

_SCHEMA = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)


def _actor(request: Request) -> User:
    keypair = request.auth
    assert isinstance(keypair, KeyPair)
    return keypair.user


def _body(request: Request) -> Any:
    return request.data if request.data is not None else {}


def _search(request: Request, level: Level, scope: FairShareScope | None = None) -> Response:
    search = payload_parse(FairShareSearch, _body(request), what="fair share search")
    page = fair_shares_search(actor=_actor(request), level=level, search=search, scope=scope)
    pagination = {"total": page.total, "offset": page.offset, "limit": page.limit}
    return Response({"items": page.items, "pagination": pagination})


# --- the global routes -------------------------------------------------------------------------


class _SearchView(APIView):
    level: Level

    @_SCHEMA
    def post(self, request: Request) -> Response:
        return _search(request, self.level)


class DomainSearchView(_SearchView):
    level = Level.DOMAIN


class ProjectSearchView(_SearchView):
    level = Level.PROJECT


class UserSearchView(_SearchView):
    level = Level.USER


class DomainShareView(APIView):
    @_SCHEMA
    def get(self, request: Request, group: str, domain: str) -> Response:
        item = fair_share_get(
            actor=_actor(request), level=Level.DOMAIN, group_name=group, domain_name=domain
        )
        return Response({"item": item})


class ProjectShareView(APIView):
    @_SCHEMA
    def get(self, request: Request, group: str, project: UUID) -> Response:
        item = fair_share_get(
            actor=_actor(request), level=Level.PROJECT, group_name=group, project_id=project
        )
        return Response({"item": item})


class UserShareView(APIView):
    @_SCHEMA
    def get(self, request: Request, group: str, project: UUID, user: UUID) -> Response:
        item = fair_share_get(
            actor=_actor(request), level=Level.USER, group_name=group, project_id=project,
            user_id=user,
        )  # fmt: skip
        return Response({"item": item})


# --- weights -----------------------------------------------------------------------------------


def _weight_set(request: Request, group: str, target: WeightTarget) -> Response:
    actor = _actor(request)
    fair_share_weights_upsert(actor=actor, group_name=group, targets=[target])
    item = fair_share_get(
        actor=actor, level=target.level, group_name=group, domain_name=target.domain_name,
        project_id=target.project_id, user_id=target.user_id,
    )  # fmt: skip
    return Response({"item": item})


def _weight_body(request: Request, *, needs_domain: bool) -> WeightBody:
    body = payload_parse(WeightBody, _body(request), what="fair share weight")
    if needs_domain and body.domain_name is None:
        raise InvalidAPIParameters("domain_name is required", data={"domain_name": "required"})
    return body


class DomainWeightView(APIView):
    @_SCHEMA
    def put(self, request: Request, group: str, domain: str) -> Response:
        body = _weight_body(request, needs_domain=False)
        return _weight_set(request, group, WeightTarget(Level.DOMAIN, domain, weight=body.weight))


class ProjectWeightView(APIView):
    @_SCHEMA
    def put(self, request: Request, group: str, project: UUID) -> Response:
        body = _weight_body(request, needs_domain=True)
        assert body.domain_name is not None
        target = WeightTarget(Level.PROJECT, body.domain_name, project, weight=body.weight)
        return _weight_set(request, group, target)


class UserWeightView(APIView):
    @_SCHEMA
    def put(self, request: Request, group: str, project: UUID, user: UUID) -> Response:
        body = _weight_body(request, needs_domain=True)
        assert body.domain_name is not None
        target = WeightTarget(Level.USER, body.domain_name, project, user, weight=body.weight)
        return _weight_set(request, group, target)


class _BulkWeightView(APIView):
    level: Level

    @_SCHEMA
    def post(self, request: Request) -> Response:
        body = payload_parse(BulkWeightBody, _body(request), what="bulk weight upsert")
        targets = []
        for i, entry in enumerate(body.inputs):
            if self.level != Level.DOMAIN and entry.project_id is None:
                raise InvalidAPIParameters(f"inputs.{i}.project_id is required")
            if self.level == Level.USER and entry.user_uuid is None:
                raise InvalidAPIParameters(f"inputs.{i}.user_uuid is required")
            project = entry.project_id if self.level != Level.DOMAIN else None
            user = entry.user_uuid if self.level == Level.USER else None
            targets.append(WeightTarget(self.level, entry.domain_name, project, user, entry.weight))
        count = fair_share_weights_upsert(
            actor=_actor(request), group_name=body.resource_group, targets=targets
        )
        return Response({"upserted_count": count})


class DomainBulkWeightView(_BulkWeightView):
    level = Level.DOMAIN


class ProjectBulkWeightView(_BulkWeightView):
    level = Level.PROJECT


class UserBulkWeightView(_BulkWeightView):
    level = Level.USER


# --- resource-group specs ----------------------------------------------------------------------


class GroupSpecView(APIView):
    @_SCHEMA
    def get(self, request: Request, group: str) -> Response:
        superadmin_require(_actor(request), to="read fair-share specs")
        spec = group_spec_get(group)
        return Response({"resource_group": spec.name, "fair_share_spec": group_spec_dict(spec)})

    @_SCHEMA
    def patch(self, request: Request, group: str) -> Response:
        body = payload_parse(SpecBody, _body(request), what="fair share spec")
        changed = fair_share_spec_update(actor=_actor(request), group_name=group, body=body)
        spec = GroupSpec(name=changed.name, opts=changed.opts)
        return Response({"resource_group": spec.name, "fair_share_spec": group_spec_dict(spec)})


class GroupSpecListView(APIView):
    @_SCHEMA
    def get(self, request: Request) -> Response:
        superadmin_require(_actor(request), to="read fair-share specs")
        groups = ResourceGroup.objects.order_by("name").only("name", "scheduler_opts")
        specs = [GroupSpec(g.name, g.opts) for g in groups]
        items = [{"resource_group": s.name, "fair_share_spec": group_spec_dict(s)} for s in specs]
        return Response({"items": items, "total_count": len(items)})


# --- resource-group scoped routes --------------------------------------------------------------


class RGDomainView(APIView):
    """`GET .../rg/{group}/domains/{domain}`, and `POST .../rg/{group}/domains/search` (the
    same path shape: a domain named `search` is read with GET)."""

    @_SCHEMA
    def get(self, request: Request, group: str, domain: str) -> Response:
        item = fair_share_get(
            actor=_actor(request), level=Level.DOMAIN, group_name=group, domain_name=domain
        )
        return Response({"item": item})

    @_SCHEMA
    def post(self, request: Request, group: str, domain: str) -> Response:
        if domain != "search":
            raise MethodNotAllowed("POST is for .../domains/search")
        return _search(request, Level.DOMAIN, FairShareScope(resource_group=group))


class RGProjectSearchView(APIView):
    @_SCHEMA
    def post(self, request: Request, group: str, domain: str) -> Response:
        scope = FairShareScope(resource_group=group, domain_name=domain)
        return _search(request, Level.PROJECT, scope)


class RGProjectView(APIView):
    @_SCHEMA
    def get(self, request: Request, group: str, domain: str, project: UUID) -> Response:
        item = fair_share_get(
            actor=_actor(request), level=Level.PROJECT, group_name=group, domain_name=domain,
            project_id=project,
        )  # fmt: skip
        return Response({"item": item})


class RGUserSearchView(APIView):
    @_SCHEMA
    def post(self, request: Request, group: str, domain: str, project: UUID) -> Response:
        scope = FairShareScope(resource_group=group, domain_name=domain, project_id=project)
        return _search(request, Level.USER, scope)


class RGUserView(APIView):
    @_SCHEMA
    def get(self, request: Request, group: str, domain: str, project: UUID, user: UUID) -> Response:
        item = fair_share_get(
            actor=_actor(request), level=Level.USER, group_name=group, domain_name=domain,
            project_id=project, user_id=user,
        )  # fmt: skip
        return Response({"item": item})


class _RGBucketView(APIView):
    level: BucketLevel

    def _answer(
        self, request: Request, group: str, domain: str | None, project: UUID | None
    ) -> Response:
        search = payload_parse(BucketSearch, _body(request), what="usage bucket search")
        page = rg_buckets_search(
            actor=_actor(request), level=self.level, search=search, group_name=group,
            domain_name=domain, project_id=project,
        )  # fmt: skip
        pagination = {"total": page.total, "offset": page.offset, "limit": page.limit}
        return Response({"items": page.items, "pagination": pagination})


class RGDomainBucketView(_RGBucketView):
    level = BucketLevel.DOMAIN

    @_SCHEMA
    def post(self, request: Request, group: str) -> Response:
        return self._answer(request, group, None, None)


class RGProjectBucketView(_RGBucketView):
    level = BucketLevel.PROJECT

    @_SCHEMA
    def post(self, request: Request, group: str, domain: str) -> Response:
        return self._answer(request, group, domain, None)


class RGUserBucketView(_RGBucketView):
    level = BucketLevel.USER

    @_SCHEMA
    def post(self, request: Request, group: str, domain: str, project: UUID) -> Response:
        return self._answer(request, group, domain, project)
