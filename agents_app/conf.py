"""Manager-side settings of the agents app, built by settings.py from SiteConfig's `agents_*`
fields (env `BAI_AGENTS_*`; SiteConfig stays the only reader of the environment).

The agent daemon has its own configuration (agents_app/agent/config.py, prefix `BAI_AGENT_`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AgentsManagerSettings(BaseModel):
    lost_timeout: float = Field(
        default=30.0, gt=0, description="Seconds without a heartbeat before an agent is LOST."
    )
    sweep_interval: float = Field(
        default=10.0, gt=0, description="Seconds between two runs of the LOST sweep (beat)."
    )
    command_reply_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for an agent's reply to a call."
    )
