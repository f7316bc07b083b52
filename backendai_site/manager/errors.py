"""Errors of the manager package, each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import Conflict, NotFound, PermissionDenied


class ServerFrozen(Conflict):
    """New sessions are refused while an admin holds the manager frozen (running ones go on)."""

    error_type = "server-frozen"
    title = "The manager is frozen for maintenance; new sessions are not accepted."


class SuperadminRequired(PermissionDenied):
    error_type = "superadmin-required"
    title = "Only a superadmin may do this."


class AgentsNotFound(NotFound):
    error_type = "agent-not-found"
    title = "No such agent."


class ErrorLogNotFound(NotFound):
    error_type = "error-log-not-found"
    title = "No such error log."
