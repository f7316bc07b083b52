"""The agent daemon's logic: recovery, heartbeats and the command handlers.

Transport-free on purpose: events leave through an `EventSender` and replies through a
`Replier`, so tests can run every handler without a broker, and nothing here imports Django's
ORM (the daemon never opens the database). `transport.py` wires the handlers to Celery tasks.
Kernels are run through the runtime protocol (`agents_app.runtime.protocol.Runtime`) in its own
terms: `KernelSpec` in, `KernelInfo` out, `agents_app.runtime.errors` raised.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import secrets
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from pydantic import ValidationError

from agents_app.accelerators import (
    Allocation,
    CpuPlugin,
    InsufficientResource,
    MemoryPlugin,
    MockCudaPlugin,
    PluginSet,
)
from agents_app.accelerators.base import AcceleratorPlugin
from agents_app.imageref import normalize_architecture
from agents_app.runtime.errors import KernelNotFound, RuntimeBackendError
from agents_app.runtime.models import (
    COMMIT_STEPS,
    LABEL_ALLOCATIONS,
    RUNNER_SERVICE_NAME,
    KernelInfo,
    KernelSpec,
    KernelStatus,
    Mount,
)
from agents_app.runtime.protocol import Runtime
from agents_app.schemas import (
    TERMINATED_WHILE_AGENT_DOWN,
    AgentHeartbeat,
    AgentStarted,
    BindKernel,
    CommandReply,
    CommitKernel,
    CreateKernel,
    DestroyKernel,
    GetLogs,
    ImagePullResult,
    KernelCommitted,
    KernelCommitUpdated,
    KernelCreationFailed,
    KernelRef,
    KernelStarted,
    KernelStat,
    KernelTerminated,
    ListFiles,
    LocalImage,
    Message,
    PublishedPort,
    PullImage,
    Reconcile,
    ReportedKernel,
    SlotCapacity,
)
from backendai_site.common.errors import BackendError
from backendai_site.common.resource_slot import ResourceSlot
from backendai_site.metrics.agent import AgentMetrics

from .config import AgentConfig

log = logging.getLogger(__name__)

RUNNER_CONTAINER_PORT = 2000
MIN_MEMORY_BYTES = 6 * 1024 * 1024
SCRATCH_LIMIT_REASON = "scratch-limit-exceeded"


class EventSender(Protocol):
    def send(self, event: str, payload: Message | dict[str, Any]) -> None:
        """Deliver `payload` to the manager's `agents_app.<event>` task on `events`."""
        ...


class Replier(Protocol):
    def reply(self, reply_to: str, reply: CommandReply) -> None: ...


def build_plugins(config: AgentConfig) -> PluginSet:
    capacity = config.declared_capacity()
    plugins: list[AcceleratorPlugin] = [CpuPlugin(capacity["cpu"]), MemoryPlugin(capacity["mem"])]
    if config.mock_accelerator.devices:
        plugins.append(
            MockCudaPlugin(
                config.mock_accelerator.devices, config.mock_accelerator.shares_per_device
            )
        )
    return PluginSet(plugins)


