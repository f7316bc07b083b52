"""Runs one agent: builds the daemon, starts heartbeats and the embedded Celery worker.

SIGTERM/SIGINT stop the worker warmly (Celery's own handlers); the daemon then says goodbye and
leaves its kernels running for the next start to adopt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agents_app.enums import agent_queue_name
from agents_app.runtime.docker_runtime import DockerRuntime, DockerRuntimeConfig
from agents_app.runtime.protocol import Runtime
from backendai_site.metrics.agent import agent_metrics_serve

from .config import AgentConfig
from .daemon import AgentDaemon
from .transport import CeleryEventSender, RedisReplier, make_agent_celery, register_commands

log = logging.getLogger(__name__)


def docker_runtime(config: AgentConfig) -> Runtime:
    """The Docker runtime for this agent's declared CPUs, ports and scratch root."""
    return DockerRuntime(
        DockerRuntimeConfig(
            agent_id=config.id,
            scratch_root=config.scratch_dir(),
            cpu_ids=config.effective_cpu_ids(),
            exclusive_cpus=config.exclusive_cpus,
            port_range=config.port_range,
            advertised_host=config.advertised_host,
            kernel_network=config.kernel_network,
            docker_base_url=config.docker_socket or None,
        )
    )


def run_agent(
    config: AgentConfig,
    *,
    broker_url: str,
    runtime_factory: Callable[[AgentConfig], Runtime] = docker_runtime,
) -> int:
    app = make_agent_celery(agent_id=config.id, broker_url=broker_url)
    daemon = AgentDaemon(
        config=config,
        runtime=runtime_factory(config),
        sender=CeleryEventSender(app),
        replier=RedisReplier(broker_url),
    )
    register_commands(app, daemon)
    port = config.metrics_port
    metrics_server = agent_metrics_serve(daemon.metrics, port=port) if port else None
    log.info("agent starting", extra={"agent_id": config.id, **config.summary()})
    daemon.start()
    daemon.start_heartbeats()
    worker = app.Worker(
        queues=[agent_queue_name(config.id)],
        pool="threads",
        concurrency=config.concurrency,
        hostname=f"agent@{config.id}",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        quiet=True,
        loglevel="INFO",
    )
    try:
        worker.start()
    finally:
        daemon.shutdown()
        if metrics_server is not None:
            metrics_server.shutdown()
        log.info("agent stopped", extra={"agent_id": config.id})
    return int(worker.exitcode or 0)
