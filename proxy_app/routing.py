"""Websocket routes of the session streams (mounted by backendai_site.asgi)."""

from __future__ import annotations

from django.urls import path

from .consumers.execute import ExecuteConsumer
from .consumers.pty import PtyConsumer
from .consumers.tcpproxy import TcpProxyConsumer

websocket_urlpatterns = [
    path("stream/session/<str:ref>/execute", ExecuteConsumer.as_asgi()),
    path("stream/session/<str:ref>/pty", PtyConsumer.as_asgi()),
    path("stream/session/<str:ref>/tcpproxy", TcpProxyConsumer.as_asgi()),
]
