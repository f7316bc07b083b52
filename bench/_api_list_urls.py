"""URLconf of `bench api_list` only (BAI_BENCH_ROOT_URLCONF): the product's URLs plus the baseline.

The baseline is a plain Django view returning the same 50 session rows as `GET /session` (the
caller's newest sessions) with `.values()` + `JsonResponse`: no authentication, no serializer, no
count, no kernels. It never ships in `backendai_site.urls`.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from backendai_site.urls import urlpatterns as product_urlpatterns
from bench.api_list import BASELINE_PATH
from sessions_app.models import Session

FIELDS = (
    "id", "name", "session_type", "status", "status_info", "status_data", "result", "image_ref",
    "architecture", "domain__name", "project_id", "project__name", "user_id", "access_key_id",
    "resource_group__name", "priority", "cluster_mode", "cluster_size", "requested_slots",
    "occupying_slots", "environ", "tag", "starts_at", "created_at", "terminated_at",
)  # fmt: skip


def session_values(request: HttpRequest) -> JsonResponse:
    access_key = request.GET.get("access_key", "")
    rows = list(
        Session.objects.filter(access_key_id=access_key)
        .order_by("-created_at")
        .values(*FIELDS)[:50]
    )
    return JsonResponse({"items": rows})


urlpatterns = [path(BASELINE_PATH, session_values), *product_urlpatterns]
