"""What the console's front page shows, read in a constant number of queries and scoped by the
rules that already exist: sessions by `sessions_app.selectors.sessions_for`, usage by
`sessions_app.selectors_usage.usage_scope`, the reach of a domain admin or a domain monitor by
`accounts.selectors.user_watched_domain_id`.

Capacity scope (docs/design/0009-console.md): a user who reaches every domain sees every
resource group; one confined to a domain sees the groups that domain's sessions may use (public
groups and groups bound to the domain, to one of its projects or to one of its users' keypairs),
all of their capacity (an agent is shared, so its free room is what the domain may get). Agent
rows (per agent, and the agents not ALIVE) show only to a user whose role opens the agents page
(`agents_app.view_agent`); a domain admin sees group totals only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from agents_app.enums import AgentStatus
from agents_app.models import Agent, ResourceGroup
from backendai_site.accounts.models import User
from backendai_site.accounts.selectors import user_watched_domain_id
from sessions_app.enums import PooledKernelStatus, SessionAction, SessionStatus
from sessions_app.models import UsageInterval, WarmPool
from sessions_app.selectors import sessions_for
from sessions_app.selectors_usage import usage_scope, usage_totals

from . import formatting

PENDING_SHOWN = 50
"""Pending sessions listed on the front page (the sessions page lists them all)."""


@dataclass(slots=True)
class SlotGauge:
    slot: str
    used: Decimal
    capacity: Decimal

    @property
    def free(self) -> Decimal:
        return max(self.capacity - self.used, Decimal(0))

    @property
    def percent(self) -> int:
        return formatting.percent(self.used, self.capacity)

    @property
    def text(self) -> str:
        return formatting.used_of(self.slot, self.used, self.capacity)

    @property
    def free_text(self) -> str:
        return formatting.amount(self.slot, self.free)

    def as_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "unit": formatting.slot_unit(self.slot),
            "used": float(formatting.gauge_value(self.slot, self.used)),
            "capacity": float(formatting.gauge_value(self.slot, self.capacity)),
            "free": float(formatting.gauge_value(self.slot, self.free)),
        }


def _gauges(totals: dict[str, list[Decimal]]) -> list[SlotGauge]:
    order = {"cpu": 0, "mem": 1}
    return [
        SlotGauge(slot, used, capacity)
        for slot, (used, capacity) in sorted(
            totals.items(), key=lambda item: (order.get(item[0], 2), item[0])
        )
    ]


@dataclass(slots=True)
class AgentRow:
    id: str
    status: str
    schedulable: bool
    resource_group: str
    last_heartbeat: datetime | None
    gauges: list[SlotGauge]

    @property
    def heartbeat_age(self) -> str:
        return formatting.age(self.last_heartbeat)

    @property
    def status_variant(self) -> str:
        return formatting.AGENT_STATUS_LABELS.get(self.status, "")


@dataclass(slots=True)
class GroupRow:
    name: str
    scheduler: str
    agents_alive: int
    agents_total: int
    gauges: list[SlotGauge]


@dataclass(slots=True)
class PendingRow:
    id: UUID
    name: str
    resource_group: str
    owner: str
    waited: str
    queue_position: int | None
    sentence: str


@dataclass(slots=True)
class StatusCount:
    status: str
    count: int

    @property
    def variant(self) -> str:
        return formatting.SESSION_STATUS_LABELS.get(self.status, "")

    @property
    def text(self) -> str:
        return f"{self.status}: {self.count}"


@dataclass(slots=True)
class Dashboard:
    groups: list[GroupRow] = field(default_factory=list)
    agents: list[AgentRow] | None = None
    """None when the user's role does not open the agents page."""
    agents_down: list[AgentRow] = field(default_factory=list)
    status_counts: list[StatusCount] = field(default_factory=list)
    pending: list[PendingRow] = field(default_factory=list)
    pending_total: int = 0
    usage: list[UsageRow] = field(default_factory=list)
    warm_pools: list[WarmPoolRow] | None = None
    """The warm pools of the groups the user sees; None hides the section."""


@dataclass(slots=True)
class UsageRow:
    project: str
    starts_day: int
    starts_month: int
    slot_hours_day: dict[str, Decimal]
    slot_hours_month: dict[str, Decimal]

    @property
    def hours_day_text(self) -> str:
        return formatting.slot_hours(self.slot_hours_day)

    @property
    def hours_month_text(self) -> str:
        return formatting.slot_hours(self.slot_hours_month)


