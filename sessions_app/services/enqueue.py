"""`POST /session`: validate a create request against policies and write a PENDING session.

Checks run in the order a person would fix them: who, where (domain, project, resource group),
what (image, session type), how much (resources against the image minimum, the policy and the
largest agent), how many (pending sessions, containers). The session, its kernels, dependencies and
first history row are written in one transaction; the scheduler is hinted on commit.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents_app.models import AgentResource, Image, ResourceGroup
from agents_app.schemas import ResourceGroupOpts
from agents_app.selectors import image_resolve, resource_groups_usable
from backendai_site.accounts.enums import DefaultForUnspecified, UserRole
from backendai_site.accounts.models import KeyPair, Project
from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.resource_slot import ResourceSlot, format_binary_size, is_bytes_slot
from backendai_site.manager.selectors import manager_check_accepts_sessions
from sessions_app.enums import (
    ClusterMode,
    KernelRole,
    KernelStatus,
    SessionStatus,
)
from sessions_app.errors import (
    AgentDesignationNotAllowed,
    DependencyNotFound,
    DomainMismatch,
    ExceedsAgentCapacity,
    ImageNotFound,
    InsufficientResourceRequest,
    InvalidPriority,
    ProjectNotFound,
    ResourceGroupNotAllowed,
    ResourceLimitExceeded,
    SessionAlreadyExists,
    SessionTypeNotAllowed,
    TooManyContainers,
    TooManyPendingSessions,
    UnknownResourceSlot,
)
from sessions_app.models import Kernel, Session, SessionDependency, SessionStatusHistory
from sessions_app.scheduler.hints import scheduler_hint
from sessions_app.schemas import SessionCreateRequest, parse_starts_at
from sessions_app.selectors import owner_keypair_resolve
from storage_app.services.mounts import session_mounts_resolve

from .callbacks import callback_url_check
from .dotfiles import session_environ_with_dotfiles
from .events import session_event_publish
from .warm_pools import session_claim_warm, warm_pool_for_request

log = logging.getLogger(__name__)

PRIORITY_MIN, PRIORITY_MAX = 0, 100
DEFAULT_SLOTS = {"cpu": Decimal(1), "mem": Decimal(256 * 1024**2)}


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    session: Session
    created: bool


def _project_resolve(*, owner: KeyPair, group: str | None) -> Project:
    name = group or "default"
    qs = Project.objects.filter(domain_id=owner.user.domain_id, is_active=True)
    try:
        project = qs.filter(pk=uuid.UUID(name)).first()
    except ValueError:
        project = qs.filter(name=name).first()
    if project is None:
        raise ProjectNotFound(f"No project {name!r} in domain {owner.user.domain.name!r}.")
    is_admin = owner.user.role in (UserRole.SUPERADMIN, UserRole.ADMIN)
    if not is_admin and not project.members.filter(pk=owner.user_id).exists():
        raise ProjectNotFound(f"You are not a member of project {name!r}.")
    return project


def resource_groups_allowed(*, owner: KeyPair, project: Project) -> list[ResourceGroup]:
    """Active groups that are public or bound to the owner's domain, project or keypair."""
    return list(resource_groups_usable(keypair=owner, project=project))


def _resource_group_resolve(
    *, owner: KeyPair, project: Project, requested: str | None, session_type: str
) -> ResourceGroup:
    allowed = resource_groups_allowed(owner=owner, project=project)
    if requested:
        for group in allowed:
            if group.name == requested:
                break
        else:
            raise ResourceGroupNotAllowed(f"Resource group {requested!r} is not available to you.")
        candidates = [group]
    else:
        candidates = allowed
    if not candidates:
        raise ResourceGroupNotAllowed("No resource group is available to you.")
    for group in candidates:
        opts = ResourceGroupOpts.model_validate(group.scheduler_opts or {})
        if session_type in opts.allowed_session_types:
            return group
    raise SessionTypeNotAllowed(
        f"No resource group available to you allows {session_type} sessions.",
        data={"resource_groups": [g.name for g in candidates]},
    )


