"""Scheduler settings, built by settings.py from SiteConfig's `scheduler_*` fields
(env `BAI_SCHEDULER_*`; SiteConfig stays the only reader of the environment)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SchedulerSettings(BaseModel):
    backstop_interval: float = Field(
        default=5.0, gt=0, description="Seconds between two beat passes over every active group."
    )
    hint_debounce: float = Field(
        default=0.0, ge=0, description="Countdown of a hinted pass; hints within it are merged."
    )
