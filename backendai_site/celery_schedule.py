"""Where Celery tasks run and when beat sends them, built from the site config.

`settings.py` sets `CELERY_TASK_ROUTES` and `CELERY_BEAT_SCHEDULE` from these two functions only;
django-celery-beat's database scheduler syncs the entries at start. Every beat entry expires after
its own interval, so a backlog never piles up while workers are away.
"""

from __future__ import annotations

from typing import Any

from backendai_site.config import SiteConfig

# how often beat fails batch sessions that ran past their timeout
BATCH_TIMEOUT_SWEEP_INTERVAL = 10.0
# the backstop of warm pool refills (claims and ended pooled kernels hint one at once)
WARM_POOL_REFILL_INTERVAL = 5.0


def task_routes() -> dict[str, dict[str, str]]:
    """Agent events on `events`; the image rescan's, the scheduler's, the idle checks',
    storage's and the audit purge's tasks on `manager`."""
    return {
        "agents_app.images_rescan": {"queue": "manager"},
        "agents_app.*": {"queue": "events"},
        "sessions_app.schedule_resource_group": {"queue": "manager"},
        "sessions_app.schedule_all_resource_groups": {"queue": "manager"},
        "sessions_app.sessions_idle_check": {"queue": "manager"},
        "sessions_app.sessions_coordinate": {"queue": "manager"},
        "sessions_app.usage_intervals_record": {"queue": "manager"},
        "sessions_app.warm_pools_refill": {"queue": "manager"},
        "storage_app.*": {"queue": "manager"},
        "audit.*": {"queue": "manager"},
    }


def _every(task: str, seconds: float, queue: str) -> dict[str, Any]:
    return {"task": task, "schedule": seconds, "options": {"queue": queue, "expires": seconds}}


def beat_schedule(config: SiteConfig) -> dict[str, dict[str, Any]]:
    """Every periodic task of the platform."""
    return {
        # agents whose heartbeats stopped for `agents.lost_timeout` become LOST
        "agents-sweep-lost": _every(
            "agents_app.sweep_lost_agents", config.agents.sweep_interval, "events"
        ),
        # a backstop pass of every active resource group (a pass skips at once when another
        # holds the group's lock); hints wake the scheduler in between
        "sessions-scheduler-backstop": _every(
            "sessions_app.schedule_all_resource_groups",
            config.scheduler.backstop_interval,
            "manager",
        ),
        # every transient status's handler: re-sends lost commands, ends what made no progress
        "sessions-coordinator": _every(
            "sessions_app.sessions_coordinate", config.coordinator.interval, "manager"
        ),
        # warm pools brought to their target size, expired pooled kernels replaced
        "sessions-warm-pools-refill": _every(
            "sessions_app.warm_pools_refill", WARM_POOL_REFILL_INTERVAL, "manager"
        ),
        "sessions-sweep-batch-timeouts": _every(
            "sessions_app.sweep_batch_timeouts", BATCH_TIMEOUT_SWEEP_INTERVAL, "manager"
        ),
        # idle checks (network timeout, session lifetime, utilization); an overlap is harmless
        "sessions-idle-check": _every(
            "sessions_app.sessions_idle_check", config.idle.check_interval, "manager"
        ),
        # running kernels' time written to the usage ledger (an ended kernel's at once)
        "sessions-usage-record": _every(
            "sessions_app.usage_intervals_record", config.usage.record_interval, "manager"
        ),
        # folder usage re-measured from disk (files written inside sessions), stale partial
        # uploads removed
        "storage-usage-refresh": _every(
            "storage_app.vfolders_usage_refresh", config.storage.usage_refresh_interval, "manager"
        ),
        # audit log rows older than `audit.retention_days` deleted in bounded batches
        "audit-log-purge": _every("audit.audit_log_purge", config.audit.purge_interval, "manager"),
    }
