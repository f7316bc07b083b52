"""A mock CUDA accelerator: N fake devices, so GPU scheduling is testable without GPUs.

Slots: `cuda.device` (whole devices) and `cuda.shares` (fractions of devices, each device holding
`shares_per_device`). The devices a kernel got are named inside its container in
`BAI_MOCK_CUDA_DEVICES` ("0,2") and, for shares, `BAI_MOCK_CUDA_SHARES` ("0:0.5,1:0.25").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents_app.enums import SlotType
from backendai_site.common.resource_slot import ResourceSlot

from .base import Allocation, ContainerArgs, InsufficientResource

DEVICES_ENV = "BAI_MOCK_CUDA_DEVICES"
SHARES_ENV = "BAI_MOCK_CUDA_SHARES"


class MockCudaPlugin:
    key = "cuda"

    def __init__(self, devices: int, shares_per_device: Decimal = Decimal(1)) -> None:
        if devices < 0 or shares_per_device <= 0:
            raise ValueError("mock accelerator: devices >= 0 and shares_per_device > 0")
        self.device_ids = [str(index) for index in range(devices)]
        self.shares_per_device = shares_per_device
        # kernel id -> {device id: shares}; a whole device holds shares_per_device
        self._held: dict[str, dict[str, Decimal]] = {}
        self._whole: dict[str, list[str]] = {}

    def slot_types(self) -> dict[str, SlotType]:
        return {"cuda.device": SlotType.COUNT, "cuda.shares": SlotType.COUNT}

    def capacity(self) -> dict[str, Decimal]:
        count = Decimal(len(self.device_ids))
        return {"cuda.device": count, "cuda.shares": count * self.shares_per_device}

    def info(self) -> dict[str, Any]:
        return {
            "mock": True,
            "devices": self.device_ids,
            "shares_per_device": str(self.shares_per_device),
            "free_shares": {dev: str(self._free(dev)) for dev in self.device_ids},
        }

    def _free(self, device_id: str) -> Decimal:
        taken = sum((held.get(device_id, Decimal(0)) for held in self._held.values()), Decimal(0))
        return self.shares_per_device - taken

    def allocate(self, kernel_id: str, requested: ResourceSlot) -> Allocation:
        if kernel_id in self._held:
            return self._allocation(kernel_id)
        devices = requested.get_or_zero("cuda.device")
        shares = requested.get_or_zero("cuda.shares")
        if devices != devices.to_integral_value():
            raise InsufficientResource("cuda.device must be a whole number")
        held: dict[str, Decimal] = {}
        whole: list[str] = []
        free_whole = [dev for dev in self.device_ids if self._free(dev) == self.shares_per_device]
        if devices > len(free_whole):
            raise InsufficientResource(f"cuda.device: requested {devices}, {len(free_whole)} free")
        for dev in free_whole[: int(devices)]:
            whole.append(dev)
            held[dev] = self.shares_per_device
        remaining = shares
        # fill the fullest devices first so whole devices stay free (concentrated)
        for dev in sorted(self.device_ids, key=lambda d: (self._free(d), d)):
            if remaining <= 0:
                break
            if dev in held:
                continue
            take = min(self._free(dev), remaining)
            if take > 0:
                held[dev] = take
                remaining -= take
        if remaining > 0:
            raise InsufficientResource(f"cuda.shares: requested {shares}, not enough free")
        self._held[kernel_id] = held
        self._whole[kernel_id] = whole
        return self._allocation(kernel_id)

    def _allocation(self, kernel_id: str) -> Allocation:
        held = self._held[kernel_id]
        whole = self._whole.get(kernel_id, [])
        shares = sum((v for k, v in held.items() if k not in whole), Decimal(0))
        return Allocation(
            self.key,
            {"cuda.device": Decimal(len(whole)), "cuda.shares": shares},
            {"devices": {dev: str(amount) for dev, amount in sorted(held.items())}, "whole": whole},
        )

    def restore(self, kernel_id: str, allocation: Allocation) -> None:
        devices = allocation.detail.get("devices", {})
        self._held[kernel_id] = {dev: Decimal(amount) for dev, amount in devices.items()}
        self._whole[kernel_id] = list(allocation.detail.get("whole", []))

    def release(self, kernel_id: str) -> None:
        self._held.pop(kernel_id, None)
        self._whole.pop(kernel_id, None)

    def container_args(self, allocation: Allocation) -> ContainerArgs:
        devices: dict[str, str] = allocation.detail.get("devices", {})
        if not devices:
            return ContainerArgs()
        return ContainerArgs(
            environ={
                DEVICES_ENV: ",".join(sorted(devices)),
                SHARES_ENV: ",".join(f"{dev}:{amount}" for dev, amount in sorted(devices.items())),
            }
        )
