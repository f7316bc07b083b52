"""`commit_kernel` in the agent daemon (in-memory runtime, no Docker, no database): progress and
outcome events, idempotency, refusals. The committed image's config is pinned by
tests/agents_app/test_commit_config.py, the Docker side by
tests/integration/sessions/test_session_commit.py."""

from __future__ import annotations

from typing import Any

from agents_app.agent.daemon import AgentDaemon
from agents_app.runtime.errors import CommitFailed
from agents_app.schemas import KernelCommitted, KernelCommitUpdated
from tests.helpers.agent_daemon import InMemoryBackend, RecordingReplier, RecordingSender


def create_payload(kernel_id: str = "k1") -> dict[str, Any]:
    return {
        "kernel_id": kernel_id,
        "session_id": "s1",
        "image": "backendai/python:3.11-debian",
        "resources": {"cpu": "1", "mem": str(512 << 20)},
    }


def commit_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kernel_id": "k1",
        "session_id": "s1",
        "task_id": "t-1",
        "repository": "commit/mine",
        "tag": "v1",
        "labels": {"ai.backend.commit.source-session": "s1"},
    }
    payload.update(overrides)
    return payload


class TestCommitKernel:
    def test_commit_reports_progress_then_the_new_image(
        self, daemon: AgentDaemon, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload())

        daemon.handle("commit_kernel", commit_payload())

        updates: list[KernelCommitUpdated] = sender.of("kernel_commit_updated")
        assert [u.current_progress for u in updates] == [0, 1, 2, 3]
        assert {(u.task_id, u.total_progress, u.kernel_id) for u in updates} == {("t-1", 3, "k1")}
        (done,) = sender.of("kernel_committed")
        assert isinstance(done, KernelCommitted) and done.ok
        assert done.image is not None and done.image.ref == "commit/mine:v1"
        assert done.image.labels["ai.backend.commit.source-session"] == "s1"
        assert done.image.labels["ai.backend.commit.task-id"] == "t-1"
        # the new image is reported to the manager right away, not at the next heartbeat
        assert sender.names()[-1] == "agent_heartbeat"
        refs = [image.ref for image in sender.of("agent_heartbeat")[-1].images]
        assert "commit/mine:v1" in refs

    def test_redelivered_commit_reports_the_same_image_again(
        self, daemon: AgentDaemon, sender: RecordingSender, backend: InMemoryBackend
    ) -> None:
        daemon.handle("create_kernel", create_payload())
        daemon.handle("commit_kernel", commit_payload())

        daemon.handle("commit_kernel", commit_payload())

        first, second = sender.of("kernel_committed")
        assert first.ok and second.ok and first.image == second.image
        assert list(backend.images) == ["commit/mine:v1"]

    def test_a_kernel_not_on_this_agent_fails_the_commit(
        self, daemon: AgentDaemon, sender: RecordingSender, replier: RecordingReplier
    ) -> None:
        daemon.handle("commit_kernel", commit_payload(kernel_id="nope", reply_to="r1"))

        (failed,) = sender.of("kernel_committed")
        assert not failed.ok and "nope" in failed.error and failed.task_id == "t-1"
        assert sender.of("kernel_commit_updated") == []

    def test_a_runtime_failure_is_reported_with_its_message(
        self, daemon: AgentDaemon, sender: RecordingSender, backend: InMemoryBackend
    ) -> None:
        daemon.handle("create_kernel", create_payload())
        backend.fail_next = CommitFailed("docker commit failed: disk full")

        daemon.handle("commit_kernel", commit_payload())

        (failed,) = sender.of("kernel_committed")
        assert not failed.ok and failed.error == "docker commit failed: disk full"
        assert backend.images == {}

    def test_a_repository_with_a_registry_host_is_refused(
        self, daemon: AgentDaemon, sender: RecordingSender, backend: InMemoryBackend
    ) -> None:
        daemon.handle("create_kernel", create_payload())

        for bad in ("registry.example.com:5000/x", "Commit/UPPER", "single", "a/b c"):
            daemon.handle("commit_kernel", commit_payload(repository=bad))

        assert sender.of("kernel_committed") == [] and backend.images == {}
