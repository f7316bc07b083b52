"""The official CLI drives sessions end to end: create, logs, history, rename, restart, events,
destroy, enqueue-only creates that the scheduler places, and batch results."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backendai_site.accounts.services import default_tenancy_ensure
from sessions_app.enums import SessionResult, SessionStatus
from sessions_app.models import Kernel, Session
from tests.factories.world import make_member
from tests.helpers.credentials import Credentials
from tests.helpers.sessions import status_of
from tests.helpers.stack import Stack, client_env
from tests.helpers.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.client]

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def owner(platform_stack: Stack) -> Credentials:
    defaults = default_tenancy_ensure()
    return make_member(defaults.project, "e2e-user@example.com")


def assert_ok(result: subprocess.CompletedProcess[str], stack: Stack) -> None:
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"


class TestInteractiveSessionLifecycle:
    def test_create_use_and_destroy(
        self, platform_stack: Stack, owner: Credentials, cli: Cli, official_client: Path,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        stack = platform_stack

        created = cli(stack, owner, "session", "create", "python", "-t", "e2e-one")
        assert_ok(created, stack)
        session = Session.objects.get(name="e2e-one")
        kernel = Kernel.objects.get(session=session)
        assert "created and ready" in created.stdout + created.stderr
        assert session.status == SessionStatus.RUNNING
        assert kernel.container_id and kernel.runner_port

        logs = cli(stack, owner, "session", "logs", "e2e-one")
        history = cli(stack, owner, "session", "status-history", "e2e-one")
        renamed = cli(stack, owner, "session", "rename", "e2e-one", "e2e-renamed")
        assert_ok(logs, stack)
        assert_ok(history, stack)
        history_text = (history.stdout + history.stderr).lower()
        assert "running" in history_text and "pending" in history_text
        assert_ok(renamed, stack)
        assert Session.objects.get(pk=session.pk).name == "e2e-renamed"

        restarted = cli(stack, owner, "session", "restart", "e2e-renamed")
        assert_ok(restarted, stack)
        wait_for(lambda: status_of("e2e-renamed") == SessionStatus.RUNNING, 90, "restart")

        events = subprocess.Popen(
            [str(official_client), "session", "events", "e2e-renamed"],
            cwd=tmp_path,
            env=client_env(official_client, stack, owner, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            destroyed = cli(stack, owner, "session", "rm", "e2e-renamed")
            assert_ok(destroyed, stack)
            out, err = events.communicate(timeout=90)
        finally:  # a failed wait must not leave the client streaming events after the test
            if events.poll() is None:
                events.kill()
                events.wait(timeout=10)
        assert "session_terminated" in out, f"{out}\n{err}"
        wait_for(lambda: status_of("e2e-renamed") == SessionStatus.TERMINATED, 60, "terminated")
        containers = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=ai.backend.kernel-id={kernel.pk}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert containers.stdout.strip() == ""

    def test_enqueue_only_is_placed_by_the_scheduler(
        self, platform_stack: Stack, owner: Credentials, cli: Cli
    ) -> None:
        stack = platform_stack

        queued = cli(stack, owner, "session", "create", "python", "-t", "e2e-queued",
                     "--enqueue-only")  # fmt: skip

        assert_ok(queued, stack)
        queued_text = (queued.stdout + queued.stderr).lower()
        assert "enqueued" in queued_text or "pending" in queued_text
        wait_for(lambda: status_of("e2e-queued") == SessionStatus.RUNNING, 90, "the scheduler")
        assert_ok(cli(stack, owner, "session", "rm", "e2e-queued"), stack)

    def test_unplaceable_request_says_why(
        self, platform_stack: Stack, owner: Credentials, cli: Cli
    ) -> None:
        result = cli(platform_stack, owner, "session", "create", "python", "-t", "e2e-huge",
                     "-r", "cpu=64")  # fmt: skip

        output = result.stdout + result.stderr
        assert "larger than any agent" in output or "exceeds-agent-capacity" in output
        assert not Session.objects.filter(name="e2e-huge").exists()


class TestBatchSession:
    @pytest.mark.parametrize(
        ("exit_code", "cli_exit", "result"), [(0, 0, "SUCCESS"), (3, 1, "FAILURE")]
    )
    def test_batch_result_reaches_events_wait(
        self, platform_stack: Stack, owner: Credentials, cli: Cli,
        exit_code: int, cli_exit: int, result: Any,
    ) -> None:  # fmt: skip
        stack = platform_stack
        name = f"e2e-batch-{exit_code}"
        command = f"python3 -c 'import sys; print(\"batch says hi\"); sys.exit({exit_code})'"

        created = cli(stack, owner, "session", "create", "python", "-t", name, "--type", "batch",
                      "-c", command, "--enqueue-only")  # fmt: skip
        assert_ok(created, stack)
        waited = cli(stack, owner, "session", "events", name, "--wait", "batch_session_result")

        assert waited.returncode == cli_exit, f"{waited.stdout}\n{waited.stderr}\n{stack.logs()}"
        wait_for(lambda: status_of(name) == SessionStatus.TERMINATED, 60, "batch termination")
        session = Session.objects.get(name=name)
        assert session.result == SessionResult(result)
        assert "batch says hi" in Kernel.objects.get(session=session).logs


class TestClusterSession:
    def test_single_node_cluster_kernels_share_a_network(
        self, platform_stack: Stack, owner: Credentials, cli: Cli
    ) -> None:
        policy = owner.keypair.resource_policy
        policy.max_containers_per_session = 2
        policy.save(update_fields=["max_containers_per_session"])

        created = cli(platform_stack, owner, "session", "create", "python", "-t", "e2e-cluster",
                      "--cluster-size", "2", "-r", "cpu=1", "-r", "mem=256m")  # fmt: skip

        assert_ok(created, platform_stack)
        session = Session.objects.get(name="e2e-cluster")
        kernels = {k.cluster_hostname: k for k in Kernel.objects.filter(session=session)}
        assert set(kernels) == {"main1", "sub1"}
        assert session.status == SessionStatus.RUNNING, str(session.status_data)[-600:]
        assert len({k.agent_id for k in kernels.values()}) == 1
        lookup = subprocess.run(
            ["docker", "exec", kernels["main1"].container_id, "python3", "-c",
             "import socket; print(socket.gethostbyname('sub1'))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert lookup.returncode == 0, lookup.stderr
        assert_ok(cli(platform_stack, owner, "session", "rm", "e2e-cluster"), platform_stack)
