"""Errors of the agents app (manager side), each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import InvalidAPIParameters, NotFound, ServiceUnavailable


class AgentNotResponding(ServiceUnavailable):
    error_type = "agent-not-responding"
    title = "The agent did not answer in time."


class InvalidImageLabels(InvalidAPIParameters):
    title = "Invalid image labels."


class RegistryError(ServiceUnavailable):
    error_type = "registry-error"
    title = "The container registry did not answer as expected."


class ProjectNotFound(InvalidAPIParameters):
    """The same slug as the sessions API's: an unknown project, or one the caller is not in."""

    error_type = "project-not-found"
    title = "Unknown project (group) or you are not a member."


class ResourceGroupNotFound(NotFound):
    error_type = "resource-group-not-found"
    title = "Unknown resource group, or not one you may use."
