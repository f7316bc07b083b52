"""Docker networks of kernels (the Docker SDK; used by `DockerRuntime` only).

Single-kernel sessions share one bridge on which Docker drops traffic between containers
(`enable_icc=false`); the kernels of a single-node cluster session share a private bridge of
their own, removed with its last kernel. Docker isolates different bridges from each other.
Docker accepts two networks with one name (and ignores `check_duplicate` from API 1.44 on),
so creates are serialised across every agent process of the host by a file lock, and a duplicate
left by an older race is removed when no container uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator

import docker
from docker.errors import APIError, NotFound

from .errors import KernelCreationFailed, RuntimeBackendError
from .models import LABEL_AGENT_ID, LABEL_SESSION_ID

ICC_OPTION = "com.docker.network.bridge.enable_icc"
LABEL_NETWORK_ROLE = "ai.backend.network-role"
KERNEL_NETWORK_ROLE = "kernels"
_NETWORK_LOCK = threading.Lock()
_HOST_LOCK_PATH = os.path.join(tempfile.gettempdir(), "bai-docker-networks.lock")


@contextlib.contextmanager
def _networks_locked() -> Iterator[None]:
    """This process's threads and every other agent process on the host, one at a time."""
    with _NETWORK_LOCK:
        fd = os.open(_HOST_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _named(client: docker.DockerClient, name: str) -> list[docker.models.networks.Network]:
    """The networks named exactly `name` (the `names` filter matches substrings), oldest first;
    duplicates no container uses are removed."""
    found = [n for n in client.networks.list(names=[name]) if n.name == name]
    found.sort(key=lambda n: str((n.attrs or {}).get("Created", "")))
    for extra in found[1:]:
        with contextlib.suppress(NotFound, APIError):
            extra.reload()
            if not extra.attrs.get("Containers"):
                extra.remove()
                found.remove(extra)
    if len(found) > 1:
        raise RuntimeBackendError(
            f"{len(found)} networks are named {name} and containers use each; Docker cannot "
            "tell them apart: stop those containers or remove the extra networks"
        )
    return found


def kernel_network_ensure(client: docker.DockerClient, name: str) -> None:
    """Create the shared bridge of single-kernel sessions when missing. A network of that name
    without inter-container traffic off is refused rather than used. It carries no agent label,
    so `session_networks_remove_idle` never removes it."""
    with _networks_locked():
        found = _named(client, name)
        if not found:
            try:
                client.networks.create(
                    name,
                    driver="bridge",
                    check_duplicate=True,
                    options={ICC_OPTION: "false"},
                    labels={LABEL_NETWORK_ROLE: KERNEL_NETWORK_ROLE},
                )
            except APIError as exc:
                if exc.status_code != 409:  # another agent on this host created it first
                    raise RuntimeBackendError(f"cannot create network {name}: {exc}") from exc
            found = _named(client, name)
    for network in found:
        options = (network.attrs or {}).get("Options") or {}
        if str(options.get(ICC_OPTION, "true")).lower() != "false":
            raise RuntimeBackendError(
                f"network {name} lets containers talk to each other ({ICC_OPTION} is not "
                "false); remove it or name another with kernel_network"
            )


def session_network_ensure(
    client: docker.DockerClient, name: str, *, session_id: str, agent_id: str
) -> None:
    """The private bridge network of a cluster session (created once, shared by its kernels)."""
    with _networks_locked():
        try:
            if _named(client, name):
                return
        except RuntimeBackendError as exc:
            raise KernelCreationFailed(str(exc)) from exc
        try:
            client.networks.create(
                name,
                driver="bridge",
                check_duplicate=True,
                labels={LABEL_SESSION_ID: session_id, LABEL_AGENT_ID: agent_id},
            )
        except APIError as exc:
            if exc.status_code != 409:  # another process created it first
                raise KernelCreationFailed(f"cannot create network {name}: {exc}") from exc


def session_networks_remove_idle(
    client: docker.DockerClient, names: list[str], *, agent_id: str
) -> None:
    """Remove the session networks (this agent's, by label) that no container uses any more."""
    for name in names:
        with contextlib.suppress(NotFound, APIError):
            network = client.networks.get(name)
            if network.attrs.get("Labels", {}).get(LABEL_AGENT_ID) != agent_id:
                continue
            network.reload()
            if not network.attrs.get("Containers"):
                network.remove()
