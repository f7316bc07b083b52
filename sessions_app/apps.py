from __future__ import annotations

from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions"

    def ready(self) -> None:
        """Subscribe to agent events and to the scheduler's start hook."""
        from agents_app import events
        from sessions_app.scheduler.hooks import on_sessions_left_pending, on_sessions_scheduled
        from sessions_app.services import commit, idle, lifecycle, mounts, warm_pools
        from storage_app.services.usage_hooks import mount_users_checker_register

        events.subscribe("kernel_started", lifecycle.on_kernel_started)
        events.subscribe("kernel_terminated", lifecycle.on_kernel_terminated)
        events.subscribe("kernel_creation_failed", lifecycle.on_kernel_creation_failed)
        events.subscribe("agent_lost", lifecycle.on_agent_lost)
        events.subscribe("kernel_stats", idle.kernel_stats_record)
        events.subscribe("kernel_commit_updated", commit.on_kernel_commit_updated)
        events.subscribe("kernel_committed", commit.on_kernel_committed)
        events.subscribe("kernel_started", warm_pools.on_kernel_started)
        events.subscribe("kernel_terminated", warm_pools.on_kernel_terminated)
        events.subscribe("kernel_creation_failed", warm_pools.on_kernel_creation_failed)
        events.subscribe("agent_lost", warm_pools.on_agent_lost)
        events.set_kernel_ownership_resolver(warm_pools.unknown_kernels_outside_pools)
        on_sessions_left_pending(warm_pools.warm_pools_evict_hint)
        on_sessions_scheduled(lifecycle.sessions_start)
        mount_users_checker_register(mounts.vfolder_mount_users)