def visible_resource_groups(user: User) -> QuerySet[ResourceGroup]:
    """The resource groups whose capacity the user sees on the dashboard (see the module)."""
    groups = ResourceGroup.objects.filter(is_active=True)
    domain_id = user_watched_domain_id(user=user)
    if domain_id is None:
        return groups.order_by("name")
    return (
        groups.filter(
            Q(is_public=True)
            | Q(domains=domain_id)
            | Q(projects__domain_id=domain_id)
            | Q(keypairs__user__domain_id=domain_id)
        )
        .distinct()
        .order_by("name")
    )


def _capacity(user: User, dashboard: Dashboard) -> None:
    groups = list(visible_resource_groups(user))
    agents = list(
        Agent.objects.filter(resource_group__in=[group.pk for group in groups])
        .order_by("resource_group__name", "id")
        .prefetch_related("resources")
    )
    names = {group.pk: group.name for group in groups}
    per_group: dict[int, dict[str, list[Decimal]]] = {group.pk: {} for group in groups}
    alive: Counter[int] = Counter()
    total: Counter[int] = Counter()
    rows: list[AgentRow] = []
    for agent in agents:
        slots: dict[str, list[Decimal]] = {}
        for resource in agent.resources.all():
            slots[resource.slot_name] = [resource.used, resource.capacity]
        total[agent.resource_group_id] += 1
        if agent.status == AgentStatus.ALIVE:
            alive[agent.resource_group_id] += 1
            if agent.schedulable:  # a drained agent's room is not offered to new sessions
                group_slots = per_group[agent.resource_group_id]
                for slot, (used, capacity) in slots.items():
                    pair = group_slots.setdefault(slot, [Decimal(0), Decimal(0)])
                    pair[0] += used
                    pair[1] += capacity
        rows.append(
            AgentRow(
                id=agent.pk,
                status=agent.status,
                schedulable=agent.schedulable,
                resource_group=names[agent.resource_group_id],
                last_heartbeat=agent.last_heartbeat,
                gauges=_gauges(slots),
            )
        )
    dashboard.groups = [
        GroupRow(
            name=group.name,
            scheduler=group.get_scheduler_display(),
            agents_alive=alive[group.pk],
            agents_total=total[group.pk],
            gauges=_gauges(per_group[group.pk]),
        )
        for group in groups
    ]
    if user.has_perm("agents_app.view_agent"):
        dashboard.agents = rows
        dashboard.agents_down = [row for row in rows if row.status != AgentStatus.ALIVE]


def _sessions(user: User, dashboard: Dashboard, now: datetime) -> None:
    visible = sessions_for(user, SessionAction.VIEW)
    shown = set(SessionStatus.live()) | {SessionStatus.ERROR}
    counts = dict(
        visible.filter(
            Q(status__in=shown)
            | Q(status__in=SessionStatus.dead(), terminated_at__gte=now - timedelta(days=1))
        )
        .order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
    )
    dashboard.status_counts = [
        StatusCount(str(status), counts[status]) for status in SessionStatus if counts.get(status)
    ]
    dashboard.pending_total = counts.get(SessionStatus.PENDING, 0)
    pending = (
        visible.filter(status=SessionStatus.PENDING)
        .select_related("resource_group", "user")
        .order_by("resource_group__name", "created_at")[:PENDING_SHOWN]
    )
    rows = []
    for session in pending:
        data = (session.status_data or {}).get("scheduler") or {}
        position = data.get("queue_position")
        rows.append(
            PendingRow(
                id=session.pk,
                name=session.name,
                resource_group=session.resource_group.name,
                owner=session.user.email,
                waited=formatting.age(session.created_at, now),
                queue_position=position if isinstance(position, int) else None,
                sentence=formatting.verdict(
                    data, scheduler=session.resource_group.get_scheduler_display(), now=now
                ),
            )
        )
    rows.sort(key=lambda r: (r.resource_group, r.queue_position or 10**9))
    dashboard.pending = rows


@dataclass(slots=True)
class UsageSeries:
    """Per project: kernel starts and slot-hours in each bucket of a window."""

    labels: list[str]
    starts: dict[str, list[int]]
    slot_hours: dict[str, dict[str, list[float]]]
    """slot -> project -> one value per bucket, in the slot's unit (GiB-hours for memory)."""


def _buckets(window: str, now: datetime) -> tuple[datetime, list[datetime]]:
    if window == "day":
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return end - timedelta(hours=24), [end - timedelta(hours=24 - i) for i in range(24)]
    today = timezone.localtime(now, timezone.get_default_timezone()).date()
    return _day_start(today - timedelta(days=29)), [
        _day_start(today - timedelta(days=29 - i)) for i in range(30)
    ]