def _image_resolve(*, ref: str, architecture: str) -> Image:
    image = image_resolve(ref_or_alias=ref, architecture=architecture)
    if image is None:
        raise ImageNotFound(f"Unknown image {ref!r} for architecture {architecture}.")
    return image


def _fmt(slot: str, value: Decimal) -> str:
    return format_binary_size(value) if is_bytes_slot(slot) else f"{value.normalize():f}"


def requested_slots_resolve(
    *, image: Image, raw: dict[str, object], known_slots: set[str]
) -> ResourceSlot:
    """Per-kernel slots: defaults and the image minimum, overridden by the request."""
    requested = ResourceSlot.parse(raw)
    unknown = sorted(set(requested) - known_slots)
    if unknown:
        raise UnknownResourceSlot(
            f"Unknown resource slot(s): {', '.join(unknown)}.", data={"known": sorted(known_slots)}
        )
    minimum = image.min_slots
    merged = dict(DEFAULT_SLOTS)
    merged.update({k: max(v, merged.get(k, Decimal(0))) for k, v in minimum.items()})
    merged.update(requested)
    slots = ResourceSlot(merged)
    short = {
        slot: {"requested": _fmt(slot, slots.get_or_zero(slot)), "minimum": _fmt(slot, need)}
        for slot, need in minimum.items()
        if slots.get_or_zero(slot) < need
    }
    if short:
        raise InsufficientResourceRequest(
            "Requested resources are below the image minimum: "
            + ", ".join(f"{k} {v['requested']} < {v['minimum']}" for k, v in short.items()),
            data=short,
        )
    return slots


def _check_policy(*, owner: KeyPair, total: ResourceSlot) -> None:
    policy = owner.resource_policy
    limits = ResourceSlot.parse(policy.total_resource_slots or {})
    unlimited = policy.default_for_unspecified == DefaultForUnspecified.UNLIMITED
    over: dict[str, dict[str, str]] = {}
    for slot, amount in total.items():
        if slot not in limits and unlimited:
            continue
        limit = limits.get_or_zero(slot)
        if amount > limit:
            over[slot] = {"requested": _fmt(slot, amount), "limit": _fmt(slot, limit)}
    if over:
        raise ResourceLimitExceeded(
            f"Keypair resource policy {policy.name!r} allows less: "
            + ", ".join(f"{k} {v['requested']} > {v['limit']}" for k, v in over.items()),
            data=over,
        )


def _agent_capacities(group: ResourceGroup) -> dict[str, dict[str, Decimal]]:
    rows = AgentResource.objects.filter(agent__resource_group=group).values_list(
        "agent_id", "slot_name", "capacity"
    )
    capacity: dict[str, dict[str, Decimal]] = {}
    for agent_id, slot, cap in rows:
        capacity.setdefault(agent_id, {})[slot] = cap
    return capacity


def _check_largest_agent(
    *,
    group: ResourceGroup,
    capacity: dict[str, dict[str, Decimal]],
    per_kernel: ResourceSlot,
    kernels_on_one_agent: int,
) -> None:
    """Raise when no agent of the group could ever hold the request."""
    if not capacity:
        return  # no agent yet: the scheduler's verdict will say so
    need = ResourceSlot({k: v * kernels_on_one_agent for k, v in per_kernel.items()})
    if any(need <= ResourceSlot(caps) for caps in capacity.values()):
        return
    biggest = max(capacity.values(), key=lambda caps: sum(caps.values()))
    raise ExceedsAgentCapacity(
        f"No agent of resource group {group.name!r} is large enough.",
        data={
            "requested": need.to_json(),
            "largest_agent": ResourceSlot(biggest).to_json(),
        },
    )


def _existing_live(owner: KeyPair, name: str) -> Session | None:
    return (
        Session.objects.filter(access_key=owner, name=name)
        .exclude(status__in=SessionStatus.dead())
        .select_related("image")
        .first()
    )


