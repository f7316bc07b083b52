"""ASGI entry point of the web role (HTTP through Django; websockets join via Channels)."""

from __future__ import annotations

import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backendai_site.settings")

django_asgi_app = get_asgi_application()

from proxy_app.routing import websocket_urlpatterns  # noqa: E402 - needs the app registry

application = ProtocolTypeRouter(
    {"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)}
)
from storage_app.transfer import transfer_wrap  # noqa: E402 - needs the app registry

application = transfer_wrap(application)
application = __import__("proxy_app.apps_proxy.asgi").apps_proxy.asgi.apps_proxy_wrap(application)
