"""Errors of the sessions app, each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import (
    BackendError,
    Conflict,
    ErrorKind,
    InvalidAPIParameters,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
)


class SessionNotFound(NotFound):
    error_type = "session-not-found"
    title = "No such session."


class TooManySessionsMatched(InvalidAPIParameters):
    error_type = "too-many-sessions-matched"
    title = "Too many sessions matched."


class SessionAlreadyExists(Conflict):
    error_type = "session-already-exists"
    title = "The session already exists but you requested not to reuse existing one."


class ImageNotFound(NotFound):
    error_type = "image-not-found"
    title = "Unknown image."


class ResourceGroupNotAllowed(InvalidAPIParameters):
    error_type = "resource-group-not-allowed"
    title = "The resource group is unknown or not allowed for you."


class SessionTypeNotAllowed(InvalidAPIParameters):
    error_type = "session-type-not-allowed"
    title = "The resource group does not allow this session type."


class InsufficientResourceRequest(InvalidAPIParameters):
    error_type = "resource-request-below-minimum"
    title = "The requested resources are below the image's minimum."


class UnknownResourceSlot(InvalidAPIParameters):
    error_type = "unknown-resource-slot"
    title = "The request names a resource slot no agent provides."


class ResourceLimitExceeded(InvalidAPIParameters):
    error_type = "resource-limit-exceeded"
    title = "The request exceeds the resource policy."


class ExceedsAgentCapacity(InvalidAPIParameters):
    error_type = "exceeds-agent-capacity"
    title = "The request is larger than any agent of the resource group."


class TooManyPendingSessions(BackendError):
    kind = ErrorKind.RATE_LIMITED
    error_type = "too-many-pending-sessions"
    title = "You have too many pending sessions."


class TooManyContainers(InvalidAPIParameters):
    error_type = "too-many-containers"
    title = "The cluster size exceeds the containers allowed per session."


class InvalidPriority(InvalidAPIParameters):
    error_type = "invalid-priority"
    title = "The priority is out of bounds."


class ProjectNotFound(InvalidAPIParameters):
    error_type = "project-not-found"
    title = "Unknown project (group) or you are not a member."


class DomainMismatch(InvalidAPIParameters):
    error_type = "domain-mismatch"
    title = "The domain does not match the session owner's."


class SessionActionNotPermitted(PermissionDenied):
    error_type = "session-action-not-permitted"
    title = "You may see this session but not do that to it (monitors only watch)."


class OwnerNotPermitted(PermissionDenied):
    error_type = "insufficient-privilege"
    title = "Only admins may act on behalf of another keypair."


class DependencyNotFound(NotFound):
    error_type = "dependency-not-found"
    title = "A session this one depends on does not exist."


class InvalidSessionState(Conflict):
    error_type = "invalid-session-state"
    title = "The session is not in a state that allows this."


class SessionNotRunning(Conflict):
    error_type = "session-not-running"
    title = "The session is not running (or its kernel runner is not ready yet)."


class KernelRunnerUnavailable(ServiceUnavailable):
    error_type = "kernel-runner-unavailable"
    title = "The session's kernel runner cannot be reached."


class RunnerRejected(InvalidAPIParameters):
    error_type = "kernel-runner-rejected"
    title = "The kernel runner rejected the request."


class AppNotFound(NotFound):
    error_type = "app-not-found"
    title = "The session has no such service app."


class FilePathNotAllowed(InvalidAPIParameters):
    error_type = "file-path-not-allowed"
    title = "The path is outside the session's work directory (/home/work)."


class UploadTooLarge(InvalidAPIParameters):
    error_type = "upload-too-large"
    title = "The upload is larger than the server allows."


class IllegalStatusTransition(Conflict):
    error_type = "illegal-status-transition"
    title = "The requested status change is not allowed."


class CallbackURLNotAllowed(InvalidAPIParameters):
    error_type = "callback-url-not-allowed"
    title = "The callback URL is not allowed."


class AgentDesignationNotAllowed(PermissionDenied):
    error_type = "agent-designation-not-allowed"
    title = "Only superadmins may choose the agents of a session."


class TaskNotFound(NotFound):
    error_type = "task-not-found"
    title = "No such task of yours."


class InvalidImageName(InvalidAPIParameters):
    error_type = "invalid-image-name"
    title = "The new image's name is not a valid image name."


class CommittedImageExists(Conflict):
    error_type = "image-already-exists"
    title = "An image of that name and tag already exists."
