"""The built-in `sshd` service: OpenSSH's sshd run as the kernel's own user.

The runner is not root, so sshd cannot switch users: it lets in only the user it runs as, with a
public key from `~/.ssh/authorized_keys` (the manager writes the owner's key there when the kernel
is created). Each container gets host keys of its own, made on first start in a private folder;
the image ships none, as they would be shared by every container of it. scp and sftp go through
sshd's internal sftp server (OpenSSH 9's scp speaks sftp by default).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile

from .protocol import RunnerError

SSHD_PATH = "/usr/sbin/sshd"  # sshd re-executes itself, so it must be started by absolute path
SSH_KEYGEN_PATH = "/usr/bin/ssh-keygen"
HOST_KEY_NAME = "ssh_host_ed25519_key"

_state_dir: str | None = None


def _config_text(*, port: int, state_dir: str, user: str) -> str:
    host_key = os.path.join(state_dir, HOST_KEY_NAME)
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 0.0.0.0",
            f"HostKey {host_key}",
            f"PidFile {os.path.join(state_dir, 'sshd.pid')}",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "PermitRootLogin no",
            f"AllowUsers {user}",
            "PrintMotd no",
            "X11Forwarding no",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def _prepare(port: int) -> str:
    """Make the state folder (once per runner), its host key and a config for `port`; returns
    the config's path."""
    global _state_dir
    if not (os.access(SSHD_PATH, os.X_OK) and os.access(SSH_KEYGEN_PATH, os.X_OK)):
        raise RunnerError("service-unavailable", "this image has no OpenSSH server")
    if _state_dir is None:
        _state_dir = tempfile.mkdtemp(prefix="bai-sshd-")  # mode 0700
    host_key = os.path.join(_state_dir, HOST_KEY_NAME)
    if not os.path.exists(host_key):
        result = subprocess.run(
            [SSH_KEYGEN_PATH, "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", host_key],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace").strip()
            raise RunnerError("service-unavailable", f"ssh-keygen failed: {output}")
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        raise RunnerError(
            "service-unavailable", f"uid {os.getuid()} has no account in this image"
        ) from None
    config = os.path.join(_state_dir, f"sshd_config.{port}")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(_config_text(port=port, state_dir=_state_dir, user=user))
    return config


def sshd_argv(port: int) -> list[str]:
    """The command that serves SSH on `port` in the foreground, logging to stderr (the
    container log)."""
    return [SSHD_PATH, "-D", "-e", "-f", _prepare(port)]
