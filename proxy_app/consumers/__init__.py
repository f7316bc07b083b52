"""Websocket consumers of the session streams (thin: authorisation here, work in services)."""
