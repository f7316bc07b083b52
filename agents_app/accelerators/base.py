"""The compute plugin interface and the set of plugins an agent runs with."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from agents_app.enums import SlotType
from backendai_site.common.errors import Conflict
from backendai_site.common.resource_slot import ResourceSlot


class InsufficientResource(Conflict):
    error_type = "insufficient-resource"
    title = "The agent does not have enough of a resource."


@dataclass(frozen=True, slots=True)
class Allocation:
    """What one plugin gave one kernel: amounts per slot and plugin-specific detail (devices)."""

    plugin: str
    slots: dict[str, Decimal]
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "slots": {name: str(amount) for name, amount in self.slots.items()},
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Allocation:
        return cls(
            plugin=str(raw["plugin"]),
            slots={name: Decimal(amount) for name, amount in raw.get("slots", {}).items()},
            detail=dict(raw.get("detail", {})),
        )


@dataclass(slots=True)
class ContainerArgs:
    """What allocations add to a container (merged across plugins)."""

    environ: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def merge(self, other: ContainerArgs) -> None:
        self.environ.update(other.environ)
        self.labels.update(other.labels)


class AcceleratorPlugin(Protocol):
    key: str

    def slot_types(self) -> dict[str, SlotType]: ...

    def capacity(self) -> dict[str, Decimal]: ...

    def info(self) -> dict[str, Any]: ...

    def allocate(self, kernel_id: str, requested: ResourceSlot) -> Allocation: ...

    def restore(self, kernel_id: str, allocation: Allocation) -> None: ...

    def release(self, kernel_id: str) -> None: ...

    def container_args(self, allocation: Allocation) -> ContainerArgs: ...


class PluginSet:
    """The agent's plugins; allocates a kernel's request across them atomically."""

    def __init__(self, plugins: Iterable[AcceleratorPlugin]) -> None:
        self.plugins = {plugin.key: plugin for plugin in plugins}
        self._lock = threading.Lock()
        self._owner: dict[str, str] = {}
        for plugin in self.plugins.values():
            for slot_name in plugin.slot_types():
                if slot_name in self._owner:
                    raise ValueError(f"slot {slot_name} is declared by two plugins")
                self._owner[slot_name] = plugin.key

    def slot_types(self) -> dict[str, SlotType]:
        return {k: v for plugin in self.plugins.values() for k, v in plugin.slot_types().items()}

    def capacity(self) -> ResourceSlot:
        return ResourceSlot(
            (k, v) for plugin in self.plugins.values() for k, v in plugin.capacity().items()
        )

    def info(self) -> dict[str, dict[str, Any]]:
        return {key: plugin.info() for key, plugin in self.plugins.items()}

    def allocate(self, kernel_id: str, requested: ResourceSlot) -> list[Allocation]:
        """One allocation per plugin with a non-zero request; all or nothing."""
        unknown = [name for name, amount in requested.items() if amount and name not in self._owner]
        if unknown:
            raise InsufficientResource(f"this agent has no slot {', '.join(sorted(unknown))}")
        done: list[Allocation] = []
        with self._lock:
            try:
                for key, plugin in self.plugins.items():
                    mine = ResourceSlot(
                        (name, amount)
                        for name, amount in requested.items()
                        if self._owner.get(name) == key and amount
                    )
                    if mine or key in ("cpu", "mem"):
                        done.append(plugin.allocate(kernel_id, mine))
            except Exception:
                for allocation in done:
                    self.plugins[allocation.plugin].release(kernel_id)
                raise
        return done

    def restore(self, kernel_id: str, allocations: Iterable[Allocation]) -> None:
        with self._lock:
            for allocation in allocations:
                if (plugin := self.plugins.get(allocation.plugin)) is not None:
                    plugin.restore(kernel_id, allocation)

    def release(self, kernel_id: str) -> None:
        with self._lock:
            for plugin in self.plugins.values():
                plugin.release(kernel_id)

    def container_args(self, allocations: Iterable[Allocation]) -> ContainerArgs:
        args = ContainerArgs()
        for allocation in allocations:
            if (plugin := self.plugins.get(allocation.plugin)) is not None:
                args.merge(plugin.container_args(allocation))
        return args
