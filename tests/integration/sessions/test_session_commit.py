"""The official CLI saves a running session as an image on the real stack (web, manager, agent,
Docker): `session convert-to-image` follows the background task to its end, `session commit`
returns at once; both images reach `image list` and start new sessions that see the files the
first session wrote. Every image made here is removed in `finally`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agents_app.models import Image
from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionStatus
from sessions_app.models import Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.stack import Stack
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]


def ok(result: subprocess.CompletedProcess[str], stack: Stack) -> str:
    text = result.stdout + result.stderr
    assert result.returncode == 0, f"{text}\n{stack.logs()}"
    return text


def committed_refs() -> list[str]:
    return [
        f"{name}:{tag}"
        for name, tag in Image.objects.filter(name__startswith="commit/").values_list("name", "tag")
    ]


def docker_inspect_labels(ref: str) -> dict[str, str]:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


TEST_REPOSITORIES = ("commit/e2e-saved", "commit/e2e-src", "commit/e2e-bad")


@pytest.fixture
def images_removed() -> Iterator[None]:
    """Remove every image these tests commit. Requested before `platform_stack`, so it runs
    after the stack's teardown removed the kernels (an image a container uses stays)."""
    try:
        yield
    finally:
        for repository in TEST_REPOSITORIES:
            listed = subprocess.run(
                ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            for ref in listed.stdout.split():
                subprocess.run(["docker", "rmi", ref], capture_output=True, timeout=120)


@pytest.fixture
def owner(platform_stack: Stack) -> Credentials:
    return make_member(default_tenancy_ensure().project, "e2e-commit@example.com")


def test_commit_and_convert_to_image_make_images_new_sessions_start_from(
    images_removed: None, platform_stack: Stack, owner: Credentials, cli: Cli, tmp_path: Path
) -> None:
    stack = platform_stack
    ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-src"), stack)
    (tmp_path / "kept.txt").write_text("written-before-commit\n")
    ok(cli(stack, owner, "session", "upload", "e2e-src", "kept.txt"), stack)

    converted = ok(
        cli(stack, owner, "session", "convert-to-image", "e2e-src", "e2e-saved:v1"), stack
    )
    assert "Session export process completed" in converted, converted
    assert "Error" not in converted, converted
    assert "commit/e2e-saved:v1" in committed_refs()  # catalogued before the task ended
    labels = docker_inspect_labels("commit/e2e-saved:v1")
    assert labels["ai.backend.kernelspec"] == "1"
    assert labels["ai.backend.service-ports"].startswith("terminal:pty:7681")
    assert labels["ai.backend.commit.source-session"] == str(Session.objects.get(name="e2e-src").pk)

    ok(cli(stack, owner, "session", "commit", "e2e-src"), stack)
    wait_for(
        lambda: any(ref.startswith("commit/e2e-src:") for ref in committed_refs()),
        120,
        "the committed image in the catalog",
    )
    listed = ok(cli(stack, owner, "image", "list"), stack)
    assert "commit/e2e-saved" in listed and "commit/e2e-src" in listed, listed

    ok(cli(stack, owner, "session", "destroy", "e2e-src"), stack)
    wait_for(
        lambda: (
            not Session.objects.filter(name="e2e-src", status__in=SessionStatus.live()).exists()
        ),
        90,
        "the source session to end",
    )
    commit_ref = next(ref for ref in committed_refs() if ref.startswith("commit/e2e-src:"))
    for index, ref in enumerate(["commit/e2e-saved:v1", commit_ref]):
        name = f"e2e-new{index}"
        ok(cli(stack, owner, "session", "create", ref, "-t", name), stack)
        assert Session.objects.get(name=name).status == SessionStatus.RUNNING
        dest = tmp_path / f"down{index}"
        dest.mkdir()
        ok(
            cli(stack, owner, "session", "download", name, "kept.txt", "--dest", str(dest)),
            stack,
        )
        assert (dest / "kept.txt").read_text() == "written-before-commit\n"
        ok(cli(stack, owner, "session", "destroy", name), stack)


def test_a_bad_image_name_is_refused_by_the_cli(
    images_removed: None, platform_stack: Stack, owner: Credentials, cli: Cli
) -> None:
    stack = platform_stack
    ok(cli(stack, owner, "session", "create", "python", "-t", "e2e-bad"), stack)

    refused = cli(stack, owner, "session", "convert-to-image", "e2e-bad", "Not/A:Valid:Name")

    assert refused.returncode != 0
    assert "not a valid image name" in refused.stdout + refused.stderr
    assert committed_refs() == []
