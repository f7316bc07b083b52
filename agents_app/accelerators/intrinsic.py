"""The intrinsic `cpu` (count) and `mem` (bytes) slots.

CPU pinning itself (which core ids) is the Docker runtime's CpuPool; these plugins keep the
agent's declared capacity and refuse requests beyond what is free on this agent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents_app.enums import SlotType
from backendai_site.common.resource_slot import ResourceSlot

from .base import Allocation, ContainerArgs, InsufficientResource


class _CountingPlugin:
    key = ""
    slot_type = SlotType.COUNT

    def __init__(self, capacity: Decimal) -> None:
        self._capacity = capacity
        self._allocated: dict[str, Decimal] = {}

    def slot_types(self) -> dict[str, SlotType]:
        return {self.key: self.slot_type}

    def capacity(self) -> dict[str, Decimal]:
        return {self.key: self._capacity}

    def used(self) -> Decimal:
        return sum(self._allocated.values(), Decimal(0))

    def info(self) -> dict[str, Any]:
        return {"capacity": str(self._capacity), "used": str(self.used())}

    def allocate(self, kernel_id: str, requested: ResourceSlot) -> Allocation:
        if kernel_id in self._allocated:
            return Allocation(self.key, {self.key: self._allocated[kernel_id]})
        amount = requested.get_or_zero(self.key)
        if amount <= 0:
            raise InsufficientResource(f"a kernel needs a positive amount of {self.key}")
        free = self._capacity - self.used()
        if amount > free:
            raise InsufficientResource(f"{self.key}: requested {amount}, {free} free")
        self._allocated[kernel_id] = amount
        return Allocation(self.key, {self.key: amount})

    def restore(self, kernel_id: str, allocation: Allocation) -> None:
        self._allocated[kernel_id] = allocation.slots.get(self.key, Decimal(0))

    def release(self, kernel_id: str) -> None:
        self._allocated.pop(kernel_id, None)

    def container_args(self, allocation: Allocation) -> ContainerArgs:
        return ContainerArgs()


class CpuPlugin(_CountingPlugin):
    key = "cpu"
    slot_type = SlotType.COUNT


class MemoryPlugin(_CountingPlugin):
    key = "mem"
    slot_type = SlotType.BYTES