def _day_start(day: Any) -> datetime:
    tz = timezone.get_default_timezone()
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _key(window: str, at: Any) -> Any:
    if window == "day":
        return at.replace(minute=0, second=0, microsecond=0)
    if isinstance(at, datetime):
        return timezone.localtime(at, timezone.get_default_timezone()).date()
    return at


def usage_series(user: User, *, window: str, now: datetime | None = None) -> UsageSeries:
    """The last 24 hours by hour (`window="day"`) or 30 days by day (`"month"`, days of the
    site's time zone) of the usage ledger the user may read: three queries."""
    now = now or timezone.now()
    start, buckets = _buckets(window, now)
    keys = [_key(window, bucket) for bucket in buckets]
    index = {key: i for i, key in enumerate(keys)}
    rows = UsageInterval.objects.filter(usage_scope(user), started_at__gte=start)
    slot_hours: dict[str, dict[str, list[float]]] = {}
    for total in usage_totals(rows, by=("hour" if window == "day" else "day", "project_name")):
        position = index.get(_key(window, total.key[0]))
        if position is None:
            continue
        for slot, hours in total.slot_hours().items():
            series = slot_hours.setdefault(slot, {}).setdefault(total.key[1], [0.0] * len(keys))
            series[position] += float(formatting.gauge_value(slot, hours))
    starts: dict[str, list[int]] = {}
    # a kernel starts where its first ledger row starts (rows are cut at the hour, the first
    # begins when the kernel did)
    firsts = (
        UsageInterval.objects.filter(usage_scope(user))
        .filter(kernel_id__in=rows.values("kernel_id"))
        .values("kernel_id", "project_name")
        .annotate(first=Min("started_at"))
        .filter(first__gte=start)
    )
    for row in firsts:
        position = index.get(_key(window, row["first"]))
        if position is not None:
            starts.setdefault(row["project_name"], [0] * len(keys))[position] += 1
    label: Callable[[datetime], str] = (
        (lambda at: f"{timezone.localtime(at):%H:00}")
        if window == "day"
        else (lambda at: f"{at:%m-%d}")
    )
    return UsageSeries(labels=[label(b) for b in buckets], starts=starts, slot_hours=slot_hours)


def _usage_rows(day: UsageSeries, month: UsageSeries) -> list[UsageRow]:
    projects = sorted(
        set(day.starts) | set(month.starts)
        | {p for series in month.slot_hours.values() for p in series}
    )  # fmt: skip

    def hours(series: UsageSeries, project: str) -> dict[str, Decimal]:
        return {
            slot: Decimal(str(sum(by_project[project])))
            for slot, by_project in series.slot_hours.items()
            if project in by_project
        }

    return [
        UsageRow(
            project=project,
            starts_day=sum(day.starts.get(project, [])),
            starts_month=sum(month.starts.get(project, [])),
            slot_hours_day=hours(day, project),
            slot_hours_month=hours(month, project),
        )
        for project in projects
    ]


def dashboard_for(user: User, *, now: datetime | None = None) -> Dashboard:
    """Everything the front page shows to `user`, in a constant number of queries."""
    now = now or timezone.now()
    dashboard = Dashboard()
    _capacity(user, dashboard)
    _sessions(user, dashboard, now)
    dashboard.usage = _usage_rows(
        usage_series(user, window="day", now=now), usage_series(user, window="month", now=now)
    )
    dashboard.warm_pools = _warm_pools(user)
    return dashboard


@dataclass(frozen=True, slots=True)
class WarmPoolRow:
    group: str
    image: str
    target: int
    ready: int
    creating: int
    hits: int
    misses: int
    enabled: bool

    def __str__(self) -> str:
        state = "" if self.enabled else " (disabled)"
        return (
            f"{self.image} in {self.group}: {self.ready} of {self.target} ready, "
            f"{self.creating} starting; {self.hits} hits, {self.misses} misses{state}"
        )


def _warm_pools(user: User) -> list[WarmPoolRow]:
    """Each visible pool's fill, in one query."""
    pools = (
        WarmPool.objects.filter(resource_group__in=visible_resource_groups(user).values("pk"))
        .select_related("resource_group", "image")
        .annotate(
            ready=Count("kernels", filter=Q(kernels__status=PooledKernelStatus.READY)),
            creating=Count("kernels", filter=Q(kernels__status=PooledKernelStatus.CREATING)),
        )
        .order_by("resource_group__name", "pk")
    )
    return [
        WarmPoolRow(
            group=pool.resource_group.name,
            image=str(pool.image),
            target=pool.target_size,
            ready=pool.ready,
            creating=pool.creating,
            hits=pool.hits,
            misses=pool.misses,
            enabled=pool.enabled,
        )
        for pool in pools
    ]
