"""The agent daemon's command handlers, recovery and heartbeats, run with database access
forbidden (no `django_db` mark: pytest-django raises on any query)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from agents_app.accelerators.mock import DEVICES_ENV, SHARES_ENV
from agents_app.agent.config import AgentConfig
from agents_app.agent.daemon import AgentDaemon
from agents_app.runtime.errors import KernelBootstrapFailed
from agents_app.schemas import KernelStarted, KernelTerminated
from tests.helpers.agent_daemon import InMemoryBackend, RecordingReplier, RecordingSender


def create_payload(kernel_id: str = "k1", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kernel_id": kernel_id,
        "session_id": "s1",
        "image": "backendai/python:3.11-debian",
        "resources": {"cpu": "1", "mem": str(512 << 20)},
    }
    payload.update(overrides)
    return payload


class TestCreateKernel:
    def test_create_reports_kernel_started_with_ports(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload())

        (started,) = sender.of("kernel_started")
        assert isinstance(started, KernelStarted)
        assert (started.kernel_id, started.host) == ("k1", "127.0.0.1")
        assert started.ports[0].host_port == 30001
        assert backend.launches[0].cpu_count == 1
        assert backend.launches[0].memory_bytes == 512 << 20

    def test_redelivered_create_makes_no_second_container(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload())

        daemon.handle("create_kernel", create_payload())

        assert len(backend.launches) == 1
        assert len(sender.of("kernel_started")) == 2

    def test_request_beyond_capacity_fails_with_a_reason(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload(resources={"cpu": "3", "mem": "1024"}))

        (failed,) = sender.of("kernel_creation_failed")
        assert failed.reason == "insufficient-resource"
        assert backend.launches == []

    def test_runtime_failure_releases_the_allocation(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        backend.fail_next = RuntimeError("image not found")
        daemon.handle("create_kernel", create_payload(resources={"cpu": "2", "mem": "1024"}))

        daemon.handle("create_kernel", create_payload("k2", resources={"cpu": "2", "mem": "1024"}))

        assert sender.of("kernel_creation_failed")[0].detail == "image not found"
        assert [p.kernel_id for p in sender.of("kernel_started")] == ["k2"]

    def test_bootstrap_script_and_startup_command_reach_the_runtime(
        self, daemon: AgentDaemon, backend: InMemoryBackend
    ) -> None:
        daemon.handle(
            "create_kernel",
            create_payload(bootstrap_script="pip install x\n", startup_command="python main.py"),
        )

        (spec,) = backend.launches
        assert spec.bootstrap_script == "pip install x\n"
        assert spec.startup_command == "python main.py"

    def test_a_failed_bootstrap_is_reported_with_its_code(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        backend.fail_next = KernelBootstrapFailed("the bootstrap script failed; log tail: oops")

        daemon.handle("create_kernel", create_payload(bootstrap_script="exit 1"))

        (failed,) = sender.of("kernel_creation_failed")
        assert failed.reason == "bootstrap-failed"
        assert "oops" in failed.detail

    def test_mock_accelerator_devices_are_named_in_the_environment(
        self, daemon: AgentDaemon, backend: InMemoryBackend
    ) -> None:
        daemon.handle(
            "create_kernel",
            create_payload(resources={"cpu": "1", "mem": "1024", "cuda.shares": "1.5"}),
        )

        environ = backend.launches[0].environ
        assert environ[DEVICES_ENV] == "0,1"
        assert environ[SHARES_ENV] == "0:1,1:0.5"

    def test_invalid_payload_is_rejected_without_side_effects(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", {"kernel_id": "k1", "reply_to": "r1"})

        assert backend.launches == []
        assert sender.sent == []


class TestDestroyKernel:
    def test_destroy_reports_the_exit_code_and_frees_resources(
        self, daemon: AgentDaemon, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload(resources={"cpu": "2", "mem": "1024"}))

        daemon.handle("destroy_kernel", {"kernel_id": "k1", "reason": "user-requested"})
        daemon.handle("create_kernel", create_payload("k2", resources={"cpu": "2", "mem": "1"}))

        (terminated,) = sender.of("kernel_terminated")
        assert isinstance(terminated, KernelTerminated)
        assert (terminated.exit_code, terminated.reason) == (0, "user-requested")
        assert [p.kernel_id for p in sender.of("kernel_started")] == ["k1", "k2"]

    def test_redelivered_destroy_reports_again_without_error(
        self, daemon: AgentDaemon, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload())
        daemon.handle("destroy_kernel", {"kernel_id": "k1"})

        daemon.handle("destroy_kernel", {"kernel_id": "k1"})

        assert [t.exit_code for t in sender.of("kernel_terminated")] == [0, None]


class TestKernelsEndingByThemselves:
    def test_oom_killed_kernel_is_reported_and_cleaned(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload())
        backend.kill("k1", exit_code=137, oom=True)

        ended = daemon.check_kernels()

        (terminated,) = sender.of("kernel_terminated")
        assert ended == ["k1"]
        assert (terminated.exit_code, terminated.oom_killed) == (137, True)
        assert terminated.reason == "oom-killed"
        assert "k1" not in backend.containers

    def test_capacity_is_free_before_the_end_is_reported(
        self, agent_config: AgentConfig, backend: InMemoryBackend
    ) -> None:
        """The manager releases capacity on `kernel_terminated` and may place a new kernel at
        once: by then the container must be gone and its CPUs free on the agent."""
        sender = SenderProbingOnEnd(backend)
        daemon = AgentDaemon(config=agent_config, runtime=backend, sender=sender, replier=None)
        sender.daemon = daemon
        daemon.handle("create_kernel", create_payload(resources={"cpu": "2", "mem": "1024"}))
        backend.kill("k1", exit_code=0)

        daemon.check_kernels()

        assert sender.seen_at_report == [(False, False, ["kernel_started"])]


class SenderProbingOnEnd(RecordingSender):
    """On `kernel_terminated`, looks whether the kernel is still there and whether a kernel
    needing all the CPUs can start (through a second daemon sharing the allocations)."""

    def __init__(self, backend: InMemoryBackend) -> None:
        super().__init__()
        self.backend = backend
        self.daemon: AgentDaemon | None = None
        self.seen_at_report: list[tuple[bool, bool, list[str]]] = []

    def send(self, event: str, payload: Any) -> None:
        if event == "kernel_terminated" and self.daemon is not None:
            probe = RecordingSender()
            probing = AgentDaemon(
                config=self.daemon.config, runtime=self.backend, sender=probe, replier=None
            )
            probing.plugins = self.daemon.plugins
            probing.handle(
                "create_kernel", create_payload("k2", resources={"cpu": "2", "mem": "1024"})
            )
            self.seen_at_report.append(
                ("k1" in self.backend.containers, "k1" in self.daemon.kernels, probe.names())
            )
        super().send(event, payload)


class TestRecovery:
    def test_restart_adopts_running_kernels_and_reports_dead_ones(
        self, agent_config: Any, backend: InMemoryBackend, daemon: AgentDaemon
    ) -> None:
        daemon.handle("create_kernel", create_payload("alive", resources={"cpu": "1", "mem": "1"}))
        daemon.handle("create_kernel", create_payload("dead", resources={"cpu": "1", "mem": "1"}))
        backend.kill("dead", exit_code=3)
        sender = RecordingSender()
        restarted = AgentDaemon(config=agent_config, runtime=backend, sender=sender)

        restarted.start()

        (announce,) = sender.of("agent_started")
        by_id = {k.kernel_id: k for k in announce.kernels}
        assert by_id["alive"].running and not by_id["dead"].running
        assert by_id["dead"].exit_code == 3
        assert [k.kernel_id for k in sender.of("kernel_started")] == ["alive"]
        assert sender.of("kernel_started")[0].adopted
        assert [(t.kernel_id, t.exit_code) for t in sender.of("kernel_terminated")] == [("dead", 3)]
        assert set(backend.containers) == {"alive"}

    def test_adopted_kernels_keep_their_allocation(
        self, agent_config: Any, backend: InMemoryBackend, daemon: AgentDaemon
    ) -> None:
        daemon.handle("create_kernel", create_payload(resources={"cpu": "2", "mem": "1"}))
        sender = RecordingSender()
        restarted = AgentDaemon(config=agent_config, runtime=backend, sender=sender)
        restarted.start()

        restarted.handle("create_kernel", create_payload("k2", resources={"cpu": "1", "mem": "1"}))

        assert sender.of("kernel_creation_failed")[0].reason == "insufficient-resource"

    def test_reconcile_destroys_the_kernels_the_manager_does_not_know(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload("known"))
        daemon.handle("create_kernel", create_payload("orphan"))

        daemon.handle("reconcile", {"destroy_kernel_ids": ["orphan"]})

        assert set(backend.containers) == {"known"}
        assert [t.reason for t in sender.of("kernel_terminated")] == ["orphan"]
        assert daemon.reconciled.is_set()


class TestHeartbeat:
    def test_heartbeat_reports_capacity_images_and_kernels(
        self, daemon: AgentDaemon, sender: RecordingSender
    ) -> None:
        daemon.handle("create_kernel", create_payload())

        daemon.tick()

        (beat,) = sender.of("agent_heartbeat")
        capacity = {slot.slot_name: slot.capacity for slot in beat.slots}
        assert capacity == {
            "cpu": Decimal(2),
            "mem": Decimal(2 << 30),
            "cuda.device": Decimal(2),
            "cuda.shares": Decimal(2),
        }
        assert beat.images[0].ref == "backendai/python:3.11-debian"
        assert [k.kernel_id for k in beat.kernels] == ["k1"]
        assert beat.compute_plugins["cuda"]["mock"] is True

    def test_shutdown_says_goodbye_with_the_boot_id(
        self, daemon: AgentDaemon, backend: InMemoryBackend, sender: RecordingSender
    ) -> None:
        daemon.shutdown()

        assert sender.of("agent_terminated") == [{"agent_id": "i-test", "boot_id": daemon.boot_id}]
        assert backend.closed


class TestReplies:
    def test_get_logs_replies_to_the_caller(
        self, daemon: AgentDaemon, replier: RecordingReplier
    ) -> None:
        daemon.handle("create_kernel", create_payload())

        daemon.handle("get_logs", {"kernel_id": "k1", "reply_to": "bai:agent-reply:x"})
        daemon.handle("list_files", {"kernel_id": "nope", "reply_to": "bai:agent-reply:y"})

        assert replier.replies["bai:agent-reply:x"].result == {"logs": "hello\n"}
        assert not replier.replies["bai:agent-reply:y"].ok

    def test_pull_reports_the_digest(self, daemon: AgentDaemon, sender: RecordingSender) -> None:
        daemon.handle("pull_image", {"ref": "127.0.0.1:5000/bai/python:3.11"})

        (pulled,) = sender.of("image_pulled")
        assert (pulled.ok, pulled.digest) == (True, "sha256:pulled")


class TestNoDatabase:
    def test_the_daemon_imports_without_django_apps(self) -> None:
        """Importing any model needs the app registry; the daemon must import without it."""
        code = (
            "import sys;"
            "import agents_app.agent.runner, agents_app.agent.daemon, agents_app.agent.transport;"
            "apps = ('agents_app', 'sessions_app', 'storage_app', 'proxy_app', 'backendai_site');"
            "print(sorted(m for m in sys.modules if m.endswith('.models') and m.startswith(apps)"
            " and m != 'agents_app.runtime.models'))"
        )
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]"

    def test_start_up_modules_import_no_django_model_module(self) -> None:
        """`django.db.models` is what every model module imports: the daemon never loads it."""
        code = (
            "import json, sys;"
            "import agents_app.agent.runner, agents_app.agent.daemon, agents_app.agent.transport;"
            "import agents_app.agent.config, agents_app.enums, agents_app.schemas;"
            "import agents_app.runtime, agents_app.accelerators, agents_app.kernel_runner.client;"
            "apps = ('agents_app', 'sessions_app', 'storage_app', 'proxy_app', "
            "'backendai_site.accounts');"
            "print(json.dumps(sorted(m for m in sys.modules"
            " if m == 'django.db.models' or m.startswith('django.db.models.')"
            " or any(m in (a + '.models',) or m.startswith(a + '.models.') for a in apps))))"
        )
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
        )

        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []

    def test_print_config_runs_without_the_database(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("BAI_AGENT_ID", "i-left")
        monkeypatch.setenv("BAI_AGENT_CPU_IDS", "[0]")
        monkeypatch.setenv("BAI_AGENT_CAPACITY", '{"mem": "1g"}')

        call_command("run_agent", "--print-config")

        out = capsys.readouterr().out
        assert '"id": "i-left"' in out
        assert '"mem": "1g"' in out


class TestScratchLimit:
    def test_a_kernel_past_the_limit_is_destroyed_with_the_reason(
        self, agent_config: Any, backend: InMemoryBackend, sender: RecordingSender,
        replier: RecordingReplier,
    ) -> None:  # fmt: skip
        config = agent_config.model_copy(update={"scratch_limit": "1m"})
        daemon = AgentDaemon(config=config, runtime=backend, sender=sender, replier=replier)
        daemon.handle("create_kernel", create_payload("k1"))
        daemon.handle("create_kernel", create_payload("k2", resources={"cpu": "1", "mem": "1024"}))
        backend.scratch_bytes = {"k1": 2 << 20, "k2": 1 << 20}

        exceeded = daemon.check_scratch()

        assert exceeded == ["k1"]
        (terminated,) = sender.of("kernel_terminated")
        assert (terminated.kernel_id, terminated.reason) == ("k1", "scratch-limit-exceeded")
        assert "k1" not in backend.containers and "k2" in backend.containers

    def test_no_limit_checks_nothing(
        self, agent_config: Any, backend: InMemoryBackend, sender: RecordingSender,
        replier: RecordingReplier,
    ) -> None:  # fmt: skip
        config = agent_config.model_copy(update={"scratch_limit": "0"})
        daemon = AgentDaemon(config=config, runtime=backend, sender=sender, replier=replier)
        daemon.handle("create_kernel", create_payload("k1"))
        backend.scratch_bytes = {"k1": 1 << 40}

        assert daemon.check_scratch() == []
        assert AgentConfig.model_fields["scratch_limit"].default == "10g"
        assert sender.of("kernel_terminated") == []

    def test_a_nonsense_limit_is_a_config_error(self, agent_config: Any) -> None:
        with pytest.raises(ValueError, match="scratch_limit"):
            type(agent_config).model_validate(
                {**agent_config.model_dump(), "scratch_limit": "lots"}
            )
