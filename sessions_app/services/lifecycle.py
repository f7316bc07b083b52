"""Starting, destroying and restarting sessions, and reacting to what agents report.

The API only marks wanted states; this module turns marks into agent commands (sent after
commit) and turns agent events into status changes. Every handler is idempotent: Celery may
deliver an event twice, and events may arrive for sessions that were destroyed meanwhile.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Iterable, Sequence
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.db.models import Q

from agents_app.enums import AgentStatus
from agents_app.schemas import (
    TERMINATED_WHILE_AGENT_DOWN,
    AgentLost,
    CreateKernel,
    DestroyKernel,
    KernelCreationFailed,
    KernelRef,
    KernelStarted,
    KernelTerminated,
)
from agents_app.services.commands import agent_command_send
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.dispatch import BATCH_QUEUE, SESSION_BATCH_RUN, task_send_on_commit
from sessions_app.enums import ClusterMode, KernelStatus, SessionResult, SessionStatus, SessionType
from sessions_app.errors import InvalidSessionState, SessionAlreadyExists
from sessions_app.models import Kernel, Session
from sessions_app.scheduler.allocation import kernel_release_resources
from sessions_app.schemas import SESSION_NAME_RE
from storage_app.services.mounts import kernel_mounts

from .events import session_event_publish
from .requeue import session_requeue
from .ssh import environ_with_ssh_keypair
from .status import kernel_transition, session_transition

log = logging.getLogger(__name__)

RUNNER_PORT_NAME = "runner"
STALE_REASON = "stale"
# what an agent reports for a kernel it destroyed because the manager's reconcile, at the agent's
# start, did not expect it there (agents_app.schemas.Reconcile.reason)
ORPHAN_REASON = "orphan"
AGENT_LOST = "agent-lost"
INSUFFICIENT_RESOURCE = "insufficient-resource"


def _release(kernel: Kernel) -> None:
    kernel_release_resources(kernel.pk)


def _send_after_commit(agent_id: str, command: str, payload: KernelRef | CreateKernel) -> None:
    transaction.on_commit(
        lambda: agent_command_send(agent_id=agent_id, command=command, payload=payload)
    )


def session_batch_schedule(session: Session) -> None:
    """Queue the batch run of a session that just became RUNNING (after commit)."""
    if session.session_type != SessionType.BATCH or not session.startup_command:
        return
    task_send_on_commit(SESSION_BATCH_RUN, args=[str(session.pk)], queue=BATCH_QUEUE)


# --- start -----------------------------------------------------------------------------------


def sessions_start(session_ids: Iterable[UUID]) -> None:
    """Send `create_kernel` for every kernel of freshly SCHEDULED sessions."""
    for session in Session.objects.filter(pk__in=list(session_ids)).select_related("image"):
        with transaction.atomic():
            session = (
                Session.objects.select_for_update(of=("self",))
                .select_related("image", "access_key")
                .get(pk=session.pk)
            )
            if session.status != SessionStatus.SCHEDULED:
                continue
            kernels = list(session.kernels.select_for_update().order_by("cluster_idx"))
            for kernel in kernels:
                if kernel.agent_id is None:
                    continue
                kernel.runner_secret = kernel.runner_secret or secrets.token_urlsafe(32)
                kernel.save(update_fields=["runner_secret"])
                kernel_transition(kernel=kernel, to=KernelStatus.PREPARING, reason="starting")
                _send_after_commit(
                    kernel.agent_id, "create_kernel", _create_command(session, kernel)
                )
            session_transition(session=session, to=SessionStatus.PREPARING, reason="starting")


def _create_command(session: Session, kernel: Kernel) -> CreateKernel:
    resources = {slot: Decimal(value) for slot, value in (kernel.occupied_slots or {}).items()}
    environ = dict(session.environ)
    environ.update(
        BACKENDAI_SESSION_ID=str(session.pk),
        BACKENDAI_KERNEL_ID=str(kernel.pk),
        BACKENDAI_CLUSTER_ROLE=kernel.cluster_role,
        BACKENDAI_CLUSTER_IDX=str(kernel.cluster_idx),
        BACKENDAI_CLUSTER_HOST=kernel.cluster_hostname,
        BACKENDAI_CLUSTER_SIZE=str(session.cluster_size),
        BACKENDAI_CLUSTER_HOSTS=",".join(
            session.kernels.order_by("cluster_idx").values_list("cluster_hostname", flat=True)
        ),
    )
    return CreateKernel(
        kernel_id=str(kernel.pk),
        session_id=str(session.pk),
        owner_access_key=session.access_key_id,
        image=session.image.canonical,
        resources=resources,
        environ=environ_with_ssh_keypair(environ=environ, owner=session.access_key),
        bootstrap_script=session.bootstrap_script,
        startup_command=session.startup_command,
        kernel_secret=kernel.runner_secret,
        mounts=kernel_mounts(session.mounts or []),
        cluster_hostname=kernel.cluster_hostname,
        network=session_network_name(session),
    )


def kernel_create_command(session: Session, kernel: Kernel) -> CreateKernel:
    """The `create_kernel` a cold start of `kernel` sends (a warm pool's bind gives the pooled
    kernel its environment)."""
    return _create_command(session, kernel)


def session_network_name(session: Session) -> str | None:
    """Kernels of a single-node cluster share a private network where each kernel's cluster
    hostname (main1, sub1, ...) resolves; a lone kernel needs none."""
    if session.cluster_size > 1 and session.cluster_mode == ClusterMode.SINGLE_NODE:
        return f"bai-{session.pk.hex}"
    return None


# --- agent events ----------------------------------------------------------------------------


def _as_uuid(value: str) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _kernel_for_event(kernel_id: str) -> Kernel | None:
    if _as_uuid(kernel_id) is None:
        log.warning("event with a malformed kernel id", extra={"kernel_id": kernel_id})
        return None
    kernel = (
        Kernel.objects.select_for_update()
        .select_related("session", "session__access_key")
        .filter(pk=kernel_id)
        .first()
    )
    if kernel is None:
        log.info("event for unknown kernel", extra={"kernel_id": kernel_id})
    return kernel


@transaction.atomic
def on_kernel_started(event: KernelStarted) -> None:
    kernel = _kernel_for_event(event.kernel_id)
    if kernel is None:
        return
    stale = kernel.status == KernelStatus.PENDING or kernel.agent_id != event.agent_id
    if stale or kernel.status in KernelStatus.dead() or kernel.status == KernelStatus.TERMINATING:
        # destroyed while it was starting, or requeued/placed elsewhere since: make sure this
        # agent's container goes away
        _send_after_commit(
            event.agent_id,
            "destroy_kernel",
            DestroyKernel(
                kernel_id=event.kernel_id, session_id=event.session_id, reason=STALE_REASON
            ),
        )
        return
    ports = {port.name: port.host_port for port in event.ports}
    kernel_transition(
        kernel=kernel,
        to=KernelStatus.RUNNING,
        reason="adopted" if event.adopted else "started",
        extra_fields={
            "container_id": event.container_id,
            "host_ports": ports,
            "runner_port": ports.get(RUNNER_PORT_NAME),
            "started_at": kernel.started_at or event.at,
        },
    )
    session = kernel.session
    pending = session.kernels.exclude(pk=kernel.pk).exclude(status=KernelStatus.RUNNING).exists()
    if not pending and session.status not in SessionStatus.dead():
        moved = session_transition(
            session=session, to=SessionStatus.RUNNING, reason="all kernels running"
        )
        if moved and session.session_type == SessionType.BATCH:
            session_batch_schedule(session)


@transaction.atomic
def on_kernel_creation_failed(event: KernelCreationFailed) -> None:
    kernel = _kernel_for_event(event.kernel_id)
    if kernel is None or kernel.status in KernelStatus.dead():
        return
    if kernel.status == KernelStatus.PENDING or kernel.agent_id != event.agent_id:
        log.info("stale creation failure ignored", extra={"kernel_id": event.kernel_id})
        return
    session = kernel.session
    if event.reason == INSUFFICIENT_RESOURCE and session_requeue(
        session=session,
        reason=INSUFFICIENT_RESOURCE,
        msg=f"Agent {event.agent_id} refused the placement ({event.detail[:200]}); "
        "the session waits for the scheduler again.",
    ):
        return
    # the agent released whatever it had allocated for the failed create
    _kernel_failed(kernel, reason=event.reason, detail=event.detail, agent_confirmed=True)


def _kernel_failed(kernel: Kernel, *, reason: str, detail: str, agent_confirmed: bool) -> None:
    """End `kernel` and its session in ERROR with `reason`, and stop its siblings. Unless the
    agent already confirmed nothing is left, it is asked to destroy the kernel and the capacity
    stays held until it answers."""
    session = kernel.session
    kernel_transition(kernel=kernel, to=KernelStatus.ERROR, reason=reason)
    if agent_confirmed:
        _release(kernel)
    elif kernel.agent_id is not None:
        _send_after_commit(
            kernel.agent_id,
            "destroy_kernel",
            DestroyKernel(kernel_id=str(kernel.pk), session_id=str(session.pk), reason=reason),
        )
    if session.status not in SessionStatus.dead():
        session_transition(
            session=session,
            to=SessionStatus.ERROR,
            reason=reason,
            status_data={**session.status_data, "error": {"reason": reason, "detail": detail}},
        )
    _stop_other_kernels(session, except_kernel=kernel.pk, reason="sibling-failed")


@transaction.atomic
def kernel_start_give_up(*, kernel_id: UUID, reason: str, detail: str) -> bool:
    """The coordinator's end of a start or restart that made no progress (ERROR with `reason`).
    Returns False when the kernel moved on meanwhile."""
    kernel = _kernel_for_event(str(kernel_id))
    if kernel is None or (
        kernel.status not in KernelStatus.starting() and kernel.status != KernelStatus.RESTARTING
    ):
        return False
    _kernel_failed(kernel, reason=reason, detail=detail, agent_confirmed=False)
    return True


def kernel_create_resend(kernel: Kernel) -> None:
    """Send `create_kernel` again (after commit); the agent answers a redelivered create for a
    kernel it runs with `kernel_started` and creates nothing."""
    if kernel.agent_id is None:
        return
    session = Session.objects.select_related("image", "access_key").get(pk=kernel.session_id)
    _send_after_commit(kernel.agent_id, "create_kernel", _create_command(session, kernel))


def kernel_destroy_resend(kernel: Kernel, *, reason: str) -> None:
    """Ask the kernel's agent again to destroy it; its `kernel_terminated` answer (sent even when
    the container is already gone) finishes the kernel and releases its capacity."""
    if kernel.agent_id is None:
        return
    _send_after_commit(
        kernel.agent_id,
        "destroy_kernel",
        DestroyKernel(kernel_id=str(kernel.pk), session_id=str(kernel.session_id), reason=reason),
    )


@transaction.atomic
def kernel_finish_agent_gone(*, kernel_id: UUID, reason: str) -> bool:
    """End a kernel whose agent no longer exists (nobody can confirm): TERMINATED, released."""
    kernel = _kernel_for_event(str(kernel_id))
    if kernel is None:
        return False
    if kernel.status not in KernelStatus.terminal():
        kernel_transition(kernel=kernel, to=KernelStatus.TERMINATED, reason=reason)
    _release(kernel)
    _session_after_kernel_end(kernel.session, kernel=kernel, reason=reason)
    return True


@transaction.atomic
def session_settle(*, session_id: UUID, reason: str) -> bool:
    """Finish what a lost event left half done: a TERMINATING session whose kernels all ended
    becomes TERMINATED; an ERROR session's live kernels are stopped. True when it acted."""
    session = (
        Session.objects.select_for_update()
        .select_related("access_key")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        return False
    live = session.kernels.exclude(status__in=KernelStatus.dead())
    if session.status == SessionStatus.TERMINATING and not live.exists():
        return session_transition(session=session, to=SessionStatus.TERMINATED, reason=reason)
    if (
        session.status == SessionStatus.ERROR
        and live.exclude(status=KernelStatus.TERMINATING).exists()
    ):
        _stop_other_kernels(session, except_kernel=None, reason=reason)
        return True
    return False


@transaction.atomic
def on_kernel_terminated(event: KernelTerminated) -> None:
    kernel = _kernel_for_event(event.kernel_id)
    if kernel is None:
        return
    restarted_since = (
        kernel.status == KernelStatus.RUNNING
        and kernel.status_changed is not None
        and kernel.status_changed > event.at
    )
    if (
        kernel.agent_id != event.agent_id
        or kernel.status == KernelStatus.PENDING
        or (
            event.reason in (STALE_REASON, ORPHAN_REASON)
            and kernel.status in KernelStatus.starting()
        )
    ):
        # the clean-up of an earlier placement of a requeued kernel: it holds nothing there (a
        # kernel placed again on the same agent since reconcile judged it unknown is starting; if
        # the clean-up removed its new container, the coordinator re-sends create_kernel)
        log.info(
            "terminated event of an earlier placement ignored", extra={"kernel_id": event.kernel_id}
        )
        return
    if kernel.status == KernelStatus.RESTARTING or restarted_since:
        # the stop half of a restart, seen by the agent's watcher: the container lives on
        log.info(
            "terminated event of a restarting kernel ignored", extra={"kernel_id": event.kernel_id}
        )
        return
    if (
        event.reason == TERMINATED_WHILE_AGENT_DOWN
        and kernel.status in KernelStatus.starting()
        and session_requeue(
            session=kernel.session,
            reason=event.reason,
            msg=f"Agent {event.agent_id} stopped before the kernel started (its container was "
            "gone when the agent came back); the session waits for the scheduler again.",
        )
    ):
        # an agent crash in the middle of a create is not the user's doing: place it again
        return
    if kernel.status not in KernelStatus.terminal():
        kernel_transition(
            kernel=kernel,
            to=KernelStatus.TERMINATED,
            reason=event.reason or ("oom-killed" if event.oom_killed else "terminated"),
            extra_fields={"exit_code": event.exit_code, "oom_killed": event.oom_killed},
        )
    _release(kernel)
    _session_after_kernel_end(kernel.session, kernel=kernel, reason=event.reason)


@transaction.atomic
def on_agent_lost(event: AgentLost) -> None:
    """A lost agent's capacity is free (its containers are presumed gone). Sessions that had not
    started there go back to PENDING; started ones end (`agent-lost`)."""
    kernels = list(
        Kernel.objects.select_for_update()
        .select_related("session", "session__access_key")
        .filter(Q(holds_resources=True) | ~Q(status__in=KernelStatus.terminal()))
        .filter(agent_id=event.agent_id)
    )
    sessions = {k.session_id: k.session for k in kernels}
    requeued: set[UUID] = set()
    for session in sessions.values():
        unstarted = (
            session.status in SessionStatus.starting()
            and not session.kernels.filter(status=KernelStatus.RUNNING).exists()
        )
        if unstarted and session_requeue(
            session=session,
            reason=AGENT_LOST,
            msg=f"Agent {event.agent_id} was lost before the session started; "
            "the session waits for the scheduler again.",
        ):
            requeued.add(session.pk)
    for kernel in kernels:
        if kernel.session_id in requeued:
            continue
        kernel.refresh_from_db(fields=["status", "status_info", "status_changed"])
        if kernel.status not in KernelStatus.terminal():
            kernel_transition(kernel=kernel, to=KernelStatus.TERMINATED, reason=AGENT_LOST)
        _release(kernel)
    for session in sessions.values():
        if session.pk not in requeued:
            _session_after_kernel_end(session, kernel=None, reason=AGENT_LOST)


def unknown_kernels(agent_id: str, kernel_ids: Sequence[str]) -> Collection[str]:
    """Kernel ids an agent reports that we do not expect to run there (it removes them)."""
    valid = [kid for kid in kernel_ids if _as_uuid(kid) is not None]
    wanted = {
        str(pk)
        for pk in Kernel.objects.filter(pk__in=valid, agent_id=agent_id)
        .exclude(status__in=KernelStatus.dead())
        .exclude(status=KernelStatus.TERMINATING)
        .values_list("pk", flat=True)
    }
    return [kid for kid in kernel_ids if kid not in wanted]


def _session_after_kernel_end(session: Session, *, kernel: Kernel | None, reason: str) -> None:
    session.refresh_from_db()
    if session.status in SessionStatus.terminal():
        return
    live = list(session.kernels.exclude(status__in=KernelStatus.dead()))
    if (
        kernel is not None
        and session.session_type == SessionType.BATCH
        and kernel.cluster_role == "main"
        and session.result == SessionResult.UNDEFINED
        and session.status in SessionStatus.running()
    ):
        success = kernel.exit_code == 0
        session.result = SessionResult.SUCCESS if success else SessionResult.FAILURE
        session.save(update_fields=["result"])
        session_event_publish(
            "session_success" if success else "session_failure",
            session=session,
            reason="batch-finished",
            exit_code=kernel.exit_code,
        )
    if live:
        if session.status != SessionStatus.TERMINATING and session.status != SessionStatus.ERROR:
            session_transition(session=session, to=SessionStatus.TERMINATING, reason=reason)
        _stop_other_kernels(session, except_kernel=None, reason=reason)
        return
    if session.status == SessionStatus.ERROR:
        return  # it failed; its kernels' clean-up does not make it a normal end
    if session.status != SessionStatus.TERMINATING:
        session_transition(session=session, to=SessionStatus.TERMINATING, reason=reason)
    session_transition(
        session=session, to=SessionStatus.TERMINATED, reason=reason or session.status_info
    )


def _stop_other_kernels(session: Session, *, except_kernel: UUID | None, reason: str) -> None:
    for other in session.kernels.select_for_update().exclude(status__in=KernelStatus.dead()):
        if other.pk == except_kernel or other.status == KernelStatus.TERMINATING:
            continue
        _kernel_stop(other, reason=reason, forced=False)


def _kernel_stop(kernel: Kernel, *, reason: str, forced: bool) -> None:
    """Ask the kernel's agent to destroy it; end it at once when it never reached an agent,
    when forced, or when its agent is not alive.

    Capacity a kernel holds on an agent it reached is given back only when that agent confirms
    (`kernel_terminated`, re-asked by the coordinator) or is LOST: the agent frees its CPUs and
    devices only once the container is gone.
    """
    agent = kernel.agent
    placed = kernel.agent_id is not None and kernel.status not in (
        KernelStatus.PENDING,
        KernelStatus.SCHEDULED,
    )
    alive = agent is not None and agent.status == AgentStatus.ALIVE
    agent_gone = agent is None or agent.status == AgentStatus.LOST
    if placed and alive and kernel.agent_id is not None:
        _send_after_commit(
            kernel.agent_id,
            "destroy_kernel",
            DestroyKernel(
                kernel_id=str(kernel.pk), session_id=str(kernel.session_id), reason=reason
            ),
        )
    if placed and alive and not forced:
        kernel_transition(kernel=kernel, to=KernelStatus.TERMINATING, reason=reason)
        return
    to = (
        KernelStatus.TERMINATED
        if placed or kernel.status != KernelStatus.PENDING
        else KernelStatus.CANCELLED
    )
    kernel_transition(kernel=kernel, to=to, reason=reason)
    if not placed or agent_gone:
        _release(kernel)


# --- user requests ---------------------------------------------------------------------------


@transaction.atomic
def session_destroy(
    *, session: Session, forced: bool = False, reason: str = "user-requested"
) -> None:
    """Mark a session for termination and tell its agents (idempotent)."""
    session = Session.objects.select_for_update().select_related("access_key").get(pk=session.pk)
    match session.status:
        case SessionStatus.TERMINATED | SessionStatus.CANCELLED:
            return
        case SessionStatus.PENDING:
            for kernel in session.kernels.select_for_update():
                kernel_transition(kernel=kernel, to=KernelStatus.CANCELLED, reason=reason)
                _release(kernel)
            session_transition(session=session, to=SessionStatus.CANCELLED, reason=reason)
            return
        case SessionStatus.TERMINATING if not forced:
            return
    if session.status != SessionStatus.TERMINATING:
        session_transition(session=session, to=SessionStatus.TERMINATING, reason=reason)
    for kernel in session.kernels.select_for_update(of=("self",)).select_related("agent"):
        if kernel.status in KernelStatus.dead():
            continue  # whatever it still holds is released when its agent confirms
        if kernel.status == KernelStatus.TERMINATING and not forced:
            continue
        _kernel_stop(kernel, reason=reason, forced=forced)
    if not session.kernels.exclude(status__in=KernelStatus.dead()).exists():
        session_transition(session=session, to=SessionStatus.TERMINATED, reason=reason)


def sessions_destroy_recursive(*, session: Session, forced: bool, reason: str) -> list[UUID]:
    """Destroy `session` and every live session that depends on it, dependents first."""
    order: list[Session] = []
    seen: set[UUID] = set()
    stack = [session]
    while stack:
        current = stack.pop()
        if current.pk in seen:
            continue
        seen.add(current.pk)
        order.append(current)
        stack.extend(
            Session.objects.filter(dependencies__depends_on=current).exclude(
                status__in=SessionStatus.terminal()
            )
        )
    for item in reversed(order):
        session_destroy(session=item, forced=forced, reason=reason)
    return [s.pk for s in order]


@transaction.atomic
def session_restart(*, session: Session) -> None:
    session = Session.objects.select_for_update().select_related("access_key").get(pk=session.pk)
    if session.status not in (SessionStatus.RUNNING, SessionStatus.RUNNING_DEGRADED):
        raise InvalidSessionState(f"Only running sessions restart (this one is {session.status}).")
    session_transition(session=session, to=SessionStatus.RESTARTING, reason="user-requested")
    for kernel in session.kernels.select_for_update():
        if kernel.agent_id is None or kernel.status != KernelStatus.RUNNING:
            continue
        kernel_transition(kernel=kernel, to=KernelStatus.RESTARTING, reason="user-requested")
        _send_after_commit(
            kernel.agent_id,
            "restart_kernel",
            KernelRef(kernel_id=str(kernel.pk), session_id=str(session.pk)),
        )


@transaction.atomic
def session_rename(*, session: Session, new_name: str) -> None:
    if not SESSION_NAME_RE.match(new_name):
        raise InvalidAPIParameters("Session names have 4 to 64 letters, digits, '-', '_' or '.'.")
    clash = (
        Session.objects.filter(access_key_id=session.access_key_id, name=new_name)
        .exclude(pk=session.pk)
        .exclude(status__in=SessionStatus.dead())
        .first()
    )
    if clash is not None:
        raise SessionAlreadyExists(data={"existingSessionId": str(clash.pk)})
    Session.objects.filter(pk=session.pk).update(name=new_name)
    session.name = new_name
    log.info("session renamed", extra={"session_id": str(session.pk), "new_name": new_name})
