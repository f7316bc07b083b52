"""SSH into live sessions with the official CLI (`session ssh`, `session scp`), which runs the
system's `ssh`/`scp` through `backend.ai app SESSION sshd`."""

from __future__ import annotations

import shutil

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack, require


@pytest.fixture
def ssh_tools() -> None:
    for tool in ("ssh", "scp"):
        require(shutil.which(tool) is not None, f"the OpenSSH client's {tool} is not installed")


@pytest.fixture
def owner(platform_stack: Stack, ssh_tools: None) -> Credentials:
    return make_member(default_tenancy_ensure().project, "ssh-owner@example.com")


@pytest.fixture
def stranger(platform_stack: Stack) -> Credentials:
    return make_member(default_tenancy_ensure().project, "ssh-stranger@example.com")
