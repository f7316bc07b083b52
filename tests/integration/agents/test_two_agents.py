"""Two real agent daemons on one machine, each declaring half of its CPUs and memory, with a real
Celery manager worker on the `events` queue (and its embedded beat running the LOST sweep).

Uses an isolated Redis database as the broker and the pytest database through DATABASE_URL.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.db import connection

from agents_app.enums import AgentStatus, agent_queue_name
from agents_app.models import Agent, AgentResource
from agents_app.schemas import CreateKernel, DestroyKernel
from backendai_site.config import get_config
from backendai_site.devservices import database_url_from_settings
from tests.helpers import processes
from tests.helpers.registry import docker
from tests.helpers.wait import wait_for
from tests.integration.agents.probe_names import PROBE_KEY

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

KERNEL_IMAGE = "backendai/python:3.11-debian"
KERNEL_ID = str(uuid.uuid4())
SESSION_ID = str(uuid.uuid4())
ROOT = Path(__file__).resolve().parents[3]
LOST_TIMEOUT = 6
MEM_PER_AGENT = 1 << 30


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (required under CI=true)")
        pytest.skip(reason)


def _isolated_redis_url() -> str:
    base = get_config().redis_url.rsplit("/", 1)[0]
    return f"{base}/13"


@dataclass
class Cluster:
    env: dict[str, str]
    tmp: Path
    broker: Celery
    redis: redis.Redis
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str]) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.processes[name] = processes.spawn(
            args, cwd=ROOT, env={**self.env, **extra_env}, stdout=log, stderr=log
        )

    def start_manager(self) -> None:
        self._spawn(
            "manager",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "backendai_site",
                "worker",
                "-B",
                "-s",
                str(self.tmp / "beat-schedule"),
                "-Q",
                "events",
                "-P",
                "solo",
                "--include",
                "tests.integration.agents.event_probe",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "INFO",
            ],
            {},
        )

    def start_agent(self, agent_id: str, cpu_id: int) -> None:
        self._spawn(
            agent_id,
            [sys.executable, "manage.py", "run_agent"],
            {
                "BAI_AGENT_ID": agent_id,
                "BAI_AGENT_CPU_IDS": f"[{cpu_id}]",
                "BAI_AGENT_CAPACITY": json.dumps({"mem": str(MEM_PER_AGENT)}),
                "BAI_AGENT_HEARTBEAT_INTERVAL": "1",
                "BAI_AGENT_SCRATCH_ROOT": str(self.tmp / "scratch"),
                "BAI_AGENT_PORT_RANGE": json.dumps([31000 + cpu_id * 100, 31099 + cpu_id * 100]),
                "BAI_AGENT_RESOURCE_GROUP": "default",
            },
        )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        return processes.stop(self.processes.pop(name), sig, timeout=timeout)

    def command(self, agent_id: str, command: str, payload: Any) -> None:
        self.broker.send_task(
            f"agent.{command}",
            args=[payload.model_dump(mode="json")],
            queue=agent_queue_name(agent_id),
        )

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.redis.lrange(PROBE_KEY, 0, -1)]

    def wait_event(self, timeout: float, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for event in self.events():
                if all(event.get(k) == v for k, v in match.items()):
                    return event
            return None

        return wait_for(found, timeout, f"event {match}")


@pytest.fixture
def cluster(docker_engine: None, tmp_path: Path) -> Iterator[Cluster]:
    _need(
        importlib.util.find_spec("agents_app.runtime.docker_runtime") is not None,
        "agents_app.runtime (the Docker runtime) is not in this tree yet",
    )
    _need(len(os.sched_getaffinity(0)) >= 2, "needs two CPUs to give each agent one")
    inspect = subprocess.run(["docker", "image", "inspect", KERNEL_IMAGE], capture_output=True)
    _need(inspect.returncode == 0, f"{KERNEL_IMAGE} is missing (scripts/build_kernel_image.sh)")
    redis_url = _isolated_redis_url()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_from_settings(connection.settings_dict),
        "REDIS_URL": redis_url,
        "BAI_AGENTS_LOST_TIMEOUT": str(LOST_TIMEOUT),
        "BAI_AGENTS_SWEEP_INTERVAL": "1",
        "BAI_LOG_JSON": "false",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    broker = Celery("integration-test", broker=redis_url, fixups=[], set_as_current=False)
    broker.conf.update(task_serializer="json", accept_content=["json"])
    state = Cluster(env=env, tmp=tmp_path, broker=broker, redis=client)
    try:
        yield state
    finally:
        for name in list(state.processes):
            state.stop(name, signal.SIGKILL)
        for agent_id in ("i-int-a", "i-int-b"):
            ids = docker("ps", "-aq", "--filter", f"label=ai.backend.agent-id={agent_id}")
            if ids:
                docker("rm", "-f", *ids.split())
        client.flushdb()
        broker.close()


def _alive(agent_ids: set[str]) -> bool:
    alive = set(
        Agent.objects.filter(pk__in=agent_ids, status=AgentStatus.ALIVE).values_list(
            "pk", flat=True
        )
    )
    return alive == agent_ids


class TestTwoAgentsOnOneMachine:
    def test_register_run_kernel_survive_restart_and_get_lost(self, cluster: Cluster) -> None:
        # two agents, half the machine each, and the manager worker
        cluster.start_manager()
        cluster.start_agent("i-int-a", cpu_id=0)
        cluster.start_agent("i-int-b", cpu_id=1)
        wait_for(lambda: _alive({"i-int-a", "i-int-b"}), 90, "both agents ALIVE")
        capacity = dict(
            AgentResource.objects.filter(agent_id="i-int-a").values_list("slot_name", "capacity")
        )
        assert capacity["cpu"] == 1
        assert capacity["mem"] == MEM_PER_AGENT
        first_boot = Agent.objects.get(pk="i-int-a").boot_id

        # a kernel through agent a's queue
        cluster.command(
            "i-int-a",
            "create_kernel",
            CreateKernel(
                kernel_id=KERNEL_ID,
                session_id=SESSION_ID,
                image=KERNEL_IMAGE,
                resources={"cpu": Decimal(1), "mem": Decimal(256 << 20)},
                kernel_secret="integration-test-secret-0123456789",
            ),
        )
        started = cluster.wait_event(120, event="kernel_started", kernel_id=KERNEL_ID)
        assert started["host"] == "127.0.0.1"
        assert started["ports"], "kernel_started carries the published ports"
        assert all(31000 <= port["host_port"] <= 31099 for port in started["ports"])
        host_config = json.loads(
            docker("inspect", "--format", "{{json .HostConfig}}", started["container_id"])
        )
        assert host_config["CpusetCpus"] == "0"
        assert host_config["Memory"] == 256 << 20
        assert host_config["MemorySwap"] == 256 << 20

        # restart agent a: the kernel is re-adopted, same container
        assert cluster.stop("i-int-a") == 0
        wait_for(
            lambda: Agent.objects.get(pk="i-int-a").status == AgentStatus.TERMINATED,
            30,
            "agent a TERMINATED after a clean stop",
        )
        cluster.start_agent("i-int-a", cpu_id=0)
        adopted = cluster.wait_event(90, event="kernel_started", kernel_id=KERNEL_ID, adopted=True)
        assert adopted["container_id"] == started["container_id"]
        wait_for(lambda: _alive({"i-int-a"}), 30, "agent a ALIVE again")
        assert Agent.objects.get(pk="i-int-a").boot_id != first_boot

        # destroy through the queue
        cluster.command("i-int-a", "destroy_kernel", DestroyKernel(kernel_id=KERNEL_ID))
        terminated = cluster.wait_event(60, event="kernel_terminated", kernel_id=KERNEL_ID)
        assert terminated["reason"] == "user-requested"

        # a crashed agent becomes LOST after the configured timeout
        cluster.stop("i-int-b", signal.SIGKILL)
        wait_for(
            lambda: Agent.objects.get(pk="i-int-b").status == AgentStatus.LOST,
            LOST_TIMEOUT + 30,
            "agent b LOST",
        )
        assert Agent.objects.get(pk="i-int-a").status == AgentStatus.ALIVE
