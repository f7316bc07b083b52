"""Errors of session templates and dotfiles, each with its own stable type."""

from __future__ import annotations

from backendai_site.common.errors import Conflict, InvalidAPIParameters, NotFound, PermissionDenied


class TaskTemplateNotFound(NotFound):
    error_type = "task-template-not-found"
    title = "No such task template."


class InvalidTaskTemplate(InvalidAPIParameters):
    error_type = "invalid-task-template"
    title = "The task template is malformed."


class DotfileNotFound(NotFound):
    error_type = "dotfile-not-found"
    title = "No such dotfile."


class DotfileAlreadyExists(Conflict):
    error_type = "dotfile-already-exists"
    title = "A dotfile with this path already exists."


class DotfileInvalid(InvalidAPIParameters):
    error_type = "dotfile-invalid"
    title = "The dotfile's path, permission or content is not allowed."


class DotfileLimitExceeded(InvalidAPIParameters):
    error_type = "dotfile-limit-exceeded"
    title = "The dotfiles of this scope would exceed the size limit."


class ScopeNotFound(NotFound):
    error_type = "dotfile-scope-not-found"
    title = "No such project or domain (or you may not see it)."


class ScopeActionNotPermitted(PermissionDenied):
    error_type = "scope-action-not-permitted"
    title = "You may not change the templates or dotfiles of this scope."


class OwnerNotPermitted(PermissionDenied):
    error_type = "insufficient-privilege"  # the same type as sessions' owner_access_key refusal
    title = "Only admins may act on behalf of another keypair."
