"""AgentConfig: the agent daemon's settings (env prefix `BAI_AGENT_`, optional TOML file).

The TOML file is named by `BAI_AGENT_CONFIG_FILE` (or `run_agent --config`); environment
variables win over it. Declared capacity lets several agents split one machine:

    BAI_AGENT_ID=i-left BAI_AGENT_CPU_IDS='[0]' BAI_AGENT_CAPACITY='{"mem": "4g"}'
    BAI_AGENT_ID=i-right BAI_AGENT_CPU_IDS='[1]' BAI_AGENT_CAPACITY='{"mem": "4g"}'
"""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from backendai_site.common.resource_slot import (
    InvalidResourceSlot,
    ResourceSlot,
    parse_binary_size,
)
from backendai_site.config import EnvThenTomlSettings

CONFIG_FILE_ENV = "BAI_AGENT_CONFIG_FILE"


def detect_cpu_ids() -> list[int]:
    """The CPUs this process may run on (cgroup/affinity aware)."""
    return sorted(os.sched_getaffinity(0))


def detect_memory_bytes() -> int:
    """MemTotal from /proc/meminfo, in bytes."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("MemTotal is missing from /proc/meminfo")


def _default_agent_id() -> str:
    return f"i-{socket.gethostname()}"


class MockAcceleratorConfig(BaseModel):
    devices: int = Field(default=0, ge=0, description="Fake CUDA devices; 0 disables the mock.")
    shares_per_device: Decimal = Field(default=Decimal(1), gt=0)


class AgentConfig(EnvThenTomlSettings):
    model_config = SettingsConfigDict(env_prefix="BAI_AGENT_", extra="ignore")
    config_file_env: ClassVar[str] = CONFIG_FILE_ENV

    id: str = Field(default_factory=_default_agent_id, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    resource_group: str = "default"
    advertised_host: str = "127.0.0.1"
    port_range: tuple[int, int] = (30000, 31000)
    cpu_ids: list[int] | None = Field(
        default=None, description="CPUs kernels are pinned to; default: this process's affinity."
    )
    capacity: dict[str, str] = Field(
        default_factory=dict,
        description='Declared capacity, e.g. {"cpu": "2", "mem": "4g"}; missing slots detected.',
    )
    exclusive_cpus: bool = Field(
        default=True,
        description="Pin each kernel to CPUs of its own; false lets kernels share the CPU ids "
        "(least used first), so a declared cpu capacity above the CPU count can be used.",
    )
    reserved_mem: str = Field(
        default="0", description="Memory kept back for the host when `mem` is detected."
    )
    scratch_root: Path = Field(default_factory=lambda: Path("/tmp/bai-scratch"))
    scratch_limit: str = Field(
        default="10g",
        description="Most bytes a kernel's scratch folder (/home/work) may hold, e.g. 10g; a "
        "kernel past it is destroyed (reason scratch-limit-exceeded). 0: no limit.",
    )
    scratch_check_interval: float = Field(
        default=30.0, gt=0, description="Seconds between scratch usage checks."
    )
    kernel_network: str = Field(
        default="bai-kernels",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="Bridge network of single-kernel sessions (inter-container traffic off).",
    )
    docker_socket: str = "unix:///var/run/docker.sock"
    heartbeat_interval: float = Field(default=5.0, gt=0)
    concurrency: int = Field(default=4, ge=1, description="Threads running agent commands.")
    stop_timeout: float = Field(default=10.0, ge=0, description="Seconds to let a kernel stop.")
    mock_accelerator: MockAcceleratorConfig = Field(default_factory=MockAcceleratorConfig)
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port of /metrics on 127.0.0.1; off when unset."
    )
    version: str = "0.1.0"

    @field_validator("port_range")
    @classmethod
    def _check_port_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 1024 <= low <= high <= 65535:
            raise ValueError("must be two ports, low <= high, within 1024..65535")
        return value

    @field_validator("scratch_limit")
    @classmethod
    def _check_scratch_limit(cls, value: str) -> str:
        try:
            parse_binary_size(value)
        except InvalidResourceSlot as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("capacity")
    @classmethod
    def _check_capacity(cls, value: dict[str, str]) -> dict[str, str]:
        ResourceSlot.parse(value)  # raises a clear error on nonsense
        return value

    @model_validator(mode="after")
    def _check_cpus(self) -> AgentConfig:
        available = set(detect_cpu_ids())
        if self.cpu_ids is not None:
            if not self.cpu_ids:
                raise ValueError("cpu_ids must name at least one CPU")
            missing = set(self.cpu_ids) - available
            if missing:
                raise ValueError(f"cpu_ids {sorted(missing)} are not available to this process")
        return self

    # derived -------------------------------------------------------------------------------------
    def effective_cpu_ids(self) -> list[int]:
        return list(self.cpu_ids) if self.cpu_ids is not None else detect_cpu_ids()

    def declared_capacity(self) -> ResourceSlot:
        """cpu and mem always present: declared, else detected (cpu = pinned CPU count)."""
        declared = ResourceSlot.parse(self.capacity)
        cpu = declared.get("cpu", Decimal(len(self.effective_cpu_ids())))
        if "mem" in declared:
            mem = declared["mem"]
        else:
            reserved = ResourceSlot.parse({"mem": self.reserved_mem})["mem"]
            mem = max(Decimal(detect_memory_bytes()) - reserved, Decimal(0))
        extra = {k: v for k, v in declared.items() if k not in ("cpu", "mem")}
        return ResourceSlot({"cpu": cpu, "mem": mem, **extra})

    def scratch_limit_bytes(self) -> int | None:
        limit = int(parse_binary_size(self.scratch_limit))
        return limit if limit > 0 else None

    def scratch_dir(self) -> Path:
        return self.scratch_root / self.id

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource_group": self.resource_group,
            "advertised_host": self.advertised_host,
            "cpu_ids": self.effective_cpu_ids(),
            "capacity": self.declared_capacity().to_humanized(),
        }
