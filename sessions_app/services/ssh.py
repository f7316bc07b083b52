"""The owner's SSH keypair in a new kernel's home (docs/compat/ssh.md): the public key in
`.ssh/authorized_keys` for the image's sshd, the private key as `id_container`, the file
`backend.ai session ssh/scp` download before they connect. Added to the kernel's dotfiles when
its create command is built, so the private key never rests in the session's stored environment;
a user dotfile of the same path wins (it is the user's choice)."""

from __future__ import annotations

from collections.abc import Mapping

from agents_app.runtime.models import (
    DOTFILES_ENVIRON_KEY,
    KernelDotfile,
    dotfiles_environ_value,
    dotfiles_from_environ_value,
)
from backendai_site.accounts.models import KeyPair
from backendai_site.accounts.ssh_services import ssh_keypair_ensure

AUTHORIZED_KEYS_PATH = ".ssh/authorized_keys"
PRIVATE_KEY_PATH = "id_container"  # the name cli/session/ssh.py of the client downloads
KEY_FILE_MODE = 0o600


def kernel_ssh_dotfiles(*, owner: KeyPair) -> list[KernelDotfile]:
    pair = ssh_keypair_ensure(keypair=owner)
    return [
        KernelDotfile(
            path=AUTHORIZED_KEYS_PATH, data=pair.public_key.strip() + "\n", mode=KEY_FILE_MODE
        ),
        KernelDotfile(path=PRIVATE_KEY_PATH, data=pair.private_key, mode=KEY_FILE_MODE),
    ]


def environ_with_ssh_keypair(*, environ: Mapping[str, str], owner: KeyPair) -> dict[str, str]:
    """`environ` (a kernel's, dotfiles carried under `DOTFILES_ENVIRON_KEY`) with the owner's
    SSH files added to its dotfiles."""
    result = dict(environ)
    carried = result.get(DOTFILES_ENVIRON_KEY)
    dotfiles = dotfiles_from_environ_value(carried) if carried else []
    taken = {dotfile.path for dotfile in dotfiles}
    dotfiles += [d for d in kernel_ssh_dotfiles(owner=owner) if d.path not in taken]
    result[DOTFILES_ENVIRON_KEY] = dotfiles_environ_value(dotfiles)
    return result
