"""The agent daemon's metrics, on its own registry and its own loopback port.

The agent is a program of its own (no gunicorn, no shared multiprocess directory), so a
collector reads the daemon's state at scrape time: capacity and use per slot, kernels held and
command threads. Container creates are counted here as they finish. Nothing in this module uses
prometheus-client's value classes, so a `PROMETHEUS_MULTIPROC_DIR` in the agent's environment
changes nothing.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from agents_app.accelerators import Allocation, PluginSet
from agents_app.agent.config import AgentConfig
from agents_app.runtime.models import LABEL_ALLOCATIONS, KernelInfo

CREATE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
CREATED = "created"
FAILED = "failed"


class DaemonState(Protocol):
    """What the collector reads of `agents_app.agent.daemon.AgentDaemon`."""

    config: AgentConfig
    plugins: PluginSet
    kernels: dict[str, KernelInfo]


def slots_used(kernels: Iterable[KernelInfo]) -> dict[str, Decimal]:
    """Slots held by the kernels, from the allocations each container carries in its labels
    (the same record the daemon restores them from after a restart)."""
    used: dict[str, Decimal] = {}
    for kernel in kernels:
        try:
            raw = json.loads(kernel.labels.get(LABEL_ALLOCATIONS) or "[]")
            allocations = [Allocation.from_json(item) for item in raw]
        except (ValueError, KeyError, TypeError):
            continue
        for allocation in allocations:
            for name, amount in allocation.slots.items():
                used[name] = used.get(name, Decimal(0)) + amount
    return used


class AgentMetrics(Collector):
    """The daemon's collector; `registry` is what its HTTP server serves."""

    def __init__(self, daemon: DaemonState) -> None:
        self.daemon = daemon
        self._lock = threading.Lock()
        self._creates = {CREATED: 0, FAILED: 0}
        self._create_buckets = [0] * (len(CREATE_BUCKETS) + 1)  # the last one is +Inf
        self._create_seconds = 0.0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    @contextmanager
    def container_create(self) -> Iterator[None]:
        """Times one container create; an exception counts it as failed and propagates."""
        started = time.perf_counter()
        outcome = FAILED
        try:
            yield
            outcome = CREATED
        finally:
            seconds = time.perf_counter() - started
            with self._lock:
                self._creates[outcome] += 1
                self._create_buckets[bisect.bisect_left(CREATE_BUCKETS, seconds)] += 1
                self._create_seconds += seconds

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        agent = self.daemon.config.id
        kernels = list(dict(self.daemon.kernels).values())  # a copy: commands run in threads
        capacity = self.daemon.plugins.capacity()
        yield _slot_family(
            "bai_agent_slot_capacity", "Capacity of each slot.", agent, dict(capacity.items())
        )
        used = slots_used(kernels)
        yield _slot_family(
            "bai_agent_slot_used",
            "Amount of each slot held by this agent's kernels.",
            agent,
            {name: used.get(name, Decimal(0)) for name in capacity},
        )
        pools = GaugeMetricFamily(
            "bai_agent_pool_size", "Sizes of the agent's pools.", labels=["agent", "pool"]
        )
        pools.add_metric([agent, "kernels"], len(kernels))
        pools.add_metric([agent, "command_threads"], self.daemon.config.concurrency)
        yield pools
        with self._lock:
            creates = dict(self._creates)
            buckets = list(self._create_buckets)
            total_seconds = self._create_seconds
        counter = CounterMetricFamily(
            "bai_agent_container_creates",
            "Container creates by outcome (created, failed).",
            labels=["agent", "outcome"],
        )
        for outcome, count in creates.items():
            counter.add_metric([agent, outcome], count)
        yield counter
        histogram = HistogramMetricFamily(
            "bai_agent_container_create_duration_seconds",
            "Seconds one container create took (allocation, container start, runner ready).",
            labels=["agent"],
        )
        cumulative, points = 0, []
        for bound, count in zip([*map(str, CREATE_BUCKETS), "+Inf"], buckets, strict=True):
            cumulative += count
            points.append((bound, float(cumulative)))
        histogram.add_metric([agent], points, sum_value=total_seconds)
        yield histogram


def _slot_family(
    name: str, documentation: str, agent: str, values: Mapping[str, Decimal]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["agent", "slot"])
    for slot, amount in sorted(values.items()):
        family.add_metric([agent, slot], float(amount))
    return family


def agent_metrics_serve(metrics: AgentMetrics, *, port: int) -> WSGIServer:
    """Serve `metrics` on 127.0.0.1:`port` in a daemon thread (loopback only: the agent has
    no access rule of its own). Stop it with `.shutdown()`."""
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    return server