def session_enqueue(
    *, requester: KeyPair, request: SessionCreateRequest, now: datetime | None = None
) -> EnqueueResult:
    """Validate `request` and write a PENDING session (or return the reusable existing one)."""
    now = now or timezone.now()
    manager_check_accepts_sessions()  # a frozen manager takes no new session (409 server-frozen)
    if request.config.agent_list and requester.user.role != UserRole.SUPERADMIN:
        # as in Backend.AI: placing sessions on chosen agents bypasses the scheduler's policy
        raise AgentDesignationNotAllowed(
            "You are not allowed to choose the agents of your session (agentList)."
        )
    owner = owner_keypair_resolve(requester=requester, owner_access_key=request.owner_access_key)
    if request.domain and request.domain != owner.user.domain.name:
        raise DomainMismatch(f"The session owner belongs to domain {owner.user.domain.name!r}.")
    name = request.name or f"session-{uuid.uuid4().hex[:10]}"
    existing = _existing_live(owner, name)
    image_ref = request.image
    architecture = request.architecture or "x86_64"
    if existing is not None:
        return _reuse_or_refuse(existing=existing, request=request)
    if not PRIORITY_MIN <= request.priority <= PRIORITY_MAX:
        raise InvalidPriority(f"priority must be within {PRIORITY_MIN}..{PRIORITY_MAX}")
    policy = owner.resource_policy
    if request.cluster_size > policy.max_containers_per_session:
        raise TooManyContainers(
            f"cluster size {request.cluster_size} > {policy.max_containers_per_session} "
            f"allowed by policy {policy.name!r}"
        )
    if policy.max_pending_session_count is not None:
        pending = Session.objects.filter(access_key=owner, status=SessionStatus.PENDING).count()
        if pending >= policy.max_pending_session_count:
            raise TooManyPendingSessions(
                f"{pending} sessions already pending (limit {policy.max_pending_session_count})."
            )
    project = _project_resolve(owner=owner, group=request.group)
    group = _resource_group_resolve(
        owner=owner,
        project=project,
        requested=request.config.scaling_group,
        session_type=request.session_type,
    )
    image = _image_resolve(ref=image_ref, architecture=architecture)
    single_node = request.cluster_mode == ClusterMode.SINGLE_NODE
    capacity = _agent_capacities(group)
    known_slots = {"cpu", "mem"} | {slot for caps in capacity.values() for slot in caps}
    per_kernel = requested_slots_resolve(
        image=image, raw=request.config.resources, known_slots=known_slots
    )
    total = ResourceSlot({k: v * request.cluster_size for k, v in per_kernel.items()})
    _check_policy(owner=owner, total=total)
    _check_largest_agent(
        group=group,
        capacity=capacity,
        per_kernel=per_kernel,
        kernels_on_one_agent=request.cluster_size if single_node else 1,
    )
    if request.callback_url:
        callback_url_check(request.callback_url)
    starts_at = None
    if request.starts_at:
        try:
            starts_at = parse_starts_at(request.starts_at, now)
        except ValueError as exc:
            raise InvalidAPIParameters(str(exc), data={"starts_at": str(exc)}) from None
    dependencies = _dependencies_resolve(owner=owner, ids=request.dependencies or [])
    mounts = _mounts_resolve(owner=owner, request=request)
    pool = warm_pool_for_request(
        request=request, group_id=group.pk, image_id=image.pk, per_kernel=per_kernel
    )
    try:
        with transaction.atomic():
            session = _write_session(
                owner=owner,
                project=project,
                group=group,
                image=image,
                request=request,
                name=name,
                architecture=architecture,
                per_kernel=per_kernel,
                total=total,
                starts_at=starts_at,
                dependencies=dependencies,
                mounts=mounts,
                now=now,
            )
            if pool is not None and not mounts:
                session_claim_warm(session=session, pool=pool, now=now)
    except IntegrityError:
        # a concurrent create took the name between our check and the insert
        existing = _existing_live(owner, name)
        if existing is None:
            raise
        return _reuse_or_refuse(existing=existing, request=request)
    return EnqueueResult(session=session, created=True)


