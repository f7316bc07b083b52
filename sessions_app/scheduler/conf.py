"""Scheduler settings (env prefix `BAI_SCHEDULER_`), read once by settings.py."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAI_SCHEDULER_", extra="ignore")

    backstop_interval: float = Field(
        default=5.0, gt=0, description="Seconds between two beat passes over every active group."
    )
    hint_debounce: float = Field(
        default=0.05, ge=0, description="Countdown of a hinted pass; hints within it are merged."
    )
