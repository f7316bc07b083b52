"""The dotfiles a new session's kernels receive (templates_app owns them; the runtime writes
them): chosen when the session is created, user over project over domain, and carried to the
agent in the session's environment under `DOTFILES_ENVIRON_KEY`, which the runtime takes out
before the container starts. A dotfile inside a folder mount is skipped: the
folder would hide it (and writing into a shared folder is not the dotfile's business)."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from agents_app.runtime.models import DOTFILES_ENVIRON_KEY, KernelDotfile, dotfiles_environ_value
from backendai_site.accounts.models import KeyPair, Project
from templates_app.selectors import dotfiles_for_session

log = logging.getLogger(__name__)

CONTAINER_HOME = "/home/work"


def session_environ_with_dotfiles(
    *,
    environ: Mapping[str, str],
    owner: KeyPair,
    project: Project,
    mounts: Sequence[Mapping[str, Any]],
) -> dict[str, str]:
    """`environ` with the owner's dotfiles in it (and never a caller's own value of the key)."""
    result = {name: value for name, value in environ.items() if name != DOTFILES_ENVIRON_KEY}
    targets = [str(m.get("container_path", "")) for m in mounts]
    chosen = []
    for dotfile in dotfiles_for_session(
        user_id=owner.user_id, project_id=project.pk, domain_id=owner.user.domain_id
    ):
        target = posixpath.join(CONTAINER_HOME, dotfile.path)
        if any(t and (target == t or target.startswith(t + "/")) for t in targets):
            log.info("dotfile under a folder mount skipped", extra={"path": dotfile.path})
            continue
        chosen.append(KernelDotfile(path=dotfile.path, data=dotfile.data, mode=dotfile.permission))
    if chosen:
        result[DOTFILES_ENVIRON_KEY] = dotfiles_environ_value(chosen)
    return result


def environ_for_display(environ: Mapping[str, str]) -> dict[str, str]:
    """A session's environment as its API shows it: without the carried dotfiles."""
    return {name: value for name, value in environ.items() if name != DOTFILES_ENVIRON_KEY}