def _reuse_or_refuse(*, existing: Session, request: SessionCreateRequest) -> EnqueueResult:
    same_image = request.image in (existing.image_ref, existing.image.canonical)
    if request.reuse_if_exists and same_image:
        return EnqueueResult(session=existing, created=False)
    raise SessionAlreadyExists(data={"existingSessionId": str(existing.pk)})


def _dependencies_resolve(*, owner: KeyPair, ids: list[uuid.UUID]) -> list[Session]:
    if not ids:
        return []
    found = list(Session.objects.filter(pk__in=ids, access_key=owner))
    missing = sorted(str(i) for i in set(ids) - {s.pk for s in found})
    if missing:
        raise DependencyNotFound(f"Unknown dependency session(s): {', '.join(missing)}.")
    return found


def _mounts_resolve(*, owner: KeyPair, request: SessionCreateRequest) -> list[dict[str, Any]]:
    """Folders to bind-mount, checked against what the owner may use (storage_app decides)."""
    config = request.config
    return session_mounts_resolve(
        user=owner.user,
        mounts=config.mounts,
        mount_map=config.mount_map,
        mount_options={k: v.model_dump(exclude_none=True) for k, v in config.mount_options.items()},
        mount_ids=config.mount_ids,
        mount_id_map=config.mount_id_map,
    )


def _write_session(
    *,
    owner: KeyPair,
    project: Project,
    group: ResourceGroup,
    image: Image,
    request: SessionCreateRequest,
    name: str,
    architecture: str,
    per_kernel: ResourceSlot,
    total: ResourceSlot,
    starts_at: datetime | None,
    dependencies: list[Session],
    mounts: list[dict[str, Any]],
    now: datetime,
) -> Session:
    config = request.config
    session = Session.objects.create(
        name=name,
        session_type=request.session_type,
        priority=request.priority,
        cluster_mode=request.cluster_mode,
        cluster_size=request.cluster_size,
        tag=request.tag or "",
        domain_id=owner.user.domain_id,
        project=project,
        user_id=owner.user_id,
        access_key=owner,
        resource_group=group,
        image=image,
        image_ref=request.image,
        architecture=architecture,
        requested_slots=per_kernel.to_json(),
        occupying_slots=total.to_json(),
        resource_opts=config.resource_opts,
        designated_agents=config.agent_list or [],
        status=SessionStatus.PENDING,
        status_changed=now,
        startup_command=request.startup_command or "",
        bootstrap_script=request.bootstrap_script or "",
        batch_timeout=request.batch_timeout,
        starts_at=starts_at,
        callback_url=request.callback_url or "",
        environ=session_environ_with_dotfiles(
            environ=config.environ, owner=owner, project=project, mounts=mounts
        ),
        mounts=mounts,
        preopen_ports=config.preopen_ports or [],
    )
    kernels = []
    for idx in range(1, request.cluster_size + 1):
        role = KernelRole.MAIN if idx == 1 else KernelRole.SUB
        role_idx = 1 if idx == 1 else idx - 1
        kernels.append(
            Kernel(
                session=session,
                cluster_role=role,
                cluster_idx=idx,
                cluster_hostname=f"{role}{role_idx}",
                status=KernelStatus.PENDING,
                status_changed=now,
                requested_slots=per_kernel.to_json(),
                service_ports=image.service_ports,
            )
        )
    Kernel.objects.bulk_create(kernels)
    SessionDependency.objects.bulk_create(
        SessionDependency(session=session, depends_on=dep) for dep in dependencies
    )
    SessionStatusHistory.objects.create(
        session=session, status=SessionStatus.PENDING, reason="enqueued", at=now
    )
    session_event_publish("session_enqueued", session=session)
    scheduler_hint(group.pk)
    log.info(
        "session enqueued",
        extra={"session_id": str(session.pk), "resource_group": group.name, "owner": owner.pk},
    )
    return session
