"""The agent daemon's logic: recovery, heartbeats and the command handlers.

Transport-free on purpose: events leave through an `EventSender` and replies through a
`Replier`, so tests can run every handler without a broker, and nothing here imports Django's
ORM (the daemon never opens the database). `celery_app.py` wires the handlers to Celery tasks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import threading
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
from agents_app.schemas import (
    AgentHeartbeat,
    AgentStarted,
    CommandReply,
    CreateKernel,
    DestroyKernel,
    GetLogs,
    ImagePullResult,
    KernelCreationFailed,
    KernelRef,
    KernelStarted,
    KernelTerminated,
    ListFiles,
    Message,
    PullImage,
    Reconcile,
    ReportedKernel,
    SlotCapacity,
)
from backendai_site.common.errors import BackendError
from backendai_site.common.resource_slot import ResourceSlot

from .backend import ALLOCATIONS_LABEL, KernelBackend, KernelLaunch, KernelNotFound, KernelState
from .config import AgentConfig

log = logging.getLogger(__name__)


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
        backend: KernelBackend,
        sender: EventSender,
        replier: Replier | None = None,
        plugins: PluginSet | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.sender = sender
        self.replier = replier
        self.plugins = plugins or build_plugins(config)
        self.boot_id = uuid.uuid4().hex
        self.architecture = normalize_architecture(platform.machine())
        self.kernels: dict[str, KernelState] = {}
        self._kernels_lock = threading.Lock()
        self._kernel_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self.stopping = threading.Event()
        self.reconciled = threading.Event()
        self._heartbeat_thread: threading.Thread | None = None

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

    def _local_images(self) -> list[Any]:
        try:
            return self.backend.local_images()
        except Exception:
            log.exception("listing local images failed", extra=self._ctx())
            return []

    def heartbeat_payload(self) -> AgentHeartbeat:
        try:
            stats = self.backend.stats()
        except Exception:
            log.exception("reading kernel stats failed", extra=self._ctx())
            stats = []
        return AgentHeartbeat(**self._info_fields(), kernels=stats)

    # --- life cycle ---------------------------------------------------------------------------
    def recover(self) -> AgentStarted:
        """Adopt this agent's labelled containers; report dead ones terminated and clean them."""
        found = self.backend.adopt()
        reported: list[ReportedKernel] = []
        for state in found:
            reported.append(
                ReportedKernel(
                    kernel_id=state.kernel_id,
                    container_id=state.container_id,
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
                self._finish(state, reason="terminated-while-agent-down")
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
        """One heartbeat: notice kernels that ended by themselves, then report."""
        self.check_kernels()
        self.sender.send("agent_heartbeat", self.heartbeat_payload())

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
        self.backend.close()

    def check_kernels(self) -> list[str]:
        """Report and clean up kernels whose containers stopped on their own (exit, OOM)."""
        try:
            current = {state.kernel_id: state for state in self.backend.kernels()}
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
                    state = KernelState(kernel_id=kernel_id, container_id="", running=False)
                self._finish(state, reason="self-terminated")
                ended.append(kernel_id)
        return ended

    def _finish(self, state: KernelState, *, reason: str) -> None:
        """Report a dead kernel terminated, then remove its container and free its resources."""
        log.info(
            "kernel ended",
            extra=self._ctx(state.kernel_id, exit_code=state.exit_code, oom=state.oom_killed),
        )
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
        with contextlib.suppress(KernelNotFound):
            self.backend.destroy(state.kernel_id, timeout=0)
        self._forget(state.kernel_id)

    def _forget(self, kernel_id: str) -> None:
        with self._kernels_lock:
            self.kernels.pop(kernel_id, None)
        self.plugins.release(kernel_id)

    def _emit_started(self, state: KernelState, *, adopted: bool = False) -> None:
        self.sender.send(
            "kernel_started",
            KernelStarted(
                agent_id=self.config.id,
                kernel_id=state.kernel_id,
                session_id=state.session_id,
                container_id=state.container_id,
                host=self.config.advertised_host,
                ports=state.ports,
                allocations={
                    "cpu_ids": state.cpu_ids,
                    "mem_bytes": state.mem_bytes,
                    "plugins": json.loads(state.labels.get(ALLOCATIONS_LABEL, "[]")),
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
                return {"container_id": existing.container_id, "created": False}
            try:
                state = self._create(request)
            except Exception as exc:
                self.plugins.release(request.kernel_id)
                reason = exc.error_type if isinstance(exc, BackendError) else type(exc).__name__
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
            return {"container_id": state.container_id, "created": True}

    def _create(self, request: CreateKernel) -> KernelState:
        requested = ResourceSlot(request.resources.items())
        if not requested.is_nonnegative():
            raise InsufficientResource("negative resource request")
        allocations = self.plugins.allocate(request.kernel_id, requested)
        args = self.plugins.container_args(allocations)
        launch = KernelLaunch(
            kernel_id=request.kernel_id,
            session_id=request.session_id,
            owner_access_key=request.owner_access_key,
            image=request.image,
            cpu_count=max(1, math.ceil(requested.get_or_zero("cpu"))),
            mem_bytes=int(requested.get_or_zero("mem")),
            environ={**request.environ, **args.environ},
            labels={
                **args.labels,
                ALLOCATIONS_LABEL: json.dumps([a.to_json() for a in allocations]),
            },
            kernel_secret=request.kernel_secret,
            bootstrap_script=request.bootstrap_script,
            startup_command=request.startup_command,
            mounts=request.mounts,
            cluster_hostname=request.cluster_hostname,
            network=request.network,
        )
        return self.backend.create(launch)

    def cmd_destroy_kernel(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = DestroyKernel.model_validate(raw)
        return self._destroy(request.kernel_id, request.session_id, request.reason)

    def _destroy(self, kernel_id: str, session_id: str, reason: str) -> dict[str, Any]:
        with self._kernel_locks[kernel_id]:
            try:
                final = self.backend.destroy(kernel_id, timeout=self.config.stop_timeout)
                exit_code, oom = final.exit_code, final.oom_killed
                session_id = session_id or final.session_id
            except KernelNotFound:  # already gone: say so again (Celery may redeliver)
                exit_code, oom = None, False
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
            state = self.backend.restart(request.kernel_id)
            with self._kernels_lock:
                self.kernels[request.kernel_id] = state
            self._emit_started(state)
            return {"container_id": state.container_id}

    def cmd_get_logs(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = GetLogs.model_validate(raw)
        return {"logs": self.backend.logs(request.kernel_id, tail=request.tail)}

    def cmd_list_files(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = ListFiles.model_validate(raw)
        return {"files": self.backend.list_files(request.kernel_id, request.path)}

    def cmd_pull_image(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = PullImage.model_validate(raw)
        try:
            digest = self.backend.pull(request.ref, request.username, request.password)
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

    def cmd_reconcile(self, raw: dict[str, Any]) -> dict[str, Any]:
        request = Reconcile.model_validate(raw)
        destroyed = []
        for kernel_id in request.destroy_kernel_ids:
            log.warning("destroying a kernel the manager does not know", extra=self._ctx(kernel_id))
            self._destroy(kernel_id, "", request.reason)
            destroyed.append(kernel_id)
        self.reconciled.set()
        return {"destroyed": destroyed}


def _allocations_from_labels(labels: dict[str, str]) -> list[Allocation]:
    raw = labels.get(ALLOCATIONS_LABEL)
    if not raw:
        return []
    try:
        return [Allocation.from_json(item) for item in json.loads(raw)]
    except (ValueError, KeyError, TypeError):
        return []
