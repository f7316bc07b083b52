"""The scheduler: one pass per resource group (docs/design/0002-scheduler.md).

Public API:
- `runner.schedule_resource_group(resource_group_id) -> PassReport`
- `hints.scheduler_hint(resource_group_id)` (on commit, debounced)
- `allocation.kernel_release_resources(kernel_id) -> bool`
- `hooks.on_sessions_scheduled(callback)`
"""
