"""Browser access to in-container HTTP apps (see docs/design/0004-app-proxy.md)."""
