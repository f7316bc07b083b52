"""Errors of the agents app (manager side), each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import InvalidAPIParameters, ServiceUnavailable


class AgentNotResponding(ServiceUnavailable):
    error_type = "agent-not-responding"
    title = "The agent did not answer in time."


class InvalidImageLabels(InvalidAPIParameters):
    title = "Invalid image labels."


class RegistryError(ServiceUnavailable):
    error_type = "registry-error"
    title = "The container registry did not answer as expected."
