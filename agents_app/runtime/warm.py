"""Binding a pooled kernel (created and started ahead of any session) to the session that
claimed it: no Docker create or start, only what differs between sessions
(docs/design/0007-warm-pools.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agents_app.kernel_runner.client import runner_bind

from .dotfiles import dotfiles_write
from .errors import KernelCreationFailed, RunnerAuthFailed
from .models import DOTFILES_ENVIRON_KEY, KernelInfo, dotfiles_from_environ_value

if TYPE_CHECKING:
    from .docker_runtime import DockerRuntime

log = logging.getLogger(__name__)


def pooled_kernel_bind(
    runtime: DockerRuntime, kernel_id: str, *, session_id: str, environ: dict[str, str]
) -> KernelInfo:
    """Write the session's dotfiles into the kernel's home, give its runner the session's
    environment; the kernel's info with the session id it now serves."""
    environ = dict(environ)
    with runtime._kernel_lock(kernel_id):
        container = runtime._get(kernel_id)
        info = runtime._info(container)
        if not info.running or info.runner_port is None:
            raise KernelCreationFailed(f"pooled kernel {kernel_id} is not running")
        carried = environ.pop(DOTFILES_ENVIRON_KEY, None)
        if carried:
            dotfiles_write(
                runtime.scratch_dir(kernel_id),
                dotfiles_from_environ_value(carried),
                uid=runtime.config.kernel_uid,
                gid=runtime.config.kernel_gid,
            )
        try:
            runner_bind(
                runtime._connect_host,
                info.runner_port,
                runtime._secret_of(container),
                environ=environ,
                timeout=runtime.config.ready_timeout,
            )
        except (OSError, ValueError, RunnerAuthFailed) as exc:
            raise KernelCreationFailed(f"runner of pooled kernel {kernel_id}: {exc}") from exc
    log.info(
        "pooled kernel bound",
        extra={"agent_id": runtime.config.agent_id, "kernel_id": kernel_id, "session": session_id},
    )
    return info.model_copy(update={"session_id": session_id})
