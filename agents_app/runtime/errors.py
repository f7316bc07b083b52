"""Errors raised by the container runtime. They carry a stable `code` and know nothing of HTTP."""

from __future__ import annotations


class RuntimeBackendError(Exception):
    code = "runtime-error"


class KernelNotFound(RuntimeBackendError, LookupError):
    code = "kernel-not-found"


class ImageNotFound(RuntimeBackendError, LookupError):
    code = "image-not-found"


class PoolExhausted(RuntimeBackendError):
    """No free port or CPU left in a pool (or a requested CPU is taken)."""

    code = "pool-exhausted"


class KernelCreationFailed(RuntimeBackendError):
    code = "kernel-creation-failed"


class CommitFailed(RuntimeBackendError):
    """A kernel could not be saved as an image (`commit_kernel`)."""

    code = "commit-failed"


class KernelBootstrapFailed(KernelCreationFailed):
    """The kernel's bootstrap script exited with an error (the message has the log tail)."""

    code = "bootstrap-failed"


class RunnerUnavailable(RuntimeBackendError):
    """The kernel runner did not answer (yet)."""

    code = "runner-unavailable"


class RunnerExited(RunnerUnavailable):
    """The runner's process (its container) ended while we waited for it to be ready."""

    code = "runner-exited"


class RunnerAuthFailed(RuntimeBackendError):
    code = "runner-auth-failed"


class RunnerRequestError(RuntimeBackendError):
    """The runner answered a request with an error message."""

    code = "runner-request-error"

    def __init__(self, runner_code: str, message: str) -> None:
        super().__init__(f"{runner_code}: {message}")
        self.runner_code = runner_code
        self.message = message


class FileAccessError(RuntimeBackendError):
    """A file path escapes the kernel's scratch dir or cannot be read/written."""

    code = "file-access-error"
