"""The owner's SSH keypair reaches a new kernel as dotfiles (authorized_keys and the
`id_container` the client's `session ssh` downloads), never through the stored environment."""

from __future__ import annotations

import pytest

from agents_app.runtime.models import (
    DOTFILES_ENVIRON_KEY,
    KernelDotfile,
    KernelSpec,
    dotfiles_environ_value,
)
from backendai_site.accounts.ssh_services import ssh_keypair_ensure, ssh_keypair_regenerate
from sessions_app.models import Session
from sessions_app.services.lifecycle import _create_command
from sessions_app.services.ssh import environ_with_ssh_keypair
from tests.factories.world import ComputeWorld
from tests.helpers.sessions import enqueue

pytestmark = pytest.mark.django_db


def kernel_dotfiles(session: Session) -> dict[str, KernelDotfile]:
    command = _create_command(session, session.kernels.get())
    spec = KernelSpec(
        kernel_id=command.kernel_id,
        session_id=command.session_id,
        owner_access_key=command.owner_access_key,
        agent_id="a",
        image=command.image,
        memory_bytes=64 * 1024 * 1024,
        environ=command.environ,
        runner_secret="x" * 16,
    )
    assert DOTFILES_ENVIRON_KEY not in spec.environ
    return {dotfile.path: dotfile for dotfile in spec.dotfiles}


class TestSSHDelivery:
    def test_the_create_command_carries_the_owners_keypair(self, world: ComputeWorld) -> None:
        session = enqueue(world.user, "ssh-delivery")

        files = kernel_dotfiles(session)

        pair = ssh_keypair_ensure(keypair=world.user.keypair)
        assert files[".ssh/authorized_keys"].data == pair.public_key + "\n"
        assert files["id_container"].data == pair.private_key
        assert files[".ssh/authorized_keys"].mode == files["id_container"].mode == 0o600
        # the stored session environment never holds the private key
        session.refresh_from_db()
        assert "PRIVATE KEY" not in str(session.environ)

    def test_a_replaced_keypair_reaches_the_next_kernel(self, world: ComputeWorld) -> None:
        session = enqueue(world.user, "ssh-delivery2")
        old = kernel_dotfiles(session)[".ssh/authorized_keys"].data

        new = ssh_keypair_regenerate(keypair=world.user.keypair)
        session.access_key.refresh_from_db()

        assert kernel_dotfiles(session)[".ssh/authorized_keys"].data == new.public_key + "\n"
        assert old != new.public_key + "\n"

    def test_a_user_dotfile_of_the_same_path_wins(self, world: ComputeWorld) -> None:
        own = KernelDotfile(path=".ssh/authorized_keys", data="ssh-ed25519 AAAA mine\n", mode=0o600)
        environ = {DOTFILES_ENVIRON_KEY: dotfiles_environ_value([own]), "A": "1"}

        result = environ_with_ssh_keypair(environ=environ, owner=world.user.keypair)

        spec_files = KernelSpec(
            kernel_id="k", session_id="s", owner_access_key="o", agent_id="a", image="i",
            memory_bytes=64 * 1024 * 1024, environ=result, runner_secret="x" * 16,
        ).dotfiles  # fmt: skip
        assert [d.path for d in spec_files] == [".ssh/authorized_keys", "id_container"]
        assert spec_files[0] == own
        assert result["A"] == "1"