class AgentDaemon:
    def __init__(
        self,
        *,
        config: AgentConfig,
        runtime: Runtime,
        sender: EventSender,
        replier: Replier | None = None,
        plugins: PluginSet | None = None,
    ) -> None:
        self.config = config
        self.runtime = runtime
        self.sender = sender
        self.replier = replier
        self.plugins = plugins or build_plugins(config)
        self.boot_id = uuid.uuid4().hex
        self.architecture = normalize_architecture(platform.machine())
        self.kernels: dict[str, KernelInfo] = {}
        self._kernels_lock = threading.Lock()
        self._kernel_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self.stopping = threading.Event()
        self.reconciled = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None
        self._next_scratch_check = 0.0
        self.metrics = AgentMetrics(self)  # served by runner.run_agent on BAI_AGENT_METRICS_PORT

    # --- logging context ----------------------------------------------------------------------
    def _ctx(self, kernel_id: str | None = None, **more: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"agent_id": self.config.id}
        if kernel_id is not None:
            ctx["kernel_id"] = kernel_id
        ctx.update(more)
        return ctx

    # --- self description ---------------------------------------------------------------------
    def _info_fields(self) -> dict[str, Any]:
        capacity = self.plugins.capacity()
        slot_types = self.plugins.slot_types()
        return {
            "agent_id": self.config.id,
            "boot_id": self.boot_id,
            "resource_group": self.config.resource_group,
            "advertised_host": self.config.advertised_host,
            "architecture": self.architecture,
            "version": self.config.version,
            "slots": [
                SlotCapacity(slot_name=name, slot_type=slot_types[name], capacity=amount)
                for name, amount in sorted(capacity.items())
            ],
            "compute_plugins": self.plugins.info(),
            "images": self._local_images(),
        }

    def _local_images(self) -> list[LocalImage]:
        """The runtime's images, one entry per tag."""
        try:
            images = self.runtime.list_images()
        except Exception:
            log.exception("listing local images failed", extra=self._ctx())
            return []
        return [
            LocalImage(
                ref=ref,
                digest=image.digest or image.id,
                architecture=self.architecture,
                labels=image.labels,
                size_bytes=image.size_bytes,
            )
            for image in images
            for ref in image.tags or [image.name]
        ]

    def _kernel_stats(self) -> list[KernelStat]:
        """Usage of the running kernels (a kernel whose stats cannot be read is left out)."""
        result: list[KernelStat] = []
        for info in self.runtime.list_kernels():
            if not info.running:
                continue
            try:
                stats = self.runtime.container_stats(info.kernel_id)
            except Exception:
                log.debug("no stats", extra=self._ctx(info.kernel_id))
                continue
            result.append(
                KernelStat(
                    kernel_id=info.kernel_id,
                    container_id=info.container_id or "",
                    status=str(info.status),
                    cpu_used_seconds=stats.cpu_used_seconds,
                    mem_bytes=stats.memory_bytes,
                    mem_limit_bytes=stats.memory_limit_bytes,
                )
            )
        return result

    def heartbeat_payload(self) -> AgentHeartbeat:
        try:
            stats = self._kernel_stats()
        except Exception:
            log.exception("reading kernel stats failed", extra=self._ctx())
            stats = []
        return AgentHeartbeat(**self._info_fields(), kernels=stats)

    # --- life cycle ---------------------------------------------------------------------------
    def recover(self) -> AgentStarted:
        """Adopt this agent's labelled containers; report dead ones terminated and clean them."""
        found = self.runtime.adopt()
        reported: list[ReportedKernel] = []
        for state in found:
            reported.append(
                ReportedKernel(
                    kernel_id=state.kernel_id,
                    container_id=state.container_id or "",
                    running=state.running,
                    exit_code=state.exit_code,
                    oom_killed=state.oom_killed,
                )
            )
            if state.running:
                self.plugins.restore(state.kernel_id, _allocations_from_labels(state.labels))
                with self._kernels_lock:
                    self.kernels[state.kernel_id] = state
                log.info("kernel adopted", extra=self._ctx(state.kernel_id))
                self._emit_started(state, adopted=True)
            else:
                self._finish(state, reason=TERMINATED_WHILE_AGENT_DOWN)
        return AgentStarted(**self._info_fields(), kernels=reported)

    def start(self) -> None:
        """Recover, then announce this boot to the manager (it answers with `reconcile`)."""
        started = self.recover()
        self.sender.send("agent_started", started)
        log.info(
            "agent started",
            extra=self._ctx(boot_id=self.boot_id, adopted=[k.kernel_id for k in started.kernels]),
        )

    def tick(self) -> None:
        """One heartbeat: notice kernels that ended by themselves (or outgrew their scratch
        folder), then report."""
        self.check_kernels()
        if time.monotonic() >= self._next_scratch_check:
            self._next_scratch_check = time.monotonic() + self.config.scratch_check_interval
            self.check_scratch()
        self.sender.send("agent_heartbeat", self.heartbeat_payload())

    def check_scratch(self) -> list[str]:
        """Destroy the kernels whose scratch folder holds more than `scratch_limit` (reason
        `scratch-limit-exceeded`); returns their ids."""
        limit = self.config.scratch_limit_bytes()
        if limit is None:
            return []
        with self._kernels_lock:
            tracked = [(k, state.session_id) for k, state in self.kernels.items()]
        exceeded: list[str] = []
        for kernel_id, session_id in tracked:
            try:
                usage = self.runtime.scratch_usage(kernel_id)
            except Exception:
                log.exception("scratch usage unknown", extra=self._ctx(kernel_id))
                continue
            if usage <= limit:
                continue
            log.warning(
                "scratch limit exceeded; destroying the kernel",
                extra=self._ctx(kernel_id, usage=usage, limit=limit),
            )
            self._destroy(kernel_id, session_id, SCRATCH_LIMIT_REASON)
            exceeded.append(kernel_id)
        return exceeded

    def run_heartbeats(self) -> None:
        """Heartbeat every interval until `stopping` is set (run in a thread)."""
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("heartbeat failed", extra=self._ctx())
            self.stopping.wait(self.config.heartbeat_interval)

    def start_heartbeats(self) -> threading.Thread:
        self._heartbeat_thread = threading.Thread(
            target=self.run_heartbeats, name=f"heartbeat-{self.config.id}", daemon=True
        )
        self._heartbeat_thread.start()
        return self._heartbeat_thread

    def shutdown(self) -> None:
        """Say goodbye; kernels keep running and are re-adopted by the next start."""
        self.stopping.set()
        if self._heartbeat_thread is not None:  # no heartbeat may follow the goodbye
            self._heartbeat_thread.join(timeout=self.config.heartbeat_interval + 10)
        try:
            self.sender.send(
                "agent_terminated", {"agent_id": self.config.id, "boot_id": self.boot_id}
            )
        except Exception:
            log.exception("could not announce shutdown", extra=self._ctx())
        self.runtime.close()

    def check_kernels(self) -> list[str]:
        """Report and clean up kernels whose containers stopped on their own (exit, OOM)."""
        try:
            current = {state.kernel_id: state for state in self.runtime.list_kernels()}
        except Exception:
            log.exception("listing kernels failed", extra=self._ctx())
            return []
        ended: list[str] = []
        with self._kernels_lock:
            tracked = list(self.kernels)
        for kernel_id in tracked:
            state = current.get(kernel_id)
            if state is not None and state.running:
                continue
            with self._kernel_locks[kernel_id]:
                if kernel_id not in self.kernels:
                    continue  # destroyed meanwhile by a command
                if state is None:
                    state = KernelInfo(kernel_id=kernel_id, status=KernelStatus.GONE)
                self._finish(state, reason="self-terminated")
                ended.append(kernel_id)
        return ended

    def _finish(self, state: KernelInfo, *, reason: str) -> None:
        """Remove a dead kernel's container and free its resources, then report it terminated:
        the manager releases its capacity on that report, so the CPUs must be free by then."""
        log.info(
            "kernel ended",
            extra=self._ctx(state.kernel_id, exit_code=state.exit_code, oom=state.oom_killed),
        )
        with contextlib.suppress(KernelNotFound):
            self.runtime.destroy_kernel(state.kernel_id, timeout=0)
        self._forget(state.kernel_id)
        self.sender.send(
            "kernel_terminated",
            KernelTerminated(
                agent_id=self.config.id,
                kernel_id=state.kernel_id,
                session_id=state.session_id,
                exit_code=state.exit_code,
                oom_killed=state.oom_killed,
                reason="oom-killed" if state.oom_killed else reason,
            ),
        )

    def _forget(self, kernel_id: str) -> None:
        with self._kernels_lock:
            self.kernels.pop(kernel_id, None)
        self.plugins.release(kernel_id)

    def _emit_started(self, state: KernelInfo, *, adopted: bool = False) -> None:
        self.sender.send(
            "kernel_started",
            KernelStarted(
                agent_id=self.config.id,
                kernel_id=state.kernel_id,
                session_id=state.session_id,
                container_id=state.container_id or "",
                host=self.config.advertised_host,
                ports=_published_ports(state),
                allocations={
                    "cpu_ids": list(state.cpu_set),
                    "mem_bytes": state.memory_bytes,
                    "plugins": json.loads(state.labels.get(LABEL_ALLOCATIONS, "[]")),
                },
                adopted=adopted,
            ),
        )

    # --- commands -----------------------------------------------------------------------------
    def handle(self, command: str, raw: dict[str, Any]) -> None:
        """Entry point of every agent command (a Celery task body)."""
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, f"cmd_{command}", None)
        if handler is None:
            log.error("unknown command", extra=self._ctx(command=command))
            return
        reply_to = raw.get("reply_to") if isinstance(raw, dict) else None
        try:
            result = handler(raw)
        except (ValidationError, BackendError, KernelNotFound) as exc:
            log.warning("command failed", extra=self._ctx(command=command, error=str(exc)))
            if reply_to and self.replier is not None:
                self.replier.reply(reply_to, CommandReply(ok=False, error=str(exc)))
            return
        if reply_to and self.replier is not None:
            self.replier.reply(reply_to, CommandReply(ok=True, result=result))

    def cmd_create_kernel(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = CreateKernel.model_validate(raw)
        with self._kernel_locks[request.kernel_id]:
            existing = self.kernels.get(request.kernel_id)
            if existing is not None:  # redelivered: answer again, create nothing
                self._emit_started(existing)
                return {"container_id": existing.container_id or "", "created": False}
            try:
                with self.metrics.container_create():
                    state = self._create(request)
            except Exception as exc:
                self.plugins.release(request.kernel_id)
                reason = _failure_reason(exc)
                log.warning(
                    "kernel creation failed", extra=self._ctx(request.kernel_id, reason=reason)
                )
                self.sender.send(
                    "kernel_creation_failed",
                    KernelCreationFailed(
                        agent_id=self.config.id,
                        kernel_id=request.kernel_id,
                        session_id=request.session_id,
                        reason=reason,
                        detail=str(exc)[:2000],
                    ),
                )
                return {"created": False, "error": str(exc)}
            with self._kernels_lock:
                self.kernels[request.kernel_id] = state
            self._emit_started(state)
            log.info("kernel created", extra=self._ctx(request.kernel_id))
            return {"container_id": state.container_id or "", "created": True}

    def _create(self, request: CreateKernel) -> KernelInfo:
        requested = ResourceSlot(request.resources.items())
        if not requested.is_nonnegative():
            raise InsufficientResource("negative resource request")
        allocations = self.plugins.allocate(request.kernel_id, requested)
        args = self.plugins.container_args(allocations)
        spec = KernelSpec(
            kernel_id=request.kernel_id,
            session_id=request.session_id,
            owner_access_key=request.owner_access_key,
            agent_id=self.config.id,
            image=request.image,
            cpu_count=max(1, math.ceil(requested.get_or_zero("cpu"))),
            memory_bytes=max(int(requested.get_or_zero("mem")), MIN_MEMORY_BYTES),
            environ={**request.environ, **args.environ},
            mounts=[Mount(**mount) for mount in request.mounts],
            runner_secret=request.kernel_secret or secrets.token_urlsafe(24),
            labels={
                **request.labels,
                **args.labels,
                LABEL_ALLOCATIONS: json.dumps([a.to_json() for a in allocations]),
            },
            cluster_hostname=request.cluster_hostname,
            network=request.network,
            bootstrap_script=request.bootstrap_script,
            startup_command=request.startup_command,
        )
        return self.runtime.create_kernel(spec)

    def cmd_bind_kernel(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Hand a running pooled kernel to the session that claimed it; `kernel_started` (with
        the session id) follows, or `kernel_creation_failed` (docs/design/0007-warm-pools.md)."""
        request = BindKernel.model_validate(raw)
        with self._kernel_locks[request.kernel_id]:
            try:
                state = self.runtime.bind_kernel(
                    request.kernel_id, session_id=request.session_id, environ=request.environ
                )
            except (RuntimeBackendError, KernelNotFound) as exc:
                log.warning("bind failed", extra=self._ctx(request.kernel_id, error=str(exc)))
                self.sender.send(
                    "kernel_creation_failed",
                    KernelCreationFailed(
                        agent_id=self.config.id,
                        kernel_id=request.kernel_id,
                        session_id=request.session_id,
                        reason=_failure_reason(exc),
                        detail=str(exc)[:2000],
                    ),
                )
                return {"bound": False, "error": str(exc)}
            with self._kernels_lock:
                self.kernels[request.kernel_id] = state
            self._emit_started(state)
            return {"bound": True}

    def cmd_destroy_kernel(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = DestroyKernel.model_validate(raw)
        return self._destroy(request.kernel_id, request.session_id, request.reason)

    def _destroy(self, kernel_id: str, session_id: str, reason: str) -> dict[str, Any]:
        with self._kernel_locks[kernel_id]:
            try:
                final = self.runtime.destroy_kernel(kernel_id, timeout=self.config.stop_timeout)
            except KernelNotFound:
                final = None
            if final is None or (final.status == KernelStatus.GONE and not final.container_id):
                exit_code, oom = None, False  # already gone: say so again (Celery may redeliver)
            else:
                exit_code, oom = final.exit_code, final.oom_killed
                session_id = session_id or final.session_id
            self._forget(kernel_id)
            self.sender.send(
                "kernel_terminated",
                KernelTerminated(
                    agent_id=self.config.id,
                    kernel_id=kernel_id,
                    session_id=session_id,
                    exit_code=exit_code,
                    oom_killed=oom,
                    reason=reason,
                ),
            )
            log.info("kernel destroyed", extra=self._ctx(kernel_id, reason=reason))
            return {"exit_code": exit_code}

    def cmd_restart_kernel(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = KernelRef.model_validate(raw)
        with self._kernel_locks[request.kernel_id]:
            state = self.runtime.restart_kernel(request.kernel_id, timeout=self.config.stop_timeout)
            with self._kernels_lock:
                self.kernels[request.kernel_id] = state
            self._emit_started(state)
            return {"container_id": state.container_id or ""}

    def cmd_get_logs(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = GetLogs.model_validate(raw)
        return {"logs": str(self.runtime.get_logs(request.kernel_id, tail=request.tail))}

    def cmd_list_files(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = ListFiles.model_validate(raw)
        entries = self.runtime.list_files(request.kernel_id, request.path)
        return {"files": [entry.model_dump(mode="json") for entry in entries]}

    def cmd_pull_image(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = PullImage.model_validate(raw)
        try:
            auth = (
                {"username": request.username, "password": request.password}
                if request.username
                else None
            )
            image = self.runtime.pull_image(request.ref, auth=auth)
            digest = str(image.digest or image.id)
        except Exception as exc:
            log.warning("image pull failed", extra=self._ctx(ref=request.ref, error=str(exc)))
            self.sender.send(
                "image_pulled",
                ImagePullResult(agent_id=self.config.id, ref=request.ref, ok=False, error=str(exc)),
            )
            return {"ok": False, "error": str(exc)}
        self.sender.send(
            "image_pulled",
            ImagePullResult(agent_id=self.config.id, ref=request.ref, ok=True, digest=digest),
        )
        # report the new image at once rather than at the next heartbeat
        self.sender.send("agent_heartbeat", self.heartbeat_payload())
        return {"ok": True, "digest": digest}

    def cmd_commit_kernel(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Save a running kernel as a local image; progress and the outcome go out as
        `kernel_commit_updated` / `kernel_committed` (a redelivery re-reports the same image)."""
        request = CommitKernel.model_validate(raw)
        ids: dict[str, Any] = {
            "agent_id": self.config.id,
            "kernel_id": request.kernel_id,
            "session_id": request.session_id,
            "task_id": request.task_id,
        }

        def progress(step: int, message: str) -> None:
            self.sender.send(
                "kernel_commit_updated",
                KernelCommitUpdated.model_validate(
                    {
                        **ids,
                        "current_progress": step,
                        "total_progress": COMMIT_STEPS,
                        "message": message,
                    }
                ),
            )

        try:
            if request.kernel_id not in self.kernels:
                raise KernelNotFound(f"kernel {request.kernel_id} does not run on this agent")
            image = self.runtime.commit_kernel(
                request.kernel_id,
                repository=request.repository,
                tag=request.tag,
                task_id=request.task_id,
                labels=request.labels,
                progress=progress,
            )
        except (RuntimeBackendError, BackendError) as exc:
            log.warning("kernel commit failed", extra=self._ctx(request.kernel_id, error=str(exc)))
            self.sender.send(
                "kernel_committed",
                KernelCommitted.model_validate({**ids, "ok": False, "error": str(exc)}),
            )
            return {"ok": False, "error": str(exc)}
        local = LocalImage(
            ref=f"{request.repository}:{request.tag}",
            digest=image.digest or image.id,
            architecture=self.architecture,
            labels=image.labels,
            size_bytes=image.size_bytes,
        )
        progress(COMMIT_STEPS, f"committed {local.ref}")
        self.sender.send(
            "kernel_committed", KernelCommitted.model_validate({**ids, "ok": True, "image": local})
        )
        # report the new image at once rather than at the next heartbeat
        self.sender.send("agent_heartbeat", self.heartbeat_payload())
        return {"ok": True, "image": local.ref}

    def cmd_reconcile(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = Reconcile.model_validate(raw)
        destroyed = []
        for kernel_id in request.destroy_kernel_ids:
            log.warning("destroying a kernel the manager does not know", extra=self._ctx(kernel_id))
            self._destroy(kernel_id, "", request.reason)
            destroyed.append(kernel_id)
        self.reconciled.set()
        return {"destroyed": destroyed}


def _failure_reason(exc: Exception) -> str:
    """The stable code a failed create reports (`bootstrap-failed`, `image-not-found`...)."""
    if isinstance(exc, BackendError):
        return exc.error_type
    if isinstance(exc, RuntimeBackendError):
        return exc.code
    return type(exc).__name__


def _published_ports(info: KernelInfo) -> list[PublishedPort]:
    """The runner's and the service apps' published ports, as the manager's events name them."""
    ports: list[PublishedPort] = []
    if info.runner_port is not None:
        ports.append(
            PublishedPort(
                name=RUNNER_SERVICE_NAME,
                protocol="tcp",
                container_port=RUNNER_CONTAINER_PORT,
                host_port=info.runner_port,
            )
        )
    for service in info.service_ports:
        host_port = info.host_ports.get(service.name)
        if host_port is not None and service.container_ports:
            ports.append(
                PublishedPort(
                    name=service.name,
                    protocol=service.protocol,
                    container_port=service.container_ports[0],
                    host_port=host_port,
                )
            )
    return ports


def _allocations_from_labels(labels: dict[str, str]) -> list[Allocation]:
    raw = labels.get(LABEL_ALLOCATIONS)
    if not raw:
        return []
    try:
        return [Allocation.from_json(item) for item in json.loads(raw)]
    except (ValueError, KeyError, TypeError):
        return []
