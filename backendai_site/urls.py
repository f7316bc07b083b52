"""URL map of the web role: the signed API at the root (as the official client expects),
the admin console under /admin/, OpenAPI under /api/."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backendai_site.console.views import dashboard_usage
from backendai_site.graphql.views import GraphQLView
from backendai_site.metrics.web import metrics_view

# The API the official client calls. It is served twice: at the root for HMAC-signed requests,
# and under `/func/` (namespace `func`) for session-mode clients, whose requests carry the web
# session of `POST /server/login` instead of a signature (COMPAT.md 2.8; `GET /func/` is the
# version probe). Authentication decides per request (`accounts/authentication.py`).
api_urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("backendai_site.accounts.api.urls")),
    path("", include("backendai_site.manager.api.urls")),
    path("", include("backendai_site.audit.api.urls")),
    path("", include("backendai_site.export.api.urls")),
    path("", include("agents_app.api.urls")),
    path("admin/gql", GraphQLView.as_view(), name="graphql"),
    path("admin/graphql", GraphQLView.as_view(), name="graphql-legacy"),
    path("", include("sessions_app.api.urls")),
    path("", include("proxy_app.urls")),
    path("", include("storage_app.api.urls")),
    path("", include("templates_app.api.urls")),
]

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    *api_urlpatterns,
    path("func/", include((api_urlpatterns, "func"))),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # the dashboard's chart data, behind the console's sign-in (backendai_site/console)
    path("admin/console/usage.json", admin.site.admin_view(dashboard_usage), name="console-usage"),
    path("admin/", admin.site.urls),
]

handler400 = "backendai_site.common.api.exception_handler.handler400"
handler403 = "backendai_site.common.api.exception_handler.handler403"
handler404 = "backendai_site.common.api.exception_handler.handler404"
handler500 = "backendai_site.common.api.exception_handler.handler500"
